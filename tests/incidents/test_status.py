"""The status of sites and devices (fleet.incidents.status): what the CLI and the dashboard show."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from fleet.incidents import status as status_module
from fleet.incidents.status import site_status
from fleet.inventory.hours import is_open
from fleet.store import open_store
from tests.incidents.samples import demo_inventory


def test_a_site_status_carries_its_timezone_and_open_comes_from_the_hours_module(tmp_path: Path) -> None:
    inv = demo_inventory()
    sites = [inv.site("florac-fs"), next(s for s in inv.sites if s.timezone == "Pacific/Noumea")]
    store = open_store(f"sqlite:///{tmp_path}/s.sqlite")
    try:
        # Monday 2026-11-23, 10:00 in Paris: 20:00 in Nouméa
        now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        result = site_status(store, sites, now)
    finally:
        store.dispose()
    assert [s.timezone for s in result] == ["Europe/Paris", "Pacific/Noumea"]
    assert [s.to_json()["timezone"] for s in result] == ["Europe/Paris", "Pacific/Noumea"]
    assert [s.open for s in result] == [is_open(site, now) for site in sites]


def test_open_now_is_answered_by_the_one_function_of_the_hours_module() -> None:
    tree = ast.parse(Path(status_module.__file__).read_text("utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                and n.module == "fleet.inventory.hours" for a in n.names}
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert "is_open" in imported and "intervals" not in imported
    assert not any("open" in name and name not in {"site_status"} for name in defined), defined
