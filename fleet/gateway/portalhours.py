"""The portal's opening-hours gate: when a site asks for it, its public wifi only works while
the site is open.

Standard library only: the ``captive_portal`` role installs this module on the gateway as
``relais-portal-hours``; a systemd timer runs ``relais-portal-hours apply`` every minute.  The
site's semainier is read from a JSON file the role writes from the inventory (the very
``site_opening_hours`` / ``site_closures`` / ``site_timezone`` values); the rules are those of
:mod:`fleet.inventory.hours` (ranges in local time, ``+1`` crossing midnight, closures cancel
the ranges that start on their dates), which ``tests/gateway`` checks minute by minute.

Closed means: the guest interface is in the nft set ``closed`` of table ``inet relais_portal``
(forwarding from it is dropped) and every authenticated client is de-authenticated.  The clock
is injectable (``--now``, or ``RELAIS_NOW`` in ``/etc/default/relais-portal-hours``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})(\+1)?$")


try:  # on the controller an HoursError is a FleetError; on the gateway (stdlib only) a ValueError
    from fleet.errors import HoursError
except ImportError:  # pragma: no cover - only on the gateway

    class HoursError(ValueError):  # type: ignore[no-redef]
        """The opening-hours file is unusable."""


def parse_range(text: str) -> tuple[int, int]:
    m = _RANGE.match(str(text).strip())
    if not m:
        raise HoursError(f"opening range {text!r}: expected 'HH:MM-HH:MM' or '…+1'")
    h1, m1, h2, m2, plus = m.groups()
    start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
    if end == 0 and not plus:
        end = 1440
    if plus:
        end += 1440
    if not 0 <= start < 1440 or end <= start:
        raise HoursError(f"opening range {text!r}: reversed or out of the day")
    return start, end


def _wall_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """First UTC instant at which the wall clock shows ``local`` or later (as
    :func:`fleet.inventory.hours.wall_to_utc`)."""
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    lo, hi = local.replace(tzinfo=tz, fold=1).astimezone(UTC), first
    if lo > hi:
        lo, hi = hi, lo
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= local:
            hi = mid
        else:
            lo = mid
    return hi


def _closures(raw: Sequence[Mapping[str, Any]]) -> list[tuple[date, date]]:
    out = []
    for c in raw:
        start = c.get("from", c.get("date"))
        end = c.get("to", start)
        out.append((date.fromisoformat(str(start)), date.fromisoformat(str(end))))
    return out


def is_open(config: Mapping[str, Any], instant: datetime) -> bool:
    """Is the site open at ``instant`` (aware)?  ``config``: ``timezone``, ``week`` (day ->
    list of ranges), ``closures`` (``{from, to}`` or ``{date}``)."""
    if instant.tzinfo is None:
        raise HoursError("is_open needs an aware datetime")
    tz = ZoneInfo(str(config.get("timezone", "UTC")))
    week = {d: [parse_range(r) for r in (config.get("week") or {}).get(d) or []] for d in DAYS}
    closed = _closures(config.get("closures") or [])
    t = instant.astimezone(UTC)
    local_day = t.astimezone(tz).date()
    for day in (local_day - timedelta(days=1), local_day):
        if any(a <= day <= b for a, b in closed):
            continue
        midnight = datetime(day.year, day.month, day.day)
        for start, end in week[DAYS[day.weekday()]]:
            o = _wall_to_utc(midnight + timedelta(minutes=start), tz)
            c = _wall_to_utc(midnight + timedelta(minutes=end), tz)
            if o <= t < c:
                return True
    return False


def _nft(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nft", *args], capture_output=True, text=True, check=False)


def gate_closed(table: str, interface: str) -> bool:
    out = _nft(["list", "set", "inet", table, "closed"]).stdout
    return f'"{interface}"' in out


def apply(config: Mapping[str, Any], now: datetime, table: str = "relais_portal",
          ndsctl: str = "ndsctl") -> dict[str, object]:
    """Open or close the guest network for ``now``; returns what it did."""
    interface = str(config["interface"])
    want_open = bool(config.get("always_open")) or is_open(config, now)
    was_closed = gate_closed(table, interface)
    changed = False
    if want_open and was_closed:
        _nft(["delete", "element", "inet", table, "closed", f'{{ "{interface}" }}'])
        changed = True
    elif not want_open and not was_closed:
        _nft(["add", "element", "inet", table, "closed", f'{{ "{interface}" }}'])
        changed = True
    deauthed = 0
    if not want_open:
        try:
            data = json.loads(subprocess.run([ndsctl, "json"], capture_output=True, text=True,
                                             timeout=20, check=False).stdout or "{}")
        except (OSError, ValueError, subprocess.TimeoutExpired):
            data = {}
        clients = data.get("clients", {}) if isinstance(data, dict) else {}
        for c in (clients.values() if isinstance(clients, dict) else []):
            if isinstance(c, dict) and "authenticated" in str(c.get("state", "")).lower() \
                    and c.get("ip"):
                subprocess.run([ndsctl, "deauth", str(c["ip"])], capture_output=True,
                               timeout=20, check=False)
                deauthed += 1
    return {"open": want_open, "changed": changed, "deauthenticated": deauthed,
            "at": now.astimezone(UTC).isoformat()}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="relais-portal-hours", description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=Path("/etc/relais/portal-hours.json"))
    ap.add_argument("--now", help="fixed current time, ISO 8601 (tests); else $RELAIS_NOW")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status", help="print whether the site is open now")
    sub.add_parser("apply", help="open or close the guest network accordingly")
    args = ap.parse_args(argv)
    try:
        config = json.loads(args.config.read_text("utf-8"))
        fixed = args.now or os.environ.get("RELAIS_NOW") or ""
        now = datetime.fromisoformat(fixed) if fixed else datetime.now(UTC)
        if now.tzinfo is None:
            raise HoursError(f"--now {fixed!r}: give a timezone offset")
        if args.cmd == "status":
            print(json.dumps({"open": is_open(config, now)}))
        else:
            print(json.dumps(apply(config, now)))
    except (OSError, ValueError, KeyError) as exc:
        print(f"relais-portal-hours: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
