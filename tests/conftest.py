"""Shared test configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's own FLEET_* environment."""
    for key in list(os.environ):
        if key.startswith("FLEET_"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture
def repo() -> Path:
    return REPO
