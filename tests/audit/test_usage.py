"""Wipe records -> usage counts per station per day: tolerant parsing, idempotent import."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

from fleet.audit.usage import import_dir, median_minutes, parse_lines, usage_rows
from fleet.inventory.models import Inventory
from fleet.remote import connlog
from fleet.remote.fetch import MARK, split_stream
from fleet.store import Store

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def record(t: str, trigger: str, seconds: int | None = None, outcome: str = "ok", **extra: object) -> str:
    data: dict[str, object] = {"time": t, "host": "florac-fs-pc1", "trigger": trigger,
                               "outcome": outcome, "items": {"home": {"status": "ok", "removed": 3}},
                               "duration_ms": 120, **extra}
    if seconds is not None:
        data["session_seconds"] = seconds
    return json.dumps(data, sort_keys=True)


def write(folder: Path, lines: list[str], name: str = "wipe.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return folder


def test_parsing_is_tolerant_and_locates_bad_lines() -> None:
    lines = [
        record("2026-11-02T09:10:00+00:00", "logout", 600, residue={"remaining": 0}, canary="removed"),
        "{not json",
        json.dumps({"time": "yesterday", "trigger": "idle"}),
        json.dumps({"time": "2026-11-02T10:00:00", "trigger": "idle"}),  # no offset
        "",
        json.dumps({"time": "2026-11-02T10:00:00Z", "trigger": "nightly", "future_field": [1, 2]}),
    ]
    parsed = parse_lines(lines, "pc1/wipe.jsonl")
    assert [e.trigger for e in parsed.events] == ["logout", "nightly"]
    assert parsed.events[0].session_seconds == 600 and parsed.events[0].is_session
    assert not parsed.events[1].is_session and not parsed.events[1].ok  # no outcome: not ok
    assert [s.split(":")[1] for s in parsed.skipped] == ["2", "3", "4"]
    assert parsed.skipped[0].startswith("pc1/wipe.jsonl:2: ")


def test_collected_twice_counted_once_and_growth_counts_only_new(
    store: Store, inventory: Inventory, tmp_path: Path
) -> None:
    site = inventory.site("florac-fs")
    first = [
        record("2026-11-02T08:30:00+00:00", "logout", 25 * 60),
        record("2026-11-02T09:45:00+00:00", "idle", 40 * 60),
        record("2026-11-02T10:00:00+00:00", "remote"),                     # not a session
        record("2026-11-02T10:00:00+00:00", "max-session", 120 * 60, outcome="failed"),  # same second
        record("2026-11-02T23:30:00+00:00", "nightly"),                    # 3 November in Paris
    ]
    folder = write(tmp_path / "pc1", first)
    r1 = import_dir(store, site, "florac-fs-pc1", folder, NOW)
    assert (r1.counted, r1.already) == (5, 0)
    r2 = import_dir(store, site, "florac-fs-pc1", folder, NOW)
    assert (r2.counted, r2.already) == (0, 5)
    # the file grows by one record at the very same second as the last counted one, and one later
    more = [record("2026-11-02T23:30:00+00:00", "boot"),
            record("2026-11-04T12:00:00+00:00", "logout", 5 * 60)]
    write(folder, first + more)
    r3 = import_dir(store, site, "florac-fs-pc1", folder, NOW)
    assert (r3.counted, r3.already) == (2, 5)
    # a rotated copy holding old records adds nothing
    write(folder, first, name="wipe.jsonl.1")
    assert import_dir(store, site, "florac-fs-pc1", folder, NOW).counted == 0
    rows = {r.day: r for r in usage_rows(store, [site.id], date(2026, 11, 1), date(2026, 11, 30))}
    assert set(rows) == {date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)}
    d2 = rows[date(2026, 11, 2)]
    assert (d2.sessions, d2.wipes, d2.wipe_failures) == (3, 4, 1)
    assert d2.session_seconds == (25 + 40 + 120) * 60
    assert dict(d2.lengths) == {"25": 1, "40": 1, "120": 1}
    assert (rows[date(2026, 11, 3)].wipes, rows[date(2026, 11, 3)].sessions) == (2, 0)
    assert median_minutes(rows.values()) == 32.5  # 5, 25, 40, 120


def test_days_are_local_to_the_site(store: Store, inventory: Inventory, tmp_path: Path) -> None:
    site = inventory.site("noumea-ps")
    folder = write(tmp_path / "pc", [record("2026-11-30T20:00:00+00:00", "logout", 60)])
    import_dir(store, site, "noumea-ps-pc1", folder, NOW)
    (row,) = usage_rows(store, [site.id], date(2026, 11, 1), date(2026, 12, 31))
    assert row.day == date(2026, 12, 1)  # 07:00 in Nouméa


def test_the_stored_counts_hold_no_time_of_day(store: Store, inventory: Inventory, tmp_path: Path) -> None:
    site = inventory.site("florac-fs")
    folder = write(tmp_path / "pc1", [record("2026-11-02T08:31:07+00:00", "logout", 25 * 60 + 7)])
    import_dir(store, site, "florac-fs-pc1", folder, NOW)
    from sqlalchemy import text
    with store.read() as s:
        dump = json.dumps([list(r) for r in s.execute(text("SELECT * FROM usage_days")).all()], default=str)
    assert "08:31" not in dump and "09:31" not in dump and "florac-fs-pc1" in dump


def test_fetch_stream_is_shared_with_the_connection_log() -> None:
    stream = [
        f"{MARK}/var/log/relais/wipe.jsonl", '{"a": 1}', "", '{"a": 2}',
        f"{MARK}/var/log/relais/wipe.jsonl.gz", "binary",
        f"{MARK}/var/lib/relais/connlog/2026-11-02.jsonl", '{"b": 1}',
    ]
    assert split_stream(stream, re.compile(r"^wipe\.jsonl$")) == {"wipe.jsonl": ['{"a": 1}', '{"a": 2}']}
    assert connlog.split_stream(stream) == {"2026-11-02.jsonl": ['{"b": 1}']}
