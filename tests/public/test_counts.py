"""The stations' per-day counters: parsed strictly, stored once (fleet.store.publiccounts on
SQLite), the day's later counts adding only what happened since."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from fleet.remote.publiccounts import parse_file, read_dir
from fleet.store import Store, open_store
from fleet.store.publiccounts import import_counts, read_counts, totals

NOW = datetime(2026, 9, 22, 6, 0, tzinfo=UTC)
DAY = date(2026, 9, 22)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    yield s
    s.dispose()


def write(folder: Path, day: str, data: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"counts-{day}.json").write_text(json.dumps(data), encoding="utf-8")


def test_collected_twice_counted_once_and_later_counts_add_the_difference(
        store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "noumea-ps-borne1"
    write(folder, "2026-09-22", {"day": "2026-09-22", "tiles": {"caf": 3, "ameli": 1},
                                 "answers": {"oui": 2, "sans_reponse": 1}})
    first = import_counts(store, "noumea-ps", "noumea-ps-borne1", read_dir(folder).days, NOW)
    again = import_counts(store, "noumea-ps", "noumea-ps-borne1", read_dir(folder).days, NOW)
    assert (first.added, again.added) == (7, 0)
    write(folder, "2026-09-22", {"day": "2026-09-22", "tiles": {"caf": 5, "ameli": 1},
                                 "answers": {"oui": 2, "sans_reponse": 1, "non": 1}})
    later = import_counts(store, "noumea-ps", "noumea-ps-borne1", read_dir(folder).days, NOW)
    assert later.added == 3
    rows = read_counts(store, ["noumea-ps"], DAY, DAY)
    assert totals(rows, "tiles") == {"caf": 5, "ameli": 1}
    assert totals(rows, "answers") == {"oui": 2, "sans_reponse": 1, "non": 1}


@pytest.mark.parametrize("name, body, why", [
    ("counts-2026-09-22.json", "{not json", "not a counter file"),
    ("counts-2026-09-22.json", json.dumps({"day": "2026-09-21", "tiles": {}}),
     "'day' is not 2026-09-22"),
    ("counts-2026-09-22.json", json.dumps({"day": "2026-09-22", "tiles": {"caf": -1}}),
     "not a key and a count"),
    ("counts-2026-09-22.json", json.dumps({"day": "2026-09-22", "tiles": {"<script>": 1}}),
     "not a key and a count"),
    ("counts-2026-09-22.json", json.dumps({"day": "2026-09-22", "answers": ["oui"]}), "not a mapping"),
    ("counts-2026-02-30.json", json.dumps({"day": "2026-02-30"}), "not a counter file"),
    ("wipe.jsonl", "{}", "not a counter file name"),
])
def test_what_is_not_a_counter_is_skipped_with_its_reason(name: str, body: str, why: str) -> None:
    got = parse_file(name, body, f"borne1/{name}")
    assert isinstance(got, str) and got.startswith(f"borne1/{name}: ") and why in got


def test_a_bad_file_does_not_stop_the_good_ones(tmp_path: Path) -> None:
    write(tmp_path, "2026-09-21", {"day": "2026-09-21", "tiles": {"caf": 1}})
    write(tmp_path, "2026-09-22", {"day": "2026-09-20"})
    parsed = read_dir(tmp_path)
    assert list(parsed.days) == [date(2026, 9, 21)] and len(parsed.skipped) == 1
