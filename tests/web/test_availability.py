"""Availability during opening hours as the site page shows it (fleet.audit.availability), on
histories written by the real monitoring engine: an outage lowers it, unless it falls in
maintenance or closed hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleet.audit.availability import for_period, site_summary
from fleet.incidents import add_window
from fleet.inventory.models import WEEKDAYS, OpeningHours, OpeningRange, Site
from fleet.monitor.cycle import apply_samples
from fleet.monitor.rules_file import load_rules
from fleet.store import Store, open_store
from tests.incidents.samples import REPO, demo_inventory, make_site, site_samples

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday


def site_availability(store: Store, site: Site, start: datetime, end: datetime) -> float | None:
    """The site page's figure (fleet.web.views): every device pooled."""
    return site_summary(for_period(store, site, site.devices, start, end))["percent"]


def _history(store: Store, site: Site, down_from: datetime, down_to: datetime) -> None:
    rules = load_rules(REPO / "monitoring" / "rules.yml")
    at = T0
    while at < T0 + timedelta(hours=24):
        down = {site.devices[0].hostname} if down_from <= at < down_to else set()
        apply_samples(store, [site], site_samples(site.devices, at, down=down), rules, at)
        at += timedelta(minutes=10)


@pytest.fixture
def fresh(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path}/a.sqlite")


def _site(hours: tuple[int, int] | None = None) -> Site:
    devices = demo_inventory().site("florac-fs").devices[3:5]  # two PCs
    site = make_site(devices, "avail")
    if hours is not None:
        rng = (OpeningRange(start=hours[0] * 60, end=hours[1] * 60),)
        site = site.model_copy(
            update={"hours": OpeningHours(timezone="UTC", week=dict.fromkeys(WEEKDAYS, rng))}
        )
    return site


def test_an_outage_in_opening_hours_lowers_availability(fresh: Store) -> None:
    site = _site()
    _history(fresh, site, T0 + timedelta(hours=10), T0 + timedelta(hours=12))
    value = site_availability(fresh, site, T0, T0 + timedelta(hours=24))
    assert value is not None and 90 < value < 97  # one PC of two down about 2 hours of 24


def test_maintenance_and_closed_hours_do_not_count(fresh: Store, tmp_path: Path) -> None:
    site = _site()
    _history(fresh, site, T0 + timedelta(hours=10), T0 + timedelta(hours=12))
    add_window(fresh, device=site.devices[0].hostname, start=T0 + timedelta(hours=9, minutes=50),
               end=T0 + timedelta(hours=12, minutes=30), who="t", why="w", now=T0)  # fmt: skip
    assert site_availability(fresh, site, T0, T0 + timedelta(hours=24)) == 100.0
    closed = _site(hours=(13, 18))  # open 13:00-18:00 only: the 10:00-12:00 outage was at night
    other = open_store(f"sqlite:///{tmp_path}/b.sqlite")
    _history(other, closed, T0 + timedelta(hours=10), T0 + timedelta(hours=12))
    assert site_availability(other, closed, T0, T0 + timedelta(hours=24)) == 100.0
    assert site_availability(other, closed, T0 - timedelta(days=3), T0) is None  # nothing measured
    other.dispose()
