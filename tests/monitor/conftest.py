"""Fixtures of the poller tests: one snmpsim serving every copied recording for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.monitor.profiles import Profile, load_profiles
from tests.monitor.agents import FIXTURES, Agent, snmpsim

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def corpus_agent() -> Iterator[Agent]:
    """snmpsim on 127.0.0.1:<free port>; community = ``<category>/<recording name>``."""
    with snmpsim(FIXTURES, "printers/sharp") as agent:
        yield agent


@pytest.fixture(scope="session")
def profiles() -> dict[str, Profile]:
    return load_profiles(REPO / "monitoring" / "profiles")
