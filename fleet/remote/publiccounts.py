"""Collect the stations' per-day counters (issue 17) into the store, with the wipe records.

The start page (``relais-startpage``) and the end-of-session question (``relais-question``)
write one small JSON file per local day beside the wipe record, ``/var/log/relais/
counts-YYYY-MM-DD.json``: ``{"day": …, "tiles": {tile: n}, "answers": {answer: n}}``.  This
module copies them over SSH (read-only, ``sudo cat``, as :mod:`fleet.remote.connlog` does for
the gateways; the audit's wipe-record collection reads the same directory) and stores them
with :func:`fleet.store.publiccounts.import_counts`, idempotent: a file collected twice is
counted once.  A file or an entry that is not a counter is skipped and reported as
``file: why``; nothing else is ever read from a station.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from pyinfra.api.state import State

from fleet.errors import ConfigError
from fleet.inventory.models import Device, DeviceKind, Site
from fleet.remote.pyinfra_run import HostOutcome, Target, run
from fleet.store.db import Store
from fleet.store.publiccounts import SECTIONS, CountsImport, DayFile, import_counts

COUNTS_DIR = "/var/log/relais"
COUNT_FILES = re.compile(r"^counts-(\d{4}-\d{2}-\d{2})\.json$")
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_MARK = "### relais-counts "
STATIONS = (DeviceKind.PUBLIC_PC, DeviceKind.BORNE)


@dataclass(frozen=True, slots=True)
class ParsedCounts:
    days: dict[date, DayFile]
    skipped: tuple[str, ...] = ()


def parse_file(name: str, text: str, source: str) -> tuple[date, DayFile] | str:
    """One counter file -> (day, counts), or why it is not one (``source: why``)."""
    m = COUNT_FILES.match(name)
    if m is None:
        return f"{source}: not a counter file name"
    try:
        day = date.fromisoformat(m.group(1))
        data = json.loads(text)
    except ValueError as exc:
        return f"{source}: not a counter file ({type(exc).__name__})"
    if not isinstance(data, dict) or data.get("day") != day.isoformat():
        return f"{source}: its 'day' is not {day.isoformat()}"
    out: dict[str, dict[str, int]] = {}
    for section in SECTIONS:
        values = data.get(section, {})
        if not isinstance(values, dict):
            return f"{source}: {section} is not a mapping"
        good = {k: v for k, v in values.items()
                if isinstance(k, str) and KEY.match(k) and isinstance(v, int)
                and not isinstance(v, bool) and 0 <= v < 10_000_000}
        if len(good) != len(values):
            return f"{source}: {section}: an entry is not a key and a count"
        if good:
            out[section] = good
    return day, out


def read_dir(folder: Path) -> ParsedCounts:
    """Every counter file of a station's fetched folder."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a directory")
    days: dict[date, DayFile] = {}
    skipped: list[str] = []
    for path in sorted(folder.iterdir()):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            skipped.append(f"{path}: cannot read ({exc.strerror})")
            continue
        got = parse_file(path.name, text, str(path))
        if isinstance(got, str):
            skipped.append(got)
        else:
            days[got[0]] = got[1]
    return ParsedCounts(days, tuple(skipped))


def split_stream(lines: Sequence[str]) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line.startswith(_MARK):
            name = Path(line[len(_MARK):].strip()).name
            current = out.setdefault(name, []) if COUNT_FILES.match(name) else None
        elif current is not None:
            current.append(line)
    return {name: "\n".join(body) for name, body in out.items()}


def fetch_counts(targets: Sequence[Target], dest: Path,
                 counts_dir: str = COUNTS_DIR) -> list[HostOutcome]:
    """Copy each target's counter files to ``dest/<hostname>/`` (nothing changes on it)."""

    def after(state: State) -> dict[str, str]:
        messages: dict[str, str] = {}
        for host in state.inventory.get_active_hosts():
            cmd = (f"for f in {counts_dir}/counts-*.json; do [ -f \"$f\" ] || continue; "
                   f"echo '{_MARK}'\"$f\"; cat \"$f\"; echo; done")
            ok, output = host.run_shell_command(cmd, _sudo=True)
            if not ok:
                messages[host.name] = f"cannot read {counts_dir}: {output.stderr[-200:]}"
                continue
            files = split_stream(output.stdout_lines)
            folder = dest / host.name
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
            for name, body in files.items():
                (folder / name).write_text(body, "utf-8")
            messages[host.name] = f"{len(files)} files"
        return messages

    return run(targets, lambda _state: None, after)


@dataclass(frozen=True, slots=True)
class CountsCollect:
    site_id: str
    imported: tuple[CountsImport, ...]
    skipped: tuple[str, ...]
    unreachable: dict[str, str]

    def to_json(self) -> dict[str, object]:
        return {"site": self.site_id, "imported": [i.to_json() for i in self.imported],
                "skipped": list(self.skipped), "unreachable": self.unreachable}


def stations(site: Site) -> list[Device]:
    return [d for d in site.devices if d.kind in STATIONS]


def collect_counts(store: Store, site: Site, targets: Sequence[Target], now: datetime) -> CountsCollect:
    """Fetch the counters of the site's stations and store them (idempotent); a station that
    cannot be reached is reported, the others are stored."""
    wanted = {d.hostname for d in stations(site)}
    chosen = [t for t in targets if t.hostname in wanted]
    imported: list[CountsImport] = []
    skipped: list[str] = []
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="relais-counts-") as tmp:
        for outcome in fetch_counts(chosen, Path(tmp)):
            if not outcome.ok:
                failed[outcome.hostname] = outcome.message
                continue
            folder = Path(tmp) / outcome.hostname
            folder.mkdir(exist_ok=True)
            parsed = read_dir(folder)
            skipped += parsed.skipped
            imported.append(import_counts(store, site.id, outcome.hostname, parsed.days, now))
    return CountsCollect(site.id, tuple(imported), tuple(skipped), failed)


__all__ = ["COUNTS_DIR", "CountsCollect", "ParsedCounts", "collect_counts", "fetch_counts",
           "parse_file", "read_dir", "split_stream"]
