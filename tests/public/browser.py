"""Debian's Chromium driven by Playwright (never a downloaded browser), and axe-core.

``axe_violations(page)`` runs axe-core (npm package, installed by scripts/bootstrap.sh into
.venv/axe) in the page and returns the serious and critical violations."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.public.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
AXE = REPO / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("RELAIS_SCREENSHOTS", REPO / "var" / "screenshots" / "public"))


def require_browser() -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} missing: ci/apt-packages.txt installs chromium")
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: scripts/bootstrap.sh installs axe-core from the npm registry")


@contextmanager
def browser(executable: str = CHROMIUM, args: tuple[str, ...] = ()) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable,
                               args=["--no-sandbox", "--disable-gpu", *args])
        try:
            yield b
        finally:
            b.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    # evaluated through the automation channel, as a page script would be refused by the CSP
    page.evaluate("(src) => { (0, eval)(src); }", AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} — "
                     f"{[n['target'] for n in v['nodes']][:3]}" for v in violations)


def screenshot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
