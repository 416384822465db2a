"""Dashboard benchmark: the national scale (issue 14).

A store with ``--devices`` devices (25,000: the France Services network) in sites of 10,
``--events`` incident events (1,000,000, about 5 per incident, a few thousand still open) and
``--days`` days (30) of reachability state changes; the real application (``fleet.web``) served
by uvicorn in its own process, exactly as ``fleet web`` runs it (one process); 20 concurrent
clients (httpx, HTTP/1.1 keep-alive, logged in) in this process.

Pages: the overview (``/``), a site page (``/sites/<id>``, a different site each time) and the
incidents list (``/incidents``: open incidents, first page; and ``?status=all`` the whole
history, first page).  Two loads:

* ``paced``: each client asks, waits for the answer, then pauses ``--think`` seconds (a hotline
  operator does not reload 100 times a second) — the latency a user sees;
* ``saturated``: each client asks again as soon as it has its answer — the server's throughput
  and the latency when it is the bottleneck.

The peer, LibreNMS-style "no pagination": the same incidents page with every row on one page
(the application built with a page size larger than the table); and what the overview would
cost computed on every request (``site_status`` over every site, timed directly) against the
dashboard's, computed once per store change and served from memory.

The store is filled with bulk INSERTs through the SQLAlchemy models (a benchmark needs a
million rows in minutes; the tests use the engine's functions).  Nothing leaves 127.0.0.1.

    .venv/bin/python bench/web.py                        # SQLite and PostgreSQL, full scale
    .venv/bin/python bench/web.py --backends sqlite --devices 2500 --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import re
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import insert

from fleet.inventory.models import (
    WEEKDAYS,
    Contact,
    Coordinates,
    Device,
    DeviceKind,
    Inventory,
    OpeningHours,
    OpeningRange,
    Site,
    SiteKind,
    Source,
    Supplier,
)
from fleet.store import Store, open_store
from fleet.store.models import Incident, IncidentEvent, Observation, StateChange
from fleet.store.users import create_user

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Paris
KINDS = [
    DeviceKind.GATEWAY,
    DeviceKind.SWITCH,
    DeviceKind.AP,
    DeviceKind.PUBLIC_PC,
    DeviceKind.PUBLIC_PC,
    DeviceKind.PUBLIC_PC,
    DeviceKind.BORNE,
    DeviceKind.PRINTER,
    DeviceKind.PUBLIC_PC,
    DeviceKind.UPS,
]
PASSWORD = "bench password 123"


# ----------------------------------------------------------------------------- data ------


def inventory(n_devices: int, seed: int = 7) -> Inventory:
    rnd = random.Random(seed)
    day = (OpeningRange(start=9 * 60, end=12 * 60), OpeningRange(start=13 * 60 + 30, end=17 * 60))
    hours = OpeningHours(
        timezone="Europe/Paris", week={d: (day if d not in ("sat", "sun") else ()) for d in WEEKDAYS}
    )
    sites = []
    for s in range(max(1, n_devices // 10)):
        sid = f"fs-{s:05d}"
        dep = f"{rnd.randint(1, 95):02d}"
        devices = tuple(
            Device(
                hostname=f"{sid}-{k.value}{i}",
                kind=k,
                ip=IPv4Address(f"10.{s // 250}.{s % 250}.{i + 10}"),
                site_id=sid,
                serial=f"SN{s:05d}{i:02d}",
                source=Source(file="bench"),
            )
            for i, k in enumerate(KINDS)
        )
        sites.append(
            Site(
                id=sid,
                name=f"France Services n° {s}",
                kind=SiteKind.FRANCE_SERVICES,
                address="1 place de la Mairie",
                commune=f"Commune {s}",
                postcode=f"{dep}{rnd.randint(0, 999):03d}",
                coordinates=Coordinates(lat=rnd.uniform(42.5, 50.8), lon=rnd.uniform(-4.3, 7.8)),
                timezone="Europe/Paris",
                hours=hours,
                management=IPv4Network(f"10.{s // 250}.{s % 250}.0/24"),
                referent=Contact(name="Animateur"),
                sav=Supplier(name="SAV régional", phone="+33 1 00 00 00 00"),
                devices=devices,
                source=Source(file="bench"),
            )
        )
    return Inventory(root="bench", sites=tuple(sites))


def fill(store: Store, inv: Inventory, events: int, days: int, seed: int = 11) -> dict[str, int]:
    """Bulk rows: observations, state changes over ``days``, incidents and their events."""
    rnd = random.Random(seed)
    devices = [d for s in inv.sites for d in s.devices]
    start = NOW - timedelta(days=days)
    counts = {"observations": 0, "state_changes": 0, "incidents": 0, "events": 0}

    def flush(model: object, rows: list[dict[str, object]]) -> None:
        if rows:
            with store.write() as session:
                session.execute(insert(model), rows)  # type: ignore[arg-type]
            rows.clear()

    obs: list[dict[str, object]] = []
    changes: list[dict[str, object]] = []
    down_now = set(rnd.sample(range(len(devices)), k=max(1, len(devices) // 100)))
    for i, d in enumerate(devices):
        status = "down" if i in down_now else "up"
        obs.append(
            {
                "device": d.hostname,
                "check": "reachability",
                "site_id": d.site_id,
                "at": NOW,
                "status": status,
                "reason": "timeout" if status == "down" else None,
                "since": NOW - timedelta(hours=1),
                "value": None,
                "suppressed": None,
                "state": {},
            }
        )
        t, cur = start, "unknown"
        for _ in range(rnd.randint(2, 12)):  # a few flaps per device over the period
            t += timedelta(minutes=rnd.randint(60, days * 24 * 60 // 8))
            if t >= NOW:
                break
            new = "down" if cur == "up" else "up"
            changes.append(
                {
                    "device": d.hostname,
                    "site_id": d.site_id,
                    "check": "reachability",
                    "at": t,
                    "from_status": cur,
                    "to_status": new,
                    "reason": None,
                    "suppressed": None,
                    "detail": None,
                }
            )
            cur = new
        if len(obs) >= 5000:
            counts["observations"] += len(obs)
            flush(Observation, obs)
        if len(changes) >= 20000:
            counts["state_changes"] += len(changes)
            flush(StateChange, changes)
    counts["observations"] += len(obs)
    counts["state_changes"] += len(changes)
    flush(Observation, obs)
    flush(StateChange, changes)

    n_incidents = max(1, events // 5)
    open_share = max(1, len(devices) // 8)  # ~3,000 open at 25k devices
    incidents: list[dict[str, object]] = []
    evs: list[dict[str, object]] = []
    next_id = 1
    for k in range(n_incidents):
        d = devices[rnd.randrange(len(devices))]
        opened = start + timedelta(seconds=rnd.randint(0, days * 86400 - 3600))
        is_open = k >= n_incidents - open_share
        status = rnd.choice(("open", "acknowledged", "in_progress")) if is_open else "closed"
        check = (
            f"check{k}" if is_open else "reachability"
        )  # the partial unique index: one open per (device, check)
        sev = rnd.choice(("critical", "major", "major", "minor", "info"))
        incidents.append(
            {
                "id": next_id,
                "device": d.hostname,
                "site_id": d.site_id,
                "check": check,
                "status": status,
                "reason": "timeout",
                "severity": sev,
                "title": f"{d.hostname} does not answer",
                "root_cause": False,
                "opened_at": opened,
                "updated_at": opened,
                "acknowledged_at": None,
                "acknowledged_by": None,
                "acknowledged_until": None,
                "assigned_to": None,
                "resolved_at": None if is_open else opened + timedelta(hours=2),
                "resolved_by": None,
                "closed_at": None if is_open else opened + timedelta(hours=3),
            }
        )
        for j, kind in enumerate(("opened", "acknowledged", "note", "resolved", "closed")):
            evs.append(
                {
                    "incident_id": next_id,
                    "at": opened + timedelta(minutes=30 * j),
                    "kind": kind,
                    "actor": "bench",
                    "text": f"{kind} {k}",
                    "data": {},
                }
            )
        next_id += 1
        if len(evs) >= 50000:
            counts["incidents"] += len(incidents)
            counts["events"] += len(evs)
            flush(Incident, incidents)
            flush(IncidentEvent, evs)
    counts["incidents"] += len(incidents)
    counts["events"] += len(evs)
    flush(Incident, incidents)
    flush(IncidentEvent, evs)
    if store.dialect == "postgresql":
        from sqlalchemy import text

        with store.write() as session:
            session.execute(text("SELECT setval('incidents_id_seq', (SELECT max(id) FROM incidents))"))
            session.execute(text("ANALYZE"))
    create_user(store, "bench", "hotline", PASSWORD, NOW - timedelta(days=1))
    return counts


# --------------------------------------------------------------------------- server ------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, inv: Inventory, port: int, page_size: int, ttl: float) -> None:
    import uvicorn

    from fleet.web import WebConfig, create_app

    store = open_store(url, migrate=False)
    app = create_app(
        store,
        inv,
        clock=lambda: NOW,
        config=WebConfig(housekeeping_s=0, page_size=page_size, overview_ttl_s=ttl),
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, proxy_headers=False)


@contextlib.contextmanager
def server(url: str, inv: Inventory, *, page_size: int = 50, ttl: float = 15.0) -> Iterator[str]:
    port = _free_port()
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_serve, args=(url, inv, port, page_size, ttl), daemon=True)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            break
        except httpx.TransportError:
            if not proc.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the dashboard did not start") from None
            time.sleep(0.2)
    try:
        yield base
    finally:
        proc.terminate()
        proc.join(20)


def login(client: httpx.Client) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    r = client.post("/login", data={"name": "bench", "password": PASSWORD, "csrf": token.group(1)})
    assert r.status_code == 303, r.status_code


# --------------------------------------------------------------------------- clients -----


async def load(base: str, cookies: httpx.Cookies, paths: list[str], clients: int, requests: int,
               think: float) -> tuple[list[float], float]:  # fmt: skip
    """``clients`` concurrent clients share ``requests`` requests; latencies (s) and wall time."""
    latencies: list[float] = []
    queue = list(range(requests))

    async def one(c: int) -> None:
        async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=120) as client:
            if think:  # operators do not all click at the same instant
                await asyncio.sleep(think * random.random())
            while queue:
                i = queue.pop()
                t0 = time.perf_counter()
                r = await client.get(paths[i % len(paths)])
                latencies.append(time.perf_counter() - t0)
                assert r.status_code == 200, (paths[i % len(paths)], r.status_code)
                if think:
                    await asyncio.sleep(think * (0.5 + random.random()))

    t0 = time.perf_counter()
    await asyncio.gather(*(one(c) for c in range(clients)))
    return latencies, time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def measure(base: str, name: str, paths: list[str], args: argparse.Namespace) -> dict[str, object]:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=600) as c:
        login(c)
        for p in paths[:3]:  # warm the caches as a running dashboard has them
            assert c.get(p).status_code == 200
        cookies = c.cookies
    out: dict[str, object] = {"page": name}
    for mode, think, n in (("paced", args.think, args.paced_requests), ("saturated", 0.0, args.requests)):
        lat, wall = asyncio.run(load(base, cookies, paths, args.clients, n, think))
        out[mode] = (pct(lat, 0.5), pct(lat, 0.95), len(lat) / wall)
    return out


def single(base: str, path: str, n: int) -> tuple[float, float, int]:
    """Sequential requests of a heavy page: median latency (ms), p95 and the body size."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=600) as c:
        login(c)
        lat, size = [], 0
        for _ in range(n):
            t0 = time.perf_counter()
            r = c.get(path)
            lat.append(time.perf_counter() - t0)
            assert r.status_code == 200
            size = len(r.content)
    return statistics.median(lat) * 1000, pct(lat, 0.95), size


# ------------------------------------------------------------------------------ main -----


@contextlib.contextmanager
def backend(name: str, tmp: Path) -> Iterator[str]:
    if name == "sqlite":
        yield f"sqlite:///{tmp}/bench.sqlite"
        return
    from fleet.store.testing import throwaway_postgres

    with throwaway_postgres() as pg:
        yield pg.create_database("bench")


def run(name: str, args: argparse.Namespace, inv: Inventory) -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="relais-bench-web-") as tmp, backend(name, Path(tmp)) as url:
        store = open_store(url)
        t0 = time.perf_counter()
        counts = fill(store, inv, args.events, args.days)
        store.dispose()
        print(f"[{name}] store filled in {time.perf_counter() - t0:.0f} s: {counts}", flush=True)
        rnd = random.Random(3)
        site_paths = [f"/sites/{rnd.choice(inv.sites).id}" for _ in range(200)]
        with server(url, inv) as base:
            for page, paths in (
                ("overview", ["/"]),
                ("site page", site_paths),
                ("incidents (open)", ["/incidents"]),
                ("incidents (all)", ["/incidents?status=all"]),
            ):
                result = measure(base, page, paths, args)
                rows.append({"backend": name, **result})
                print(
                    f"[{name}] {page}: paced p50/p95 {result['paced'][0]:.1f}/{result['paced'][1]:.1f} ms; "  # type: ignore[index]
                    f"saturated p50/p95 {result['saturated'][0]:.1f}/{result['saturated'][1]:.1f} ms, "  # type: ignore[index]
                    f"{result['saturated'][2]:.0f} req/s",
                    flush=True,
                )  # type: ignore[index]
            ours = single(base, "/incidents?status=all", 10)
        # the peer: every incident on one page (a server whose page size exceeds the table)
        with server(url, inv, page_size=10**9) as base:
            nopage = single(base, "/incidents?status=all", 3)
        with server(url, inv) as base:
            overview_cached = single(base, "/", 20)
        # what the overview would cost without its cache: computing it (site_status, the
        # function `fleet status` calls) for every request, timed directly
        from fleet.incidents.status import site_status

        store = open_store(url, migrate=False)
        spent = []
        for _ in range(3):
            t0 = time.perf_counter()
            site_status(store, inv.sites, NOW)
            spent.append(time.perf_counter() - t0)
        store.dispose()
        overview_nocache = (statistics.median(spent) * 1000, max(spent) * 1000, 0)
        rows.append(
            {
                "backend": name,
                "page": "no pagination",
                "ours": ours,
                "peer": nopage,
                "overview_cached": overview_cached,
                "overview_nocache": overview_nocache,
            }
        )
        print(
            f"[{name}] incidents, all: ours (50 rows) median {ours[0]:.1f} ms, {ours[2] // 1024} KiB; "
            f"LibreNMS-style one page median {nopage[0]:.0f} ms, {nopage[2] // 1024} KiB "
            f"(x{nopage[0] / ours[0]:.0f})",
            flush=True,
        )
        print(
            f"[{name}] overview: cached median {overview_cached[0]:.1f} ms; computed every request "
            f"median {overview_nocache[0]:.0f} ms",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=25_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1000, help="saturated: requests per page")
    parser.add_argument("--paced-requests", type=int, default=400, help="paced: requests per page")
    parser.add_argument(
        "--think", type=float, default=1.0, help="paced: mean pause between a client's requests (s)"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    t0 = time.perf_counter()
    inv = inventory(args.devices)
    print(
        f"inventory: {len(inv.sites)} sites, {len(inv.devices)} devices ({time.perf_counter() - t0:.1f} s); "
        f"{args.clients} clients; {os.cpu_count()} CPUs",
        flush=True,
    )
    rows = []
    for name in args.backends.split(","):
        rows += run(name.strip(), args, inv)
    print("\n| backend | page | paced p50 | paced p95 | saturated p50 | saturated p95 | req/s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if "paced" in r:
            p, s = r["paced"], r["saturated"]
            cells = [f"{p[0]:.1f} ms", f"{p[1]:.1f} ms", f"{s[0]:.1f} ms", f"{s[1]:.1f} ms", f"{s[2]:.0f}"]  # type: ignore[index]
            print(f"| {r['backend']} | {r['page']} | " + " | ".join(cells) + " |")
    for r in rows:
        if "peer" in r:
            o, p = r["ours"], r["peer"]
            print(
                f"\n{r['backend']}: incidents (all) ours {o[0]:.1f} ms / {o[2] // 1024} KiB vs one page "  # type: ignore[index]
                f"{p[0]:.0f} ms / {p[2] // 1024} KiB: x{p[0] / o[0]:.0f} slower; overview cached "  # type: ignore[index]
                f"{r['overview_cached'][0]:.1f} ms vs computed {r['overview_nocache'][0]:.0f} ms"
            )  # type: ignore[index]


if __name__ == "__main__":
    main()
