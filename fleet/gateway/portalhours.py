"""The portal's opening-hours gate: when a site asks for it, its public wifi only works while
the site is open.

Standard library only: the ``captive_portal`` role installs this module on the gateway as
``relais-portal-hours``; a systemd timer runs ``relais-portal-hours apply`` every minute.

It parses no opening hours: "is the site open?" is answered once, by
:mod:`fleet.inventory.hours` on the controller, which writes the answer into
``/etc/relais/portal-hours.json`` as UTC opening intervals over the next months
(:mod:`fleet.gateway.hoursfile`, through the role's ``relais_portal_hours`` filter).  Here an
instant is open when it falls in one of them.  Past the file's horizon (no deploy for a year)
the gate stays open and says so: a wifi that works when it should not is the lesser failure,
and the gateway check flags the horizon two months before it ends.

Closed means: the guest interface is in the nft set ``closed`` of table ``inet relais_portal``
(forwarding from it is dropped) and every authenticated client is de-authenticated (ndsctl
asked again while busy, until openNDS lists none).  The clock
is injectable (``--now``, or ``RELAIS_NOW`` in ``/etc/default/relais-portal-hours``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = 2  # fleet.gateway.hoursfile.FORMAT


try:  # on the controller an HoursError is a FleetError; on the gateway (stdlib only) a ValueError
    from fleet.errors import HoursError
except ImportError:  # pragma: no cover - only on the gateway

    class HoursError(ValueError):  # type: ignore[no-redef]
        """The opening-hours file is unusable."""


def parse_instant(text: object, where: str) -> datetime:
    try:
        t = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise HoursError(f"{where}: not an ISO 8601 time: {text!r}") from None
    if t.tzinfo is None:
        raise HoursError(f"{where}: time without a timezone: {text!r}")
    return t.astimezone(UTC)


def intervals(config: Mapping[str, Any]) -> tuple[datetime, datetime, list[tuple[datetime, datetime]]]:
    """(valid_from, valid_until, opening intervals) of a file written by the role."""
    if config.get("format") != FORMAT or "open" not in config:
        raise HoursError("not an opening-intervals file (format 2, written by the "
                         "captive_portal role from the inventory): re-deploy the gateway")
    out = []
    for i, pair in enumerate(config["open"]):
        if not isinstance(pair, list) or len(pair) != 2:
            raise HoursError(f"open[{i}]: expected [start, end], got {pair!r}")
        out.append((parse_instant(pair[0], f"open[{i}]"), parse_instant(pair[1], f"open[{i}]")))
    return (parse_instant(config.get("valid_from"), "valid_from"),
            parse_instant(config.get("valid_until"), "valid_until"), out)


def state(config: Mapping[str, Any], instant: datetime) -> tuple[bool, str]:
    """(open?, why) at ``instant`` (aware)."""
    if instant.tzinfo is None:
        raise HoursError("the gate needs an aware datetime (with a timezone)")
    if config.get("always_open"):
        return True, "always open (captive_portal_follow_opening_hours is false)"
    start, end, spans = intervals(config)
    t = instant.astimezone(UTC)
    if not start <= t < end:
        return True, (f"outside the hours file's horizon ({start:%Y-%m-%d} to {end:%Y-%m-%d}): "
                      "left open; re-deploy the gateway")
    if any(a <= t < b for a, b in spans):
        return True, "open hours"
    return False, "closed hours"


def is_open(config: Mapping[str, Any], instant: datetime) -> bool:
    """Is the wifi to be open at ``instant``?"""
    return state(config, instant)[0]


def _nft(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nft", *args], capture_output=True, text=True, check=False)


def gate_closed(table: str, interface: str) -> bool:
    out = _nft(["list", "set", "inet", table, "closed"]).stdout
    return f'"{interface}"' in out


def _authenticated_macs(ndsctl: str, deadline: float, pause: float) -> list[str] | None:
    """MAC addresses of the clients openNDS lists as authenticated, asked until ``deadline``:
    ndsctl answers one caller at a time (relais-connlog asks every few seconds) and prints a
    line, not a client list, to the others.  ``None``: no list came, which is not "nobody".

    MACs, not IP addresses: openNDS knows a client by its MAC, and finds one "by IP" as the
    first of its list with that address.  A stale entry with the same address (a device that
    had the address before, a lease given again) then took the de-authentication, and the
    authenticated guest stayed on past closing time (a lab run of 2026-12-02)."""
    while True:
        try:
            data = json.loads(subprocess.run([ndsctl, "json"], capture_output=True, text=True,
                                             timeout=20, check=False).stdout or "null")
        except (OSError, ValueError, subprocess.TimeoutExpired):
            data = None
        clients = data.get("clients") if isinstance(data, dict) else None
        if isinstance(clients, (dict, list)):
            pairs = (clients.items() if isinstance(clients, dict)
                     else ((None, c) for c in clients))
            return [str(c.get("mac") or key).lower() for key, c in pairs
                    if isinstance(c, dict) and (c.get("mac") or key)
                    and str(c.get("state", "")).strip().lower() == "authenticated"]
        if time.monotonic() >= deadline:
            return None
        time.sleep(pause)


def deauth_all(ndsctl: str = "ndsctl", within: float = 30, pause: float = 0.5) -> int:
    """De-authenticate every authenticated client, by its MAC, asking again until openNDS
    lists none (a busy ndsctl refuses a question: read as "no client" it left guests
    authenticated past closing time).  Returns how many distinct clients were
    de-authenticated.  The journal gets counts, never a guest's address."""
    deadline = time.monotonic() + within
    done: set[str] = set()
    while (macs := _authenticated_macs(ndsctl, deadline, pause)):
        for mac in macs:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):  # asked again next pass
                subprocess.run([ndsctl, "deauth", mac], capture_output=True, timeout=20,
                               check=False)
            done.add(mac)
        if time.monotonic() >= deadline:
            print(f"relais-portal-hours: {len(macs)} client(s) still authenticated after "
                  f"{within:g} s", file=sys.stderr)
            break
        time.sleep(pause)
    if macs is None:
        print("relais-portal-hours: ndsctl gave no client list", file=sys.stderr)
    return len(done)


def apply(config: Mapping[str, Any], now: datetime, table: str = "relais_portal",
          ndsctl: str = "ndsctl") -> dict[str, object]:
    """Open or close the guest network for ``now``; returns what it did."""
    interface = str(config["interface"])
    want_open, why = state(config, now)
    was_closed = gate_closed(table, interface)
    changed = False
    if want_open and was_closed:
        _nft(["delete", "element", "inet", table, "closed", f'{{ "{interface}" }}'])
        changed = True
    elif not want_open and not was_closed:
        _nft(["add", "element", "inet", table, "closed", f'{{ "{interface}" }}'])
        changed = True
    deauthed = deauth_all(ndsctl) if not want_open else 0
    return {"open": want_open, "why": why, "changed": changed, "deauthenticated": deauthed,
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
            is_on, why = state(config, now)
            print(json.dumps({"open": is_on, "why": why}))
        else:
            print(json.dumps(apply(config, now)))
    except (OSError, ValueError, KeyError) as exc:
        print(f"relais-portal-hours: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
