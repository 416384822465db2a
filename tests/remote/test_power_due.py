"""Which scheduled stations are due a wake (``fleet.remote.power.due``), on florac-fs's real
schedule (closed at night, woken ``wake_before`` minutes before opening), against a store."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fleet.inventory import load_inventory
from fleet.inventory.models import Site
from fleet.remote.power import due
from fleet.remote.record import record_device_action
from fleet.store import Store, open_store

REPO = Path(__file__).resolve().parents[2]
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def site() -> Site:
    s = load_inventory(REPO / "inventory").site("florac-fs")
    assert s.power is not None
    return s


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path}/fleet.sqlite")


def _first_due(site: Site, store: Store) -> datetime:
    """The first minute of Tuesday 24 November 2026 at which something is due."""
    t = datetime(2026, 11, 24, 6, 0, tzinfo=PARIS)
    while not due(store, [site], t):
        t += timedelta(minutes=1)
        assert t.hour < 12, "nothing due on a Tuesday morning"
    return t


def _woken(store: Store, site: Site, host: str, at: datetime) -> None:
    record_device_action(store, device=host, site_id=site.id, at=at, actor="marie", action="wake",
                         outcome="changed", detail="wake", data={})


def test_each_scheduled_station_is_due_once_per_opening(site: Site, store: Store) -> None:
    t = _first_due(site, store)
    hosts = sorted(d.device.hostname for d in due(store, [site], t))
    assert hosts and not due(store, [site], t - timedelta(minutes=1))
    for h in hosts:
        _woken(store, site, h, t)
    assert due(store, [site], t + timedelta(minutes=1)) == []


def test_a_wake_recorded_after_the_clock_is_not_this_openings(site: Site, store: Store) -> None:
    """A wake the hotline sent "now" (30 November) is not a wake of the 24th's opening when the
    engine runs with an injected clock (the lab's power test, a replay): it still counts only
    what happened between the wake instant and the clock."""
    t = _first_due(site, store)
    hosts = sorted(d.device.hostname for d in due(store, [site], t))
    _woken(store, site, hosts[0], datetime(2026, 11, 30, 10, 0, tzinfo=PARIS))
    assert sorted(d.device.hostname for d in due(store, [site], t)) == hosts
