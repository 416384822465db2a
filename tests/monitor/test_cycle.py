"""The cycle glue on the demo inventory: samples -> rules -> store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from fleet.errors import ConfigError
from fleet.incidents import add_window, list_incidents, resolve
from fleet.inventory import Inventory
from fleet.inventory.hours import open_state
from fleet.inventory.models import Device, Site
from fleet.monitor import poller
from fleet.monitor.cycle import (
    apply_samples,
    offset_clock,
    ordered,
    parents_of,
    parse_shard,
    run_cycle,
    sites_of_shard,
)
from fleet.monitor.rules_file import load_rules
from fleet.monitor.ruleset import RuleSet
from fleet.store import Store, record_deploy
from fleet.store.models import DeviceEvent, Observation, StateChange
from tests.incidents.samples import REPO, demo_inventory, site_samples
from tests.store.conftest import pg_server, pg_template, store, store_url

__all__ = ["pg_server", "pg_template", "store", "store_url"]

# Monday 23 November 2026; Florac (Europe/Paris, UTC+1) opens 09:00-12:00 and 13:30-17:00.
OPEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 local
NIGHT = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 23:00 local
NEXT_OPENING = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # Tuesday 09:00 local
MIN = timedelta(minutes=1)


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return demo_inventory()


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(REPO / "monitoring" / "rules.yml")


@pytest.fixture(scope="module")
def florac(inventory: Inventory) -> Site:
    return inventory.site("florac-fs")


def dev(site: Site, suffix: str) -> Device:
    return next(d for d in site.devices if d.hostname == f"{site.id}-{suffix}")


def cycles(store: Store, rules: RuleSet, site: Site, start: datetime, n: int, **kw: object) -> datetime:
    t = start
    for _ in range(n):
        apply_samples(store, [site], site_samples(site.devices, t, **kw), rules, t)  # type: ignore[arg-type]
        t += MIN
    return t


def observation(store: Store, host: str, check: str = "reachability") -> SimpleNamespace:
    with store.read() as session:
        row = session.get(Observation, (host, check))
        assert row is not None
        return SimpleNamespace(status=row.status, reason=row.reason, suppressed=row.suppressed)


def test_stopped_agent_opens_after_n_cycles_and_auto_resolves(
    store: Store, rules: RuleSet, florac: Site
) -> None:
    pc = dev(florac, "pc2").hostname
    t = cycles(store, rules, florac, OPEN, 2)
    t = cycles(store, rules, florac, t, 2, down={pc})
    assert list_incidents(store) == [], "only 2 failures: not yet"
    t = cycles(store, rules, florac, t, 1, down={pc})
    [inc] = list_incidents(store)
    assert (inc.device, inc.check, inc.reason, inc.severity) == (pc, "reachability", "no_answer", "major")
    t = cycles(store, rules, florac, t, 5, down={pc})
    assert len(list_incidents(store)) == 1, "still one incident while it stays down"
    t = cycles(store, rules, florac, t, 2)
    assert list_incidents(store) == []
    [done] = list_incidents(store, statuses=None)
    assert done.status == "resolved" and done.resolved_by == "monitor"
    with store.read() as session:
        changes = session.execute(
            select(StateChange.from_status, StateChange.to_status)
            .where(StateChange.device == pc, StateChange.check == "reachability")
            .order_by(StateChange.id)
        ).all()
    assert [tuple(c) for c in changes] == [("unknown", "up"), ("up", "down"), ("down", "up")]


def test_gateway_down_is_one_site_incident(store: Store, rules: RuleSet, florac: Site) -> None:
    everyone = {d.hostname for d in florac.devices}
    t = cycles(store, rules, florac, OPEN, 1)
    cycles(store, rules, florac, t, 6, down=everyone)
    [inc] = list_incidents(store)
    assert inc.device == "florac-fs-gw" and inc.root_cause
    assert inc.severity == "critical"
    assert inc.title.startswith("Site France Services de Florac-Trois-Rivières injoignable")
    for d in florac.devices:
        if d.hostname != "florac-fs-gw":
            obs = observation(store, d.hostname)
            assert (obs.status, obs.reason, obs.suppressed) == ("down", "parent_down", "parent")


def test_switch_down_hides_the_devices_behind_it_but_not_the_gateway(
    store: Store, rules: RuleSet, florac: Site
) -> None:
    behind = {d.hostname for d in florac.devices if d.kind.value not in ("gateway",)}
    t = cycles(store, rules, florac, OPEN, 1)
    cycles(store, rules, florac, t, 4, down=behind)
    [inc] = list_incidents(store)
    assert inc.device == "florac-fs-sw1" and inc.root_cause
    assert observation(store, "florac-fs-gw").status == "up"


def test_closed_site_at_night_opens_nothing_then_not_back_at_opening(
    store: Store, rules: RuleSet, florac: Site
) -> None:
    pc = dev(florac, "pc1").hostname
    assert not open_state(florac, NIGHT).open
    t = cycles(store, rules, florac, NIGHT, 1)
    cycles(store, rules, florac, t, 10, down={pc})
    assert list_incidents(store) == []
    assert observation(store, pc).suppressed == "closed"
    opening = open_state(florac, NEXT_OPENING + MIN)
    assert opening.open and opening.since == NEXT_OPENING
    cycles(store, rules, florac, NEXT_OPENING, 25, down={pc})
    assert list_incidents(store) == [], "within the grace period after opening"
    cycles(store, rules, florac, NEXT_OPENING + timedelta(minutes=31), 1, down={pc})
    [inc] = list_incidents(store)
    assert (inc.device, inc.reason) == (pc, "not_back_at_opening")


def test_kiosk_process_killed_opens_a_kiosk_incident(store: Store, rules: RuleSet, florac: Site) -> None:
    borne = dev(florac, "borne1").hostname
    t = cycles(store, rules, florac, OPEN, 1)
    cycles(store, rules, florac, t, 2, override={borne: {"proc_running:chromium": 0}})
    [inc] = list_incidents(store)
    assert (inc.device, inc.check, inc.severity) == (borne, "kiosk", "critical")


def test_printer_jam_and_low_toner(store: Store, rules: RuleSet, florac: Site) -> None:
    prn = dev(florac, "prn1").hostname
    t = cycles(store, rules, florac, OPEN, 1)
    cycles(store, rules, florac, t, 1,
           override={prn: {"printer_error:jammed": 1, "printer_error:low_toner": 1}})  # fmt: skip
    got = {(i.check, i.reason) for i in list_incidents(store)}
    assert got == {("printer_jam", "jammed"), ("toner", "low_toner")}


def test_site_maintenance_window_opens_nothing(store: Store, rules: RuleSet, florac: Site) -> None:
    pc = dev(florac, "pc1").hostname
    add_window(store, site_id=florac.id, start=OPEN, end=OPEN + timedelta(hours=1),
               who="tech-luc", why="replacing the switch", now=OPEN)  # fmt: skip
    cycles(store, rules, florac, OPEN, 10, down={pc})
    assert list_incidents(store) == []
    assert observation(store, pc).suppressed == "maintenance"
    cycles(store, rules, florac, OPEN + timedelta(hours=1), 1, down={pc})
    assert [i.device for i in list_incidents(store)] == [pc]


def test_reboot_events_use_the_deploys_table(store: Store, rules: RuleSet, florac: Site) -> None:
    pc1, pc2 = dev(florac, "pc1").hostname, dev(florac, "pc2").hostname
    t = cycles(store, rules, florac, OPEN, 1)
    record_deploy(store, site_id=florac.id, started_at=t - timedelta(seconds=30),
                  finished_at=t + 5 * MIN, user="tech-luc", outcome="changed",
                  limit=pc1)  # fmt: skip
    cycles(store, rules, florac, t, 1, override={pc1: {"uptime_s": 20}, pc2: {"uptime_s": 20}})
    with store.read() as session:
        events = {(e.device, e.kind) for e in session.scalars(select(DeviceEvent))}
    assert events == {(pc1, "reboot"), (pc2, "unexpected_reboot")}


def test_manual_resolve_is_not_undone_by_the_next_cycle(store: Store, rules: RuleSet, florac: Site) -> None:
    pc = dev(florac, "pc1").hostname
    t = cycles(store, rules, florac, OPEN, 4, down={pc})
    [inc] = list_incidents(store)
    resolve(store, inc.id, who="hotline", at=t, text="known: PC sent for repair")
    cycles(store, rules, florac, t, 5, down={pc})
    assert list_incidents(store) == []


def test_run_cycle_polls_through_the_injected_function(store: Store, rules: RuleSet, florac: Site) -> None:
    seen: list[str] = []

    async def poll(devices: Sequence[Device]) -> list[poller.Sample]:
        seen.extend(d.hostname for d in devices)
        return site_samples(tuple(devices), OPEN)

    report = asyncio.run(run_cycle(store, [florac], poll, rules, lambda: OPEN))
    assert sorted(seen) == sorted(d.hostname for d in florac.devices)
    assert report.devices == len(florac.devices) == report.answered
    assert report.failures == [] and report.opened == []
    with store.read() as session:
        n = session.scalar(select(func.count()).select_from(Observation))
    assert n and n > len(florac.devices)


def test_topology_puts_parents_first(rules: RuleSet, florac: Site) -> None:
    parents = parents_of(florac, rules)
    assert parents["florac-fs-gw"] == ()
    assert parents["florac-fs-sw1"] == ("florac-fs-gw",)
    assert parents["florac-fs-pc1"] == ("florac-fs-sw1",)
    names = [d.hostname for d in ordered(florac, parents)]
    assert names.index("florac-fs-gw") < names.index("florac-fs-sw1") < names.index("florac-fs-pc1")


def test_shards_match_the_pollers_and_cover_every_site_once(inventory: Inventory) -> None:
    for n in (1, 2, 3, 5):
        owners = [[i for i in range(n) if sites_of_shard([s], (i, n))] for s in inventory.sites]
        assert all(len(o) == 1 for o in owners)
        for s in inventory.sites:
            for i in range(n):
                assert bool(sites_of_shard([s], (i, n))) == poller.in_shard(s.devices[0], (i, n))
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0", "-1/2"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)


def test_offset_clock_starts_where_told_and_advances() -> None:
    ticks = iter([100.0, 100.0, 160.0])
    clock = offset_clock(NIGHT, monotonic=lambda: next(ticks))
    assert clock() == NIGHT
    assert clock() == NIGHT + MIN
    with pytest.raises(ConfigError, match="timezone"):
        offset_clock(datetime(2026, 1, 1))


def test_device_maintenance_window_covers_that_device_only(
    store: Store, rules: RuleSet, florac: Site
) -> None:
    pc1, pc2 = dev(florac, "pc1").hostname, dev(florac, "pc2").hostname
    add_window(store, device=pc1, start=OPEN, end=OPEN + timedelta(hours=1), who="tech-luc",
               why="reinstalling pc1", now=OPEN)  # fmt: skip
    cycles(store, rules, florac, OPEN, 5, down={pc1, pc2})
    assert [i.device for i in list_incidents(store)] == [pc2]
    assert observation(store, pc1).suppressed == "maintenance"
