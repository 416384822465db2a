"""Crash safety: pollers killed with SIGKILL mid-cycle, and two pollers with overlapping shards
on one PostgreSQL, never produce duplicate incidents nor lose state changes.

The workers (``tests/incidents/crash_worker.py``) run the real cycle code against the real store
with deterministic samples; the store is then checked for its invariants:

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
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from fleet.store import Store, open_store
from fleet.store.models import OPEN_STATUSES, Incident, Observation, StateChange
from fleet.store.testing import PostgresServer
from tests.incidents.samples import REPO

pytestmark = pytest.mark.slow

CYCLES = 30


def _spawn(url: str, shard: str, cycles: int = CYCLES) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.incidents.crash_worker", "--db", url, "--shard", shard,
         "--cycles", str(cycles)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("FLEET_")},
    )  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"worker failed ({proc.returncode}): {err[-2000:]}"
    return out


def kill_loop(url: str, shards: list[str], kills: int, seed: int) -> int:
    """Start one worker per shard; SIGKILL them at random moments, restart them, ``kills``
    times; then let fresh workers finish.  Returns how many kills hit a running worker."""
    rng = random.Random(seed)
    hits = 0
    procs = {s: _spawn(url, s) for s in shards}
    for _ in range(kills):
        time.sleep(rng.uniform(0.4, 2.5))
        victim = rng.choice(shards)
        proc = procs[victim]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            hits += 1
        proc.communicate(timeout=60)
        if proc.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(f"worker {victim} failed: {proc.returncode}")
        procs[victim] = _spawn(url, victim)
    for s in shards:
        procs[s].send_signal(signal.SIGKILL)
        procs[s].communicate(timeout=60)
    # Fresh workers, one after the other, to bring every device to the last cycle.
    for s in shards:
        _finish(_spawn(url, s))
    return hits


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
    hits = kill_loop(url, ["0/1"], kills=12, seed=1)
    assert hits >= 8, "the kills must land while the worker runs"
    store = open_store(url)
    stats = check_invariants(store)
    store.dispose()
    assert stats["incidents"] >= 20 and stats["changes"] >= 100, stats


@pytest.mark.postgres
def test_two_pollers_with_overlapping_shards_killed_repeatedly_on_postgresql(
    pg_server: PostgresServer,
) -> None:
    url = pg_server.create_database("crash")
    open_store(url).dispose()
    hits = kill_loop(url, ["0/1", "1/2"], kills=14, seed=2)
    assert hits >= 8
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
