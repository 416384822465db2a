"""Central side of the legal connection log: import a gateway's log files into the store,
list a site's sessions, export them for a legal requisition, purge after the retention.

The files are those written by ``relais-connlog`` on the gateway (:mod:`fleet.gateway.connlog`);
fetching them is a remote action (:mod:`fleet.remote.connlog`), importing them is here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleet.errors import ConfigError
from fleet.gateway.connlog import Record, log_files, merge_sessions, read_records
from fleet.store.connlog import (
    RETENTION_DAYS,
    ConnRow,
    purge_records,
    query_records,
    upsert_records,
)
from fleet.store.db import Store

EXPORT_COLUMNS = (
    "site", "gateway", "kind", "start_utc", "end_utc", "client_mac", "client_ip", "protocol",
    "client_port", "public_ip", "public_port",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportResult:
    gateway: str
    files: int
    records: int
    inserted: int
    updated: int


def to_rows(site_id: str, gateway: str, records: Iterable[Record]) -> list[ConnRow]:
    return [
        ConnRow(site_id, gateway, r.kind, r.key, r.at, r.end, r.mac, r.ip, r.proto, r.sport,
                r.public_ip, r.public_port)
        for r in merge_sessions(records)
    ]


def import_dir(store: Store, site_id: str, gateway: str, log_dir: Path,
               now: datetime) -> ImportResult:
    """Import every day file of ``log_dir`` (a copy of the gateway's log directory).  A bad
    line stops the import before anything is written (the error names file and line)."""
    if not log_dir.is_dir():
        raise ConfigError(f"{log_dir}: not a directory")
    files = log_files(log_dir)
    records = list(read_records(files))
    rows = to_rows(site_id, gateway, records)
    inserted, updated = upsert_records(store, rows, now)
    return ImportResult(gateway, len(files), len(rows), inserted, updated)


def parse_zone(text: str, site_timezone: str, flag: str = "--tz") -> ZoneInfo:
    """``--tz``: ``site`` (the site's own timezone) or an IANA zone name (``Europe/Paris``,
    ``UTC``)."""
    name = site_timezone if text.strip().lower() == "site" else text.strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{flag} {text!r}: not a time zone (use 'site' or a name such as "
                          "Europe/Paris or UTC)") from None


def parse_instant(text: str, flag: str, tz: ZoneInfo | None) -> datetime:
    """One ``--from``/``--to`` value as an aware UTC instant.

    A value with an offset (``2026-11-23T14:00+01:00``, ``…Z``) is taken as it is.  A value
    without one (a date alone is midnight) is read in ``tz``; without ``tz`` it is refused: a
    legal requisition names its period, the tool never guesses a zone.  A local time that the
    clock skips or shows twice (DST) is refused too: give the offset."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: not an ISO date or time "
                          "(e.g. 2026-11-23 or 2026-11-23T14:00+01:00)") from None
    if t.tzinfo is not None:
        return t.astimezone(UTC)
    if tz is None:
        raise ConfigError(f"{flag} {text!r}: no time zone: a requisition period must say it "
                          "(add an offset such as +01:00 or Z, or --tz site / --tz Europe/Paris)")
    first, second = t.replace(tzinfo=tz, fold=0), t.replace(tzinfo=tz, fold=1)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != t:
        raise ConfigError(f"{flag} {text!r}: this local time does not exist in {tz.key} "
                          "(clocks go forward): give the offset")
    if first.utcoffset() != second.utcoffset():
        raise ConfigError(f"{flag} {text!r}: this local time occurs twice in {tz.key} "
                          "(clocks go back): give the offset")
    return first.astimezone(UTC)


def parse_period(start: str, end: str, tz: ZoneInfo | None) -> tuple[datetime, datetime]:
    """``--from`` / ``--to`` (see :func:`parse_instant`); ``--to`` must be after ``--from``."""
    a, b = parse_instant(start, "--from", tz), parse_instant(end, "--to", tz)
    if b <= a:
        raise ConfigError(f"--to {end!r}: must be after --from {start!r}")
    return a, b


def sessions(store: Store, site_id: str, start: datetime, end: datetime) -> list[ConnRow]:
    return query_records(store, site_id, start, end, kind="session")


def records(store: Store, site_id: str, start: datetime, end: datetime) -> list[ConnRow]:
    return query_records(store, site_id, start, end)


def _t(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else ""


def row_dict(r: ConnRow) -> dict[str, Any]:
    return {
        "site": r.site_id, "gateway": r.gateway, "kind": r.kind,
        "start_utc": _t(r.started_at), "end_utc": _t(r.ended_at) or None,
        "client_mac": r.client_mac, "client_ip": r.client_ip, "protocol": r.proto,
        "client_port": r.client_port, "public_ip": r.public_ip, "public_port": r.public_port,
    }  # fmt: skip


def export_csv(rows: Sequence[ConnRow], site_id: str, start: datetime, end: datetime,
               generated: datetime, asked_in: ZoneInfo | None = None) -> str:
    """The requisition export: a CSV (UTF-8, ``;``-separated for French spreadsheets) with a
    commented header saying what, where, which period (in UTC, and in the zone the period was
    given in), which records it holds, and the legal basis."""
    out = io.StringIO()
    out.write(f"# Relais - données de connexion du wifi public, site {site_id}\n")
    out.write(f"# période (UTC) : {_t(start)} -> {_t(end)} (fin exclue) ; "
              f"extrait le {_t(generated)}\n")
    if asked_in is not None:
        fmt = "%Y-%m-%d %H:%M:%S%z"
        out.write(f"# période demandée ({asked_in.key}) : {start.astimezone(asked_in):{fmt}} -> "
                  f"{end.astimezone(asked_in):{fmt}}\n")
    out.write("# enregistrements : ceux dont l'intervalle [début, fin] rencontre la période ; "
              "un enregistrement sans heure de fin ne couvre que son heure de début\n")
    out.write("# base légale : CPCE art. L34-1, décret n° 2021-1362 ; "
              f"conservation {RETENTION_DAYS} jours ; ni URL ni requête DNS\n")
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for r in rows:
        d = row_dict(r)
        writer.writerow(["" if d[c] is None else d[c] for c in EXPORT_COLUMNS])
    return out.getvalue()


def write_export(path: Path, text: str) -> None:
    """Write the export (mode 0600: it holds personal data); never overwrites a file."""
    try:
        with path.open("x", encoding="utf-8") as fh:
            fh.write(text)
        path.chmod(0o600)
    except FileExistsError:
        raise ConfigError(f"--out {str(path)!r}: file exists (an export is never overwritten)"
                          ) from None
    except OSError as exc:
        raise ConfigError(f"--out {str(path)!r}: cannot write: {exc.strerror}") from exc


def purge(store: Store, now: datetime, days: int = RETENTION_DAYS) -> int:
    return purge_records(store, now, days)


def dumps(rows: Sequence[ConnRow]) -> str:
    return json.dumps([row_dict(r) for r in rows], ensure_ascii=False, indent=2)
