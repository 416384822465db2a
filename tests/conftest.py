"""Shared test configuration."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from fleet.lab.lock import lab_lock

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
