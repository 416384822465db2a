"""Crash safety: pollers killed with SIGKILL mid-cycle, and two pollers with overlapping shards
on one PostgreSQL, never produce duplicate incidents nor lose state changes.

The workers (``tests/incidents/crash_worker.py``) run the real cycle code against the real store
with deterministic samples.  Every kill lands where the test means it to, whatever the
machine's speed: each worker is told a checkpoint of the cycle (a site's write transaction just
begun and holding its lock, or a device's writes done and not yet committed) where it announces
itself and waits; the test SIGKILLs it then.  The store is then checked for its invariants:

* at most one open incident per (device, check), and incidents of a (device, check) never
  overlap in time (each one was resolved before the next opened);
* per (device, check), the recorded state changes form an unbroken chain from ``unknown`` to the
  current status (each change starts where the previous one ended): nothing lost, nothing
  applied twice;
* every unsuppressed "down" has its open incident and every open incident is on a check that
  is down or flapping.
"""

from __future__ import annotations

import itertools
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from fleet.monitor.cycle import parse_shard, sites_of_shard
from fleet.store import Store, open_store
from fleet.store.models import OPEN_STATUSES, Incident, Observation, SampleRow, StateChange
from fleet.store.testing import PostgresServer
from tests.incidents.samples import REPO, demo_inventory

pytestmark = pytest.mark.slow

CYCLES = 18




def per_cycle(shard: str) -> dict[str, int]:
    """Checkpoints per cycle of a shard of the demo inventory: one ``site_locked`` per site,
    one ``device_written`` per device.  A pause chosen within these counts is reached during
    the worker's first cycle, so each killed worker advances the store by less than a cycle
    and the kills (at most 14 in a row) never run out of cycles."""
    sites = sites_of_shard(demo_inventory().sites, parse_shard(shard))
    return {"site_locked": len(sites), "device_written": sum(len(s.devices) for s in sites)}


PAUSE_WAIT_S = 300
"""How long to wait for a worker to announce its pause: generous, reached in a second here."""


@dataclass(frozen=True)
class Kill:
    shard: str
    point: str
    site: str
    device: str
    cycle: int
    now: datetime


def _spawn(url: str, shard: str, cycles: int = CYCLES, pause: str | None = None) -> subprocess.Popen[bytes]:
    extra = ["--pause-at", pause] if pause else []
    return subprocess.Popen(
        [sys.executable, "-m", "tests.incidents.crash_worker", "--db", url, "--shard", shard,
         "--cycles", str(cycles), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("FLEET_")},
    )  # fmt: skip


def _finish(proc: subprocess.Popen[bytes]) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"worker failed ({proc.returncode}): {err.decode()[-2000:]}"
    return out.decode()


def _pause(rng: random.Random, shard: str) -> str:
    point = rng.choice(["site_locked", "device_written", "device_written"])
    return f"{point}:{rng.randint(1, per_cycle(shard)[point])}"


def _next_pause(procs: dict[str, subprocess.Popen[bytes]], buffers: dict[str, bytes]) -> Kill:
    """Read the workers' output until one announces its pause (it then waits for SIGKILL)."""
    deadline = time.monotonic() + PAUSE_WAIT_S
    with selectors.DefaultSelector() as sel:
        for shard, proc in procs.items():
            assert proc.stdout is not None
            sel.register(proc.stdout, selectors.EVENT_READ, shard)
        while True:
            for shard in procs:
                while b"\n" in buffers[shard]:
                    line, buffers[shard] = buffers[shard].split(b"\n", 1)
                    if line.startswith(b"paused "):
                        _, point, site, device, cycle, now = line.decode().split(" ")
                        return Kill(shard, point, site, device, int(cycle),
                                    datetime.fromisoformat(now))  # fmt: skip
            left = deadline - time.monotonic()
            assert left > 0, f"no worker paused within {PAUSE_WAIT_S} s"
            for key, _ in sel.select(left):
                shard = key.data
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    proc = procs[shard]
                    proc.wait(60)
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise AssertionError(
                        f"worker {shard} ended ({proc.returncode}) before its pause: {err[-2000:]}"
                    )
                buffers[shard] += chunk


def kill_loop(url: str, shards: list[str], kills: int, seed: int) -> list[Kill]:
    """Start one worker per shard, each told where to pause (a random checkpoint within its
    first cycle); SIGKILL each one exactly there, restart it with a new pause, ``kills`` times;
    then let fresh workers finish.  Returns where each kill landed."""
    rng = random.Random(seed)
    procs = {s: _spawn(url, s, pause=_pause(rng, s)) for s in shards}
    buffers = dict.fromkeys(shards, b"")
    landed: list[Kill] = []
    try:
        while len(landed) < kills:
            kill = _next_pause(procs, buffers)
            victim = procs[kill.shard]
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=60)
            assert victim.returncode == -signal.SIGKILL, (kill, victim.returncode)
            landed.append(kill)
            procs[kill.shard] = _spawn(url, kill.shard, pause=_pause(rng, kill.shard))
            buffers[kill.shard] = b""
    finally:
        for proc in procs.values():
            proc.kill()
            proc.communicate(timeout=60)
    # Fresh workers, one after the other, to bring every device to the last cycle.
    for s in shards:
        _finish(_spawn(url, s))
    return landed


def check_invariants(store: Store) -> dict[str, int]:
    with store.read() as session:
        incidents = list(session.scalars(select(Incident).order_by(Incident.id)))
        changes = list(session.scalars(select(StateChange).order_by(StateChange.id)))
        observations = {(o.device, o.check): o for o in session.scalars(select(Observation))}

        by_key: dict[tuple[str, str], list[Incident]] = defaultdict(list)
        for inc in incidents:
            by_key[(inc.device, inc.check)].append(inc)
        for key, incs in by_key.items():
            assert sum(1 for i in incs if i.status in OPEN_STATUSES) <= 1, f"duplicate open {key}"
            for earlier, later in itertools.pairwise(incs):
                assert earlier.resolved_at is not None, f"{key}: #{earlier.id} never resolved"
                assert later.opened_at >= earlier.resolved_at, f"{key}: overlapping incidents"

        chains: dict[tuple[str, str], list[StateChange]] = defaultdict(list)
        for c in changes:
            chains[(c.device, c.check)].append(c)
        for key, chain in chains.items():
            assert chain[0].from_status == "unknown", f"{key}: chain starts at {chain[0].from_status}"
            for prev, cur in itertools.pairwise(chain):
                assert cur.from_status == prev.to_status, (
                    f"{key}: change #{cur.id} {cur.from_status}->{cur.to_status} follows "
                    f"#{prev.id} ->{prev.to_status}: a state change was lost or doubled"
                )
            assert chain[-1].to_status == observations[key].status, f"{key}: chain != state"
        for key, obs in observations.items():
            if obs.status == "unknown":
                continue
            assert key in chains, f"{key}: state {obs.status} without any recorded change"

        open_keys = {k for k, incs in by_key.items() if any(i.status in OPEN_STATUSES for i in incs)}
        for key, obs in observations.items():
            flapping = bool((obs.state or {}).get("flapping"))
            problem = (obs.status == "down" or flapping) and obs.suppressed is None
            if problem:
                assert key in open_keys, f"{key}: down without an open incident"
        for key in open_keys:
            obs = observations[key]
            assert obs.status == "down" or (obs.state or {}).get("flapping"), (
                f"{key}: open incident but {obs.status}"
            )
        return {
            "incidents": len(incidents),
            "changes": len(changes),
            "open": len(open_keys),
            "chains": len(chains),
        }


def test_sigkill_mid_cycle_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fleet.sqlite"
    open_store(url).dispose()
    landed = kill_loop(url, ["0/1"], kills=12, seed=1)
    assert len(landed) == 12  # every kill hit a worker inside a site's write transaction
    store = open_store(url)
    sizes = {s.id: len(s.devices) for s in demo_inventory().sites}
    with store.read() as session:
        for kill in landed:
            # ... and nothing that transaction wrote survived: the site's samples of that cycle
            # are absent (the worker resumed after it) or there once per device (it redid it)
            devices = session.scalars(select(SampleRow.device).where(
                SampleRow.site_id == kill.site, SampleRow.at == kill.now)).all()  # fmt: skip
            assert len(devices) in (0, sizes[kill.site]), f"{kill}: part of a killed write survived"
            assert len(set(devices)) == len(devices), f"{kill}: a killed write survived"
    stats = check_invariants(store)
    store.dispose()
    assert stats["incidents"] >= 20 and stats["changes"] >= 100, stats


@pytest.mark.postgres
def test_two_pollers_with_overlapping_shards_killed_repeatedly_on_postgresql(
    pg_server: PostgresServer,
) -> None:
    url = pg_server.create_database("crash")
    open_store(url).dispose()
    landed = kill_loop(url, ["0/1", "1/2"], kills=14, seed=2)
    assert len(landed) == 14  # every kill hit a worker inside a site's write transaction
    store = open_store(url)
    stats = check_invariants(store)
    store.dispose()
    assert stats["incidents"] >= 20 and stats["changes"] >= 100, stats


def test_the_checker_catches_a_lost_state_change(tmp_path: Path) -> None:
    """The invariant checker is not vacuous: delete one change and it complains."""
    url = f"sqlite:///{tmp_path}/fleet.sqlite"
    _finish(_spawn(url, "0/1", cycles=12))
    store = open_store(url)
    check_invariants(store)
    with store.write() as session:
        victim = session.scalars(select(StateChange).where(StateChange.to_status == "down").limit(1)).one()
        session.delete(victim)
    with pytest.raises(AssertionError, match=r"lost or doubled|chain"):
        check_invariants(store)
    store.dispose()
