"""Opening hours: DST in Europe/Paris, Pacific/Noumea, midnight crossing, closures; and
properties that tie is_open, next_opening and next_closing together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.inventory.hours import (
    format_site_time,
    OpenState,
    intervals,
    is_open,
    next_closing,
    next_opening,
    open_duration,
    open_now,
    open_state,
    parse_range,
    site_instant,
    wall_to_utc,
    zone_label,
)
from fleet.inventory.models import WEEKDAYS, Closure, OpeningHours

PARIS = "Europe/Paris"


def week(**days: list[str]) -> dict[str, tuple]:  # type: ignore[type-arg]
    return {d: tuple(parse_range(r) for r in days.get(d, [])) for d in WEEKDAYS}


FS = OpeningHours(
    timezone=PARIS,
    week=week(**{d: ["09:00-12:00", "13:30-17:00"] for d in WEEKDAYS[:5]}),
    closures=(Closure(start="2026-12-24", end="2026-12-26", reason="Noël"),),
)
NIGHT = OpeningHours(timezone=PARIS, week=week(sat=["20:00-01:30+1"], sun=["01:00-03:00"]))


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def test_is_open_basic_winter_and_summer() -> None:
    # Monday 2026-01-12, winter (UTC+1): 09:00 local = 08:00 UTC
    assert not is_open(FS, utc(2026, 1, 12, 7, 59))
    assert is_open(FS, utc(2026, 1, 12, 8, 0))
    assert not is_open(FS, utc(2026, 1, 12, 11, 0))  # 12:00 local: lunch
    # Monday 2026-07-13, summer (UTC+2): 09:00 local = 07:00 UTC
    assert is_open(FS, utc(2026, 7, 13, 7, 0))
    assert not is_open(FS, utc(2026, 7, 13, 6, 59))


def test_dst_spring_forward_monday_after() -> None:
    # 2026-03-29 is the spring-forward Sunday; Friday before opens 08:00 UTC, Monday 07:00 UTC.
    assert next_opening(FS, utc(2026, 3, 27, 5, 0)) == utc(2026, 3, 27, 8, 0)
    assert next_opening(FS, utc(2026, 3, 28, 0, 0)) == utc(2026, 3, 30, 7, 0)


def test_dst_fall_back() -> None:
    # 2026-10-25: fall back; Monday 26 opens at 09:00 CET = 08:00 UTC.
    assert next_opening(FS, utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 26, 8, 0)


def test_range_inside_dst_gap_opens_at_the_jump() -> None:
    # 02:30 does not exist on 2026-03-29 in Paris: the wall clock jumps 02:00 -> 03:00 at 01:00 UTC.
    h = OpeningHours(timezone=PARIS, week=week(sun=["02:30-04:00"]))
    assert wall_to_utc(datetime(2026, 3, 29, 2, 30), ZoneInfo(PARIS)) == utc(2026, 3, 29, 1, 0)
    assert next_opening(h, utc(2026, 3, 28, 0, 0)) == utc(2026, 3, 29, 1, 0)
    assert next_closing(h, utc(2026, 3, 29, 1, 0)) == utc(2026, 3, 29, 2, 0)  # 04:00 CEST


def test_ambiguous_time_uses_first_occurrence() -> None:
    # 02:30 happens twice on 2026-10-25; the range is open once, from the first occurrence.
    h = OpeningHours(timezone=PARIS, week=week(sun=["02:30-03:30"]))
    (o, c), = intervals(h, utc(2026, 10, 24), utc(2026, 10, 26))
    assert o == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    assert c == utc(2026, 10, 25, 2, 30)  # 03:30 CET


def test_noumea_has_no_dst() -> None:
    h = OpeningHours(timezone="Pacific/Noumea", week=week(mon=["07:30-11:30"]))
    # 07:30 in Nouméa (UTC+11) on Monday 2026-06-15 is Sunday 20:30 UTC
    assert next_opening(h, utc(2026, 6, 14, 0, 0)) == utc(2026, 6, 14, 20, 30)
    assert next_opening(h, utc(2026, 12, 13, 0, 0)) == utc(2026, 12, 13, 20, 30)
    assert is_open(h, utc(2026, 6, 14, 21, 0))


def test_range_crossing_midnight_counts_for_next_morning() -> None:
    # Saturday 2026-01-17 20:00 -> Sunday 01:30 local, and Sunday 01:00-03:00: merged.
    assert is_open(NIGHT, utc(2026, 1, 18, 0, 15))  # Sunday 01:15 local
    assert next_closing(NIGHT, utc(2026, 1, 17, 20, 0)) == utc(2026, 1, 18, 2, 0)  # 03:00 local


def test_closure_cancels_ranges() -> None:
    assert not is_open(FS, utc(2026, 12, 24, 10, 0))
    assert next_opening(FS, utc(2026, 12, 23, 17, 0)) == utc(2026, 12, 28, 8, 0)


def test_always_closed_site_has_no_next_opening() -> None:
    h = OpeningHours(timezone=PARIS, week=week())
    assert next_opening(h, utc(2026, 1, 1)) is None
    assert not is_open(h, utc(2026, 1, 1))


def test_open_all_week_has_no_next_closing() -> None:
    h = OpeningHours(timezone=PARIS, week=week(**{d: ["00:00-24:00"] for d in WEEKDAYS}))
    assert is_open(h, utc(2026, 3, 29, 1, 30))
    assert next_closing(h, utc(2026, 1, 1)) is None


def test_open_duration_of_a_week() -> None:
    start = utc(2026, 1, 12, 0, 0)
    assert open_duration(FS, start, start + timedelta(days=7)) == timedelta(hours=6.5 * 5)


def test_open_state_says_since_when_and_until_when() -> None:
    # Monday 2026-01-12 10:00 local (09:00 UTC): open since 09:00 local, until 12:00
    assert open_state(FS, utc(2026, 1, 12, 9, 0)) == OpenState(
        True, utc(2026, 1, 12, 8, 0), utc(2026, 1, 12, 11, 0)
    )
    # Saturday night: closed since Friday 17:00 local, until Monday 09:00 local
    sat = open_state(FS, utc(2026, 1, 17, 22, 0))
    assert sat == OpenState(False, utc(2026, 1, 16, 16, 0), utc(2026, 1, 19, 8, 0))
    # Christmas closure (24-26 Dec 2026, Thursday to Saturday): from Wednesday's closing to
    # Monday 28th's opening
    assert open_state(FS, utc(2026, 12, 25, 10, 0)) == OpenState(
        False, utc(2026, 12, 23, 16, 0), utc(2026, 12, 28, 8, 0)
    )
    # a night range crossing midnight, merged with Sunday's: one opening
    assert open_state(NIGHT, utc(2026, 1, 18, 1, 0)) == OpenState(
        True, utc(2026, 1, 17, 19, 0), utc(2026, 1, 18, 2, 0)
    )


def test_open_state_beyond_the_horizon() -> None:
    always = OpeningHours(timezone=PARIS, week=week(**{d: ["00:00-24:00"] for d in WEEKDAYS}))
    assert open_state(always, utc(2026, 5, 1, 12, 0)) == OpenState(True, None, None)
    never = OpeningHours(timezone=PARIS, week=week())
    assert open_state(never, utc(2026, 5, 1, 12, 0)) == OpenState(False, None, None)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_open(FS, datetime(2026, 1, 12, 9, 0))


# ---------------------------------------------------------------- properties ----------

minutes = st.integers(min_value=0, max_value=95).map(lambda q: q * 15)
range_strategy = st.tuples(minutes, st.integers(min_value=1, max_value=40)).map(
    lambda t: (t[0], t[0] + t[1] * 15)
)


@st.composite
def schedules(draw: st.DrawFn) -> OpeningHours:
    tz = draw(st.sampled_from([PARIS, "Pacific/Noumea", "America/New_York", "UTC"]))
    days: dict[str, tuple] = {}  # type: ignore[type-arg]
    prev_spill = 0
    for d in WEEKDAYS:
        ranges = []
        cursor = prev_spill
        for s, e in sorted(draw(st.lists(range_strategy, max_size=3))):
            s = max(s, cursor)
            e = min(max(e, s + 15), 2880 - 1)
            if s >= 1440 or e - s >= 1440:
                break
            if d == "sun" and e > 1440:  # keep Sunday from spilling over Monday's ranges
                e = 1440
            ranges.append(parse_range(_fmt(s, e)))
            cursor = e
        days[d] = tuple(ranges)
        prev_spill = max((r.end - 1440 for r in ranges if r.end > 1440), default=0)
    # Monday's first range must start after Sunday's spill; sunday never spills (above).
    return OpeningHours(timezone=tz, week=days)


def _fmt(s: int, e: int) -> str:
    def hm(m: int) -> str:
        return f"{m // 60:02d}:{m % 60:02d}"

    if e > 1440:
        return f"{hm(s)}-{hm(e - 1440)}+1"
    return f"{hm(s)}-{'24:00' if e == 1440 else hm(e)}"


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(schedules(), instants)
def test_next_opening_is_the_first_open_instant(h: OpeningHours, t: datetime) -> None:
    o = next_opening(h, t)
    if o is None:
        assert not any(h.week.values()) or is_open(h, t)
        return
    assert o > t
    assert is_open(h, o)
    assert not is_open(h, o - timedelta(seconds=1))
    # nothing opens strictly between t and o
    for o2, _c in intervals(h, t, o):
        assert o2 <= t or o2 == o


@settings(max_examples=150, deadline=None)
@given(schedules(), instants)
def test_next_closing_is_the_first_closed_instant(h: OpeningHours, t: datetime) -> None:
    c = next_closing(h, t)
    if c is None:
        return
    assert c > t
    assert not is_open(h, c)
    assert is_open(h, c - timedelta(seconds=1))


@settings(max_examples=150, deadline=None)
@given(schedules(), instants)
def test_is_open_matches_the_wall_clock_away_from_dst(h: OpeningHours, t: datetime) -> None:
    tz = ZoneInfo(h.timezone)
    local = t.astimezone(tz)
    # skip days where the offset changes (their wall clock is not monotonic / skips)
    day_start = datetime(local.year, local.month, local.day, tzinfo=tz)
    for delta in (-1, 0, 1, 2):
        a = (day_start + timedelta(days=delta)).utcoffset()
        b = (day_start + timedelta(days=delta + 1)).utcoffset()
        if a != b:
            return
    m = local.hour * 60 + local.minute
    today = h.week[WEEKDAYS[local.weekday()]]
    yesterday = h.week[WEEKDAYS[(local.weekday() - 1) % 7]]
    expected = any(r.start <= m < r.end for r in today) or any(
        r.end > 1440 and m < r.end - 1440 for r in yesterday
    )
    assert is_open(h, t) == expected


# ------------------------------------------------------------- the one "open now" ----


def test_open_now_while_open_says_since_and_until_in_site_time() -> None:
    t = utc(2026, 1, 12, 9, 30)  # Monday 10:30 CET
    now = open_now(FS, t)
    assert now.open and now.next_opening is None
    assert now.since == utc(2026, 1, 12, 8, 0) and now.until == utc(2026, 1, 12, 11, 0)
    assert now.local.strftime("%H:%M") == "10:30" and now.zone == "CET"
    assert now.timezone == PARIS


def test_open_now_while_closed_says_next_opening() -> None:
    t = utc(2026, 12, 24, 10, 0)  # Thursday, closed for Noël until Monday 28
    now = open_now(FS, t)
    assert not now.open and now.since is None and now.until is None
    assert now.next_opening == utc(2026, 12, 28, 8, 0)


def test_zone_labels_paris_summer_and_noumea() -> None:
    noumea = OpeningHours(timezone="Pacific/Noumea", week=week(mon=["07:30-11:30"]))
    summer = utc(2026, 7, 13, 7, 15)
    assert zone_label(FS, summer) == "CEST"
    assert format_site_time(FS, summer) == "2026-07-13 09:15 CEST"
    # Nouméa has no abbreviation in the zone database: the offset is the label
    assert format_site_time(noumea, summer) == "2026-07-13 18:15 UTC+11"
    assert open_now(noumea, utc(2026, 7, 12, 20, 30)).zone == "UTC+11"


def test_site_instant_reads_a_typed_local_time_as_the_ranges_do() -> None:
    assert site_instant(FS, datetime(2026, 1, 12, 9, 0)) == utc(2026, 1, 12, 8, 0)
    # 02:30 does not exist on 2026-03-29 in Paris: the jump (03:00 CEST = 01:00 UTC)
    assert site_instant(FS, datetime(2026, 3, 29, 2, 30)) == utc(2026, 3, 29, 1, 0)
    aware = datetime(2026, 1, 12, 9, 0, tzinfo=ZoneInfo("Pacific/Noumea"))
    assert site_instant(FS, aware) == utc(2026, 1, 11, 22, 0)


def test_open_now_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="aware"):
        open_now(FS, datetime(2026, 1, 12, 9, 0))


@settings(max_examples=100, deadline=None)
@given(schedules(), instants)
def test_open_now_agrees_with_is_open_and_the_edges(h: OpeningHours, t: datetime) -> None:
    now = open_now(h, t)
    assert now.open == is_open(h, t)
    if now.open:
        assert now.since is not None and now.since <= t
        assert now.until == next_closing(h, t)
        assert is_open(h, now.since)
    else:
        assert now.next_opening == next_opening(h, t)
    assert now.local == t.astimezone(ZoneInfo(h.timezone))
@settings(max_examples=150, deadline=None)
@given(schedules(), instants)
def test_open_state_agrees_with_is_open_and_the_next_edges(h: OpeningHours, t: datetime) -> None:
    state = open_state(h, t)
    second = timedelta(seconds=1)
    assert state.open == is_open(h, t)
    assert state.until == (next_closing(h, t) if state.open else next_opening(h, t))
    if state.since is not None:
        assert state.since <= t
        # an edge: the state changed there, and not again until t
        assert is_open(h, state.since) is state.open
        assert is_open(h, state.since - second) is not state.open
        assert all(o <= state.since or c > t for o, c in intervals(h, state.since, t + second)) \
            if state.open else intervals(h, state.since, t + second) == []
    else:
        # the state has lasted more than the horizon (800 days)
        assert all(is_open(h, t - timedelta(days=d)) is state.open for d in (1, 7, 30))


@settings(max_examples=150, deadline=None)
@given(schedules(), instants, st.sampled_from([timedelta(hours=2), timedelta(days=1, minutes=30)]))
def test_a_short_horizon_gives_the_same_answer_or_none(
    h: OpeningHours, t: datetime, horizon: timedelta
) -> None:
    full, short = open_state(h, t), open_state(h, t, horizon=horizon)
    assert short.open == full.open
    recent = full.since is not None and full.since > t - horizon
    soon = full.until is not None and full.until < t + horizon
    assert short.since == (full.since if recent else None)
    assert short.until == (full.until if soon else None)
