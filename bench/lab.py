"""Lab benchmark: `fleet lab up` / `fleet lab down` of the demo site, images cached.

Target (issue 3): `fleet lab up florac-fs` (8 devices + guest client + fake internet = 10 lab
hosts, 6 of them booted with systemd) <= 15 s on a 2-core machine.  Peer measured in the same
run: booting ONE host the same way (a one-host site), so the ratio up/peer shows how well the
hosts boot in parallel (10 hosts serially would be ~10x the peer).

Needs root; one lab run at a time:

    flock /tmp/relais-lab.lock .venv/bin/python bench/lab.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fleet.inventory import load_inventory  # noqa: E402
from fleet.inventory.models import DeviceKind  # noqa: E402
from fleet.lab import build, down, make_lab, up  # noqa: E402

TARGET_UP = 15.0
SITE = "florac-fs"


def fleet(*args: str) -> float:
    t0 = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "fleet"), "lab", *args], cwd=REPO,
                          capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"fleet lab {' '.join(args)} failed: {proc.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lab = make_lab(REPO / "inventory", recordings=REPO / "tests/fixtures/snmprec")
    built = build(lab.paths)
    if built:
        print(f"(built first: {', '.join(built)})")
    inv = load_inventory(REPO / "inventory")
    site = inv.site(SITE)
    down(lab, SITE)

    # peer: one host of the same site, alone (same code path, same image)
    pc = next(d for d in site.devices if d.kind is DeviceKind.PUBLIC_PC)
    one = site.model_copy(update={"id": "bench-one", "devices": (pc.model_copy(
        update={"hostname": "bench-one-pc", "site_id": "bench-one"}),)})
    peer = []
    for _ in range(args.rounds):
        r = up(lab, one)
        peer.append(r.seconds)
        down(lab, "bench-one")

    ups, downs = [], []
    for _ in range(args.rounds):
        ups.append(fleet("up", SITE))
        downs.append(fleet("down", SITE))
    up_med, down_med, peer_med = (statistics.median(x) for x in (ups, downs, peer))
    n = 10
    print(f"fleet lab up {SITE} ({n} lab hosts), median of {args.rounds}: {up_med:.2f} s "
          f"(runs: {', '.join(f'{x:.2f}' for x in ups)})")
    print(f"fleet lab down {SITE}: {down_med:.2f} s (runs: {', '.join(f'{x:.2f}' for x in downs)})")
    print(f"peer: one host alone (in-process up): {peer_med:.2f} s")
    print(f"ratio up / target {TARGET_UP:.0f} s: {up_med / TARGET_UP:.2f} "
          f"({'met' if up_med <= TARGET_UP else 'NOT met'})")
    print(f"ratio up / one-host peer: {up_med / peer_med:.2f} (hosts serially would be ~{n})")


if __name__ == "__main__":
    main()
