from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fleet.errors import InventoryError, Problem
from fleet.inventory import Inventory, load_inventory

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def inv_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo inventory (and roles/, for role variable prefixes).

    The working directory is tmp_path so that error paths read 'inventory/sites/...'."""
    shutil.copytree(REPO / "inventory", tmp_path / "inventory", symlinks=True)
    shutil.copy2(REPO / "vault-password", tmp_path / "vault-password")
    if (REPO / "roles").is_dir():
        shutil.copytree(REPO / "roles", tmp_path / "roles", symlinks=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "inventory"


Edit = Callable[[str, str, str], None]


@pytest.fixture
def edit(inv_dir: Path) -> Edit:
    """edit(relative_file, old, new): replace exactly one occurrence in an inventory file."""

    def _edit(rel: str, old: str, new: str) -> None:
        path = inv_dir / rel
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    return _edit


def problems_of(inv_dir: Path) -> list[Problem]:
    with pytest.raises(InventoryError) as info:
        load_inventory(inv_dir)
    return list(info.value.problems)


def load_ok(inv_dir: Path) -> Inventory:
    return load_inventory(inv_dir)


def line_no(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")
