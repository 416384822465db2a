"""Weekly maintenance windows (issue 14): the same wall-clock times every week in the site's
zone, crossing midnight, across DST, until an end; ended by hand ends the series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleet.incidents import IncidentError, add_window, end_window, list_windows
from fleet.incidents.maintenance import active_windows
from fleet.store import Store

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)  # type: ignore[misc]


def test_a_saturday_night_window_crossing_midnight_comes_back_every_week_across_dst(store: Store) -> None:
    # Saturday 2026-10-17 22:00 -> Sunday 02:00 (CEST); DST ends on Sunday 2026-10-25 at 03:00.
    w = add_window(store, site_id="florac-fs", start=paris(2026, 10, 17, 22), end=paris(2026, 10, 18, 2),
                   who="tech", why="sauvegarde", now=paris(2026, 10, 1), weekly=True,
                   timezone="Europe/Paris", repeat_until=paris(2026, 11, 7))  # fmt: skip
    with store.read() as session:
        inside = [paris(2026, 10, 17, 23, 30), paris(2026, 10, 18, 1, 59), paris(2026, 10, 24, 22),
                  paris(2026, 10, 25, 1, 30), paris(2026, 10, 31, 23)]  # fmt: skip
        outside = [paris(2026, 10, 17, 21, 59), paris(2026, 10, 18, 2), paris(2026, 10, 21, 23),
                   paris(2026, 11, 7, 23), paris(2026, 10, 16, 23)]  # fmt: skip
        for at in inside:
            assert [x.id for x in active_windows(session, at)] == [w.id], at.astimezone(PARIS)
        for at in outside:
            assert active_windows(session, at) == [], at.astimezone(PARIS)
    # wall-clock times kept: 22:00 CEST then 22:00 CET (one more hour of UTC after the change)
    spans = w.occurrences(paris(2026, 10, 1), paris(2026, 12, 1))
    assert [(s.astimezone(PARIS).strftime("%a %d %H:%M"), e.astimezone(PARIS).strftime("%a %d %H:%M"))
            for s, e in spans] == [("Sat 17 22:00", "Sun 18 02:00"), ("Sat 24 22:00", "Sun 25 02:00"),
                                   ("Sat 31 22:00", "Sun 01 02:00")]  # fmt: skip
    assert spans[1][1] - spans[1][0] == timedelta(hours=4)
    assert spans[2][0] - spans[1][0] == timedelta(days=7, hours=1)


def test_a_weekly_window_is_listed_until_its_series_ends_and_ending_it_ends_the_series(store: Store) -> None:
    w = add_window(store, device="florac-fs-pc1", start=paris(2026, 11, 2, 8), end=paris(2026, 11, 2, 9),
                   who="tech", why="mises à jour", now=paris(2026, 11, 1), weekly=True,
                   timezone="Europe/Paris")  # fmt: skip
    later = paris(2027, 3, 1, 12)
    assert [x.id for x in list_windows(store, at=later)] == [w.id]  # no end: still coming
    end_window(store, w.id, at=later)
    assert list_windows(store, at=later + timedelta(minutes=1)) == []
    with store.read() as session:
        assert active_windows(session, paris(2027, 3, 8, 8, 30)) == []


def test_one_off_windows_are_unchanged(store: Store) -> None:
    w = add_window(store, site_id="s", start=paris(2026, 11, 2, 8), end=paris(2026, 11, 2, 9), who="t",
                   why="w", now=paris(2026, 11, 1))  # fmt: skip
    with store.read() as session:
        assert [x.id for x in active_windows(session, paris(2026, 11, 2, 8, 30))] == [w.id]
        assert active_windows(session, paris(2026, 11, 9, 8, 30)) == []


def test_weekly_windows_are_checked(store: Store) -> None:
    start = paris(2026, 11, 2, 8)
    with pytest.raises(IncidentError, match="less than a week"):
        add_window(store, site_id="s", start=start, end=start + timedelta(days=7), who="t", why="w",
                   now=start, weekly=True, timezone="Europe/Paris")  # fmt: skip
    with pytest.raises(IncidentError, match="timezone"):
        add_window(store, site_id="s", start=start, end=start + timedelta(hours=1), who="t", why="w",
                   now=start, weekly=True)  # fmt: skip
    with pytest.raises(IncidentError, match="before the first"):
        add_window(store, site_id="s", start=start, end=start + timedelta(hours=1), who="t", why="w",
                   now=start, weekly=True, timezone="Europe/Paris", repeat_until=start)  # fmt: skip
