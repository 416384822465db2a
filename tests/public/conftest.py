"""Fixtures of the public-facing features (issue 17): start page, end-of-session question,
hall screen, visio-guichet.  The lab fixtures live in :mod:`tests.public.lab`."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOUMEA = "sites/noumea-ps.yml"


@pytest.fixture
def inv_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo inventory and roles; errors read 'inventory/sites/...'."""
    shutil.copytree(REPO / "inventory", tmp_path / "inventory", symlinks=True)
    shutil.copy2(REPO / "vault-password", tmp_path / "vault-password")
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
