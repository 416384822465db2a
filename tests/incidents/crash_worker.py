"""A poller stand-in for the crash tests: real cycle code, real store, hand-built samples.

    python -m tests.incidents.crash_worker --db URL --shard I/N --cycles K [--pause-at POINT:N]

Runs cycles over the demo inventory's sites of its shard.  Which device is down at cycle c is
a pure function of (device, c), so any number of workers, killed and restarted at any moment,
agree on what they observe.  A restarted worker resumes after the last cycle it finds in the
store.

``--pause-at POINT:N``: at the N-th time the cycle reaches ``POINT`` (``site_locked``: a site's
write transaction has begun and holds its lock; ``device_written``: a device's writes are done,
the transaction not yet committed), the worker prints one line

    paused POINT SITE DEVICE CYCLE NOW

and stops there, inside the transaction, until it is killed: the crash tests SIGKILL it exactly
where they mean to, whatever the machine's speed.  Left alone it exits with status 3 after ten
minutes."""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from fleet.monitor.cycle import Point, apply_samples, parse_shard, sites_of_shard
from fleet.monitor.rules_file import load_rules
from fleet.store import open_store
from fleet.store.models import Observation
from tests.incidents.samples import REPO, demo_inventory, site_samples

START = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)  # a Monday, 09:05 in Florac: sites open
STEP = timedelta(minutes=1)
POINTS: tuple[Point, ...] = ("site_locked", "device_written")
UNATTENDED_S = 600


def is_down(hostname: str, cycle: int) -> bool:
    """Outages of 6 cycles (enough to open an incident), about one block in four."""
    return zlib.crc32(f"{hostname}/{cycle // 6}".encode()) % 4 == 0


class Pause:
    """The ``--pause-at`` checkpoint: count the points, stop at the chosen one."""

    def __init__(self, spec: str | None) -> None:
        self.point: str | None = None
        self.left = 0
        self.cycle = -1
        self.now = START
        if spec:
            point, _, count = spec.partition(":")
            if point not in POINTS or not count.isdigit() or int(count) < 1:
                raise SystemExit(f"--pause-at {spec!r}: expected POINT:N, POINT in {POINTS}")
            self.point, self.left = point, int(count)

    def __call__(self, point: Point, site: str, device: str | None) -> None:
        if point != self.point:
            return
        self.left -= 1
        if self.left:
            return
        print(f"paused {point} {site} {device or '-'} {self.cycle} {self.now.isoformat()}",
              flush=True)  # fmt: skip
        time.sleep(UNATTENDED_S)  # inside the transaction, until SIGKILL
        print("never killed", file=sys.stderr, flush=True)
        raise SystemExit(3)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--shard", default="0/1")
    parser.add_argument("--cycles", type=int, required=True)
    parser.add_argument("--pause-at", default=None)
    args = parser.parse_args(argv)
    pause = Pause(args.pause_at)
    store = open_store(args.db)
    rules = load_rules(REPO / "monitoring" / "rules.yml")
    sites = sites_of_shard(demo_inventory().sites, parse_shard(args.shard))
    hostnames = [d.hostname for s in sites for d in s.devices]
    with store.read() as session:
        last = session.scalar(select(func.max(Observation.at)).where(Observation.device.in_(hostnames)))
    first = 0 if last is None else int((last - START) / STEP) + 1
    for cycle in range(first, args.cycles):
        now = START + cycle * STEP
        pause.cycle, pause.now = cycle, now
        devices = [d for s in sites for d in s.devices]
        down = {h for h in hostnames if is_down(h, cycle)}
        report = apply_samples(
            store, sites, site_samples(devices, now, down), rules, now, checkpoint=pause
        )
        if report.failures:
            print(f"failures: {report.failures}", file=sys.stderr, flush=True)
            return 1
        if report.lost_races:
            print(f"lost_races {report.lost_races}", flush=True)
        print(f"cycle {cycle} done", flush=True)
    store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
