"""Fixtures of the audit tests: the demo inventory (read once) and stores of every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.inventory import Inventory, load_inventory
from tests.store.conftest import pg_server, pg_template, store, store_url  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def inventory() -> Inventory:
    return load_inventory(REPO / "inventory")
