"""Shared fixtures of the gateway tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_LISTS = REPO / "blocklists"


@pytest.fixture
def sample_lists() -> Path:
    return SAMPLE_LISTS
