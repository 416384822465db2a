"""Availability during opening hours only, on constructed histories, with exact figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleet.audit.availability import compute, from_store
from fleet.audit.period import Month, parse_month
from fleet.errors import ConfigError
from fleet.inventory.hours import intervals
from fleet.inventory.models import DeviceKind, Inventory, OpeningHours, OpeningRange
from fleet.store import Store
from fleet.store.models import MaintenanceWindow, StateChange

PARIS = ZoneInfo("Europe/Paris")
NOUMEA = ZoneInfo("Pacific/Noumea")
H = 3600.0
ALWAYS = OpeningHours(
    timezone="Europe/Paris",
    week={d: (OpeningRange(start=0, end=1440),) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
)


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz).astimezone(UTC)  # type: ignore[misc]


def figures(hours: object, month: str, changes: list[tuple[datetime, str]], *, initial: str | None = "up",
            maintenance: list[tuple[datetime, datetime]] | None = None, tz: ZoneInfo = PARIS):
    start, end = parse_month(month).bounds(tz)
    opening = [(max(a, start), min(b, end)) for a, b in intervals(hours, start, end)]  # type: ignore[arg-type]
    return compute("pc", opening=opening, start=start, end=end, initial=initial, changes=changes,
                   maintenance=maintenance or [])


# Florac: Monday-Friday 09:00-12:00 and 13:30-17:00 (6.5 h a day). November 2026 has 21
# weekdays and no closure: 136.5 h of opening.
FLORAC_NOV = 21 * 6.5


def test_a_pc_off_at_night_and_on_the_weekend_is_not_downtime(inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    changes = [
        (local(PARIS, 2026, 11, 3, 18, 0), "down"), (local(PARIS, 2026, 11, 4, 8, 30), "up"),   # night
        (local(PARIS, 2026, 11, 6, 17, 5), "down"), (local(PARIS, 2026, 11, 9, 8, 55), "up"),   # weekend
        (local(PARIS, 2026, 11, 10, 12, 5), "down"), (local(PARIS, 2026, 11, 10, 13, 25), "up"),  # lunch
    ]
    a = figures(site, "2026-11", changes)
    assert a.open_s == FLORAC_NOV * H
    assert a.down_s == 0 and a.percent == 100.0 and a.unmeasured_s == 0


def test_an_outage_in_opening_hours_counts_only_its_open_part(inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    # Wednesday 4 November 10:00 -> 14:00: 2 h of the morning + 0.5 h of the afternoon
    changes = [(local(PARIS, 2026, 11, 4, 10, 0), "down"), (local(PARIS, 2026, 11, 4, 14, 0), "up")]
    a = figures(site, "2026-11", changes)
    assert a.down_s == 2.5 * H
    assert a.percent == pytest.approx(100 * (FLORAC_NOV - 2.5) / FLORAC_NOV, abs=1e-12)
    assert a.outages == (
        (local(PARIS, 2026, 11, 4, 10, 0), local(PARIS, 2026, 11, 4, 12, 0)),
        (local(PARIS, 2026, 11, 4, 13, 30), local(PARIS, 2026, 11, 4, 14, 0)),
    )


def test_the_status_before_the_month_carries_over(inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    # down since October, back on Monday 2 November at 10:00: one hour of the month is down
    a = figures(site, "2026-11", [(local(PARIS, 2026, 11, 2, 10, 0), "up")], initial="down")
    assert a.down_s == 1 * H
    never = figures(site, "2026-11", [], initial=None)
    assert never.percent is None and never.unmeasured_s == FLORAC_NOV * H


def test_maintenance_is_reported_apart(inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    # Thursday 5 November: down 10:00-12:00, a maintenance window 09:30-11:00
    changes = [(local(PARIS, 2026, 11, 5, 10, 0), "down"), (local(PARIS, 2026, 11, 5, 12, 0), "up")]
    window = [(local(PARIS, 2026, 11, 5, 9, 30), local(PARIS, 2026, 11, 5, 11, 0))]
    a = figures(site, "2026-11", changes, maintenance=window)
    assert a.maintenance_s == 1.5 * H
    assert a.down_s == 1 * H
    assert a.up_s == (FLORAC_NOV - 2.5) * H
    assert a.percent == pytest.approx(100 * (FLORAC_NOV - 2.5) / (FLORAC_NOV - 1.5), abs=1e-12)


def test_spring_forward_a_day_of_23_hours() -> None:
    # Open around the clock: March 2027 has 31 * 24 - 1 hours (28 March, 02:00 -> 03:00).
    # Down from Saturday 22:00 to Sunday 04:00 local: 5 real hours, not 6.
    changes = [(local(PARIS, 2027, 3, 27, 22, 0), "down"), (local(PARIS, 2027, 3, 28, 4, 0), "up")]
    a = figures(ALWAYS, "2027-03", changes)
    assert a.open_s == (31 * 24 - 1) * H
    assert a.down_s == 5 * H
    assert a.percent == pytest.approx(100 * (743 - 5) / 743, abs=1e-12)


def test_spring_forward_weekend_outage_on_a_weekday_schedule(inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    # Down from Friday 26 March 2027 16:00 to Monday 29 March 10:00 (DST on the Sunday):
    # one hour on Friday, one on Monday.  March 2027: 23 weekdays.
    changes = [(local(PARIS, 2027, 3, 26, 16, 0), "down"), (local(PARIS, 2027, 3, 29, 10, 0), "up")]
    a = figures(site, "2027-03", changes)
    assert a.open_s == 23 * 6.5 * H
    assert a.down_s == 2 * H


def test_fall_back_a_day_of_25_hours() -> None:
    # October 2026 has 31 * 24 + 1 hours (25 October, 03:00 -> 02:00).  Down from 01:00 to
    # 04:00 local that night: 4 real hours.
    changes = [(local(PARIS, 2026, 10, 25, 1, 0), "down"), (local(PARIS, 2026, 10, 25, 4, 0), "up")]
    a = figures(ALWAYS, "2026-10", changes)
    assert a.open_s == (31 * 24 + 1) * H
    assert a.down_s == 4 * H
    assert a.percent == pytest.approx(100 * (745 - 4) / 745, abs=1e-12)


def test_noumea_month_is_local(inventory: Inventory) -> None:
    site = inventory.site("noumea-ps")
    # Nouméa: Monday-Friday 07:30-11:30 and 12:15-16:00 (7.75 h).  December 2026: 23 weekdays.
    # An outage on 30 November 21:00-23:00 UTC is Tuesday 1 December 08:00-10:00 in Nouméa.
    changes = [(datetime(2026, 11, 30, 21, 0, tzinfo=UTC), "down"),
               (datetime(2026, 11, 30, 23, 0, tzinfo=UTC), "up")]
    dec = figures(site, "2026-12", changes, tz=NOUMEA)
    assert dec.open_s == 23 * 7.75 * H
    assert dec.down_s == 2 * H
    assert dec.percent == pytest.approx(100 * (23 * 7.75 - 2) / (23 * 7.75), abs=1e-12)
    # ... and is not in November's figures at all (November ends at 13:00 UTC on the 30th)
    nov = figures(site, "2026-11", changes, tz=NOUMEA)
    assert nov.down_s == 0 and nov.percent == 100.0


def test_closures_are_closed(inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    # 24-26 December 2026 are closed (Noël): an outage on the 24th costs nothing.
    changes = [(local(PARIS, 2026, 12, 24, 8, 0), "down"), (local(PARIS, 2026, 12, 26, 20, 0), "up")]
    a = figures(site, "2026-12", changes)
    assert a.down_s == 0
    assert a.open_s == (23 - 2) * 6.5 * H  # 23 weekdays, Thursday 24 and Friday 25 closed


def test_month_parsing_and_bounds() -> None:
    assert str(parse_month("2026-03")) == "2026-03"
    assert parse_month("2026-01").previous() == Month(2025, 12)
    assert parse_month("2026-12").next() == Month(2027, 1)
    start, end = parse_month("2027-03").bounds(PARIS)
    assert end - start == timedelta(days=31, hours=-1)
    for bad in ("2026-13", "2026-1", "nov", "2026-11-01"):
        with pytest.raises(ConfigError, match="--month"):
            parse_month(bad)


def test_from_store_reads_history_and_windows(store: Store, inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    pc1, pc2 = site.devices_of(DeviceKind.PUBLIC_PC)
    with store.write() as s:
        def change(dev: str, at: datetime, old: str, new: str, check: str = "reachability") -> None:
            s.add(StateChange(device=dev, site_id=site.id, check=check, at=at, from_status=old,
                              to_status=new))
        change(pc1.hostname, local(PARIS, 2026, 10, 20, 9, 0), "unknown", "up")
        change(pc1.hostname, local(PARIS, 2026, 11, 4, 10, 0), "up", "down")
        change(pc1.hostname, local(PARIS, 2026, 11, 4, 11, 0), "down", "up")
        change(pc1.hostname, local(PARIS, 2026, 11, 5, 10, 0), "up", "down", check="cpu")  # other check
        change(pc2.hostname, local(PARIS, 2026, 11, 2, 12, 0), "unknown", "up")
        s.add(MaintenanceWindow(site_id=site.id, device=None, start=local(PARIS, 2026, 11, 6, 9, 0),
                                end=local(PARIS, 2026, 11, 6, 17, 0), who="tech", why="travaux",
                                created_at=local(PARIS, 2026, 11, 1, 0, 0),
                                ended_at=local(PARIS, 2026, 11, 6, 12, 0)))
    a1, a2 = from_store(store, site, [pc1, pc2], parse_month("2026-11"))
    assert a1.down_s == 1 * H and a1.maintenance_s == 3 * H  # ended early by hand at 12:00
    assert a1.up_s == (FLORAC_NOV - 4) * H
    assert a2.unmeasured_s == 3 * H and a2.down_s == 0  # first seen Monday 2 November, 12:00
