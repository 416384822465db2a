"""A requisition export holds exactly the records whose interval meets the window (issue 9.3).

A record covers [start, end]; a record without an end time (a NAT mapping logged before ends
were recorded, a session or mapping still open when the gateway was last collected) covers its
start instant only.  The window is half-open: [from, to)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.gateway import collect
from fleet.store.connlog import ConnRow, upsert_records
from fleet.store.db import Store, open_store

SITE, GW = "rennes-maurepas", "rennes-maurepas-gw"
DAY = datetime(2026, 11, 23, tzinfo=UTC)
FROM, TO = DAY + timedelta(hours=14), DAY + timedelta(hours=16)


def _t(hhmm: str, days: int = 0) -> datetime:
    h, m = hhmm.split(":")
    return DAY + timedelta(days=days, hours=int(h), minutes=int(m))


# key -> (kind, start, end or None, expected in the export)
CASES: dict[str, tuple[str, datetime, datetime | None, bool]] = {
    "session-before": ("session", _t("10:00"), _t("11:00"), False),
    "session-ends-at-from": ("session", _t("13:00"), _t("14:00"), True),
    "session-across-from": ("session", _t("13:30"), _t("14:30"), True),
    "session-inside": ("session", _t("14:30"), _t("15:00"), True),
    "session-across-to": ("session", _t("15:30"), _t("17:00"), True),
    "session-spans-window": ("session", _t("13:00"), _t("17:00"), True),
    "session-starts-at-to": ("session", _t("16:00"), _t("16:30"), False),
    "session-after": ("session", _t("17:00"), _t("18:00"), False),
    "session-open-a-year-ago": ("session", _t("09:00", days=-360), None, False),
    "session-open-inside": ("session", _t("15:59"), None, True),
    "nat-open-before": ("nat", _t("13:59"), None, False),
    "nat-open-inside": ("nat", _t("14:10"), None, True),
    "nat-open-at-from": ("nat", _t("14:00"), None, True),
    "nat-open-at-to": ("nat", _t("16:00"), None, False),
    "nat-open-after": ("nat", _t("16:05", days=3), None, False),
    "nat-across-from": ("nat", _t("13:50"), _t("14:05"), True),
    "nat-before": ("nat", _t("12:00"), _t("13:00"), False),
    "nat-after": ("nat", _t("16:01"), _t("16:02"), False),
}


def _row(key: str, kind: str, start: datetime, end: datetime | None,
         site: str = SITE) -> ConnRow:
    nat = kind == "nat"
    return ConnRow(site, GW, kind, key, start, end, "36:96:3e:57:65:88", "172.18.1.162",
                   "tcp" if nat else None, 51234 if nat else None,
                   "198.18.0.2" if nat else None, 40000 if nat else None)


@pytest.fixture
def store(tmp_path: object) -> Store:
    s = open_store(f"sqlite:///{tmp_path}/req.sqlite")
    rows = [_row(k, kind, a, b) for k, (kind, a, b, _) in CASES.items()]
    rows.append(_row("other-site", "session", _t("14:30"), _t("15:00"), site="florac-fs"))
    upsert_records(s, rows, DAY)
    return s


def test_export_holds_exactly_the_records_meeting_the_window(store: Store) -> None:
    got = {r.key for r in collect.records(store, SITE, FROM, TO)}
    want = {k for k, (_, _, _, inside) in CASES.items() if inside}
    assert got == want, (sorted(got - want), sorted(want - got))


def test_sessions_use_the_same_rule(store: Store) -> None:
    got = {r.key for r in collect.sessions(store, SITE, FROM, TO)}
    want = {k for k, (kind, _, _, inside) in CASES.items() if inside and kind == "session"}
    assert got == want


def test_the_export_says_what_an_open_record_covers(store: Store) -> None:
    text = collect.export_csv(collect.records(store, SITE, FROM, TO), SITE, FROM, TO, DAY)
    assert "sans heure de fin" in text
    body = [ln for ln in text.splitlines() if not ln.startswith("#")][1:]
    assert len(body) == sum(1 for c in CASES.values() if c[3])
