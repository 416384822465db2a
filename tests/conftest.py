"""Shared test configuration."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from fleet.lab.lock import lab_lock
from fleet.lab.pytest_plugin import lab_site  # noqa: F401  (session fixture: defined once, here)
from tests.deployed import deployed_site  # noqa: F401  (session fixture: defined once, here)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read the developer's own FLEET_* environment, and never write the machine's
    state directory (/var/lib/relais): each test has its own."""
    for key in list(os.environ):
        if key.startswith("FLEET_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("FLEET_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    # Tests read the CLI's messages in English, whatever this machine's locale; the tests of the
    # languages themselves (tests/cli, tests/test_i18n.py) choose theirs, French included.
    monkeypatch.setenv("FLEET_LANG", "en")


@pytest.fixture
def repo() -> Path:
    return REPO


_LAB_LOCK = pytest.StashKey[contextlib.ExitStack]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """One lab run at a time: a session that selected lab tests holds the lab lock throughout
    (``fleet.lab.lock``; a run started under ``flock /tmp/relais-lab.lock`` already holds it)."""
    if os.geteuid() == 0 and any(item.get_closest_marker("lab") for item in session.items):
        stack = contextlib.ExitStack()
        stack.enter_context(lab_lock())
        session.config.stash[_LAB_LOCK] = stack


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_LAB_LOCK, None)
    if stack is not None:
        stack.close()


def _lab_phase(item: pytest.Item) -> int:
    """0: not a lab test; 1: a lab test of the site as it comes from the factory (or of a
    site of its own); 2: a lab test of the deployed site (``deployed_site``); 3: a module
    that replaces the site (``REPLACES_THE_SITE = True``: fresh deploys), last."""
    if item.get_closest_marker("lab") is None:
        return 0
    module = getattr(item, "module", None)
    if getattr(module, "REPLACES_THE_SITE", False):
        return 3
    return 2 if "deployed_site" in getattr(item, "fixturenames", ()) else 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One lab site per session, deployed at most once: the tests of the factory-fresh site
    run before the first deploy, the modules that replace the site after everything else
    (a stable sort: the order within a phase is the collection's)."""
    items.sort(key=_lab_phase)
