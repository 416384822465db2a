"""Remote-action benchmark: restarting the kiosk of one borne, three ways, same lab borne, same
run:

- **pyinfra**: our action, ``fleet.remote.act.act("restart-kiosk", BORNE, lab=True)`` (connect,
  read the main PID, restart, check the new process runs and stays up, record the event);
- **ansible ad hoc**: ``ansible BORNE -m ansible.builtin.systemd -a "name=relais-kiosk.service
  state=restarted"`` with the repository's ansible.cfg (pipelining, ControlPersist) — restarts,
  checks nothing;
- **deploy**: ``fleet deploy florac-fs --lab --limit BORNE --tags kiosk --no-verify`` (what a
  technician would otherwise run to "redo the kiosk": the role's tasks; on a deployed borne it
  restarts nothing, so this is a lower bound of its cost).

Each way runs ``--rounds`` times (default 3), alternated; prints the median times and the
ratios ansible/pyinfra and deploy/pyinfra (pyinfra was chosen for this: it should win clearly).
Brings florac-fs up and deploys it first unless ``--no-setup`` (the site is then expected up
and deployed); brings it down at the end unless ``--keep``.

Needs root and the lab; one lab run at a time:

    flock /tmp/relais-lab.lock .venv/bin/python bench/remote.py [--rounds N] [--no-setup] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SITE = "florac-fs"
BORNE = "florac-fs-borne1"
OVERLAY = Path("/var/lib/relais-lab/run") / SITE / "inventory.yml"


def fleet(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(BIN / "fleet"), *args], cwd=REPO, capture_output=True, text=True,
                          check=False)
    if check and proc.returncode != 0:
        raise SystemExit(f"fleet {' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc


def ansible_env() -> dict[str, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


def way_pyinfra(db: str) -> float:
    t0 = time.perf_counter()
    proc = fleet("act", "restart-kiosk", BORNE, "--lab", "--yes", "--db", db, "--json")
    elapsed = time.perf_counter() - t0
    assert '"outcome": "changed"' in proc.stdout, proc.stdout
    return elapsed


def way_ansible() -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "ansible"), BORNE, "-i", str(REPO / "inventory"), "-i", str(OVERLAY), "--become",
         "-m", "ansible.builtin.systemd", "-a", "name=relais-kiosk.service state=restarted"],
        cwd=REPO, env=ansible_env(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"ansible ad hoc failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def way_deploy(db: str) -> float:
    t0 = time.perf_counter()
    fleet("deploy", SITE, "--lab", "--limit", BORNE, "--tags", "kiosk", "--no-verify", "--db", db,
          "--json")
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-setup", action="store_true", help="the site is already up and deployed")
    parser.add_argument("--keep", action="store_true", help="leave the site up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relais-bench-remote-") as tmp:
        db = f"sqlite:///{tmp}/fleet.sqlite"
        if not args.no_setup:
            print(f"setting up {SITE} (lab up, deploy)...", flush=True)
            fleet("lab", "down", SITE, check=False)
            fleet("lab", "up", SITE)
            fleet("deploy", SITE, "--lab", "--no-verify", "--db", db, "--json")
        try:
            times: dict[str, list[float]] = {"pyinfra": [], "ansible": [], "deploy": []}
            way_pyinfra(db)  # warm-up: caches, first connections
            for n in range(args.rounds):
                times["pyinfra"].append(way_pyinfra(db))
                times["ansible"].append(way_ansible())
                times["deploy"].append(way_deploy(db))
                print(f"round {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
                      flush=True)
        finally:
            if not args.keep:
                fleet("lab", "down", SITE, check=False)
    med = {k: statistics.median(v) for k, v in times.items()}
    print("\nrestart-kiosk on one lab borne, median of", args.rounds, "rounds:")
    print(f"  pyinfra action (checks the new kiosk runs, records it): {med['pyinfra']:.2f} s")
    print(f"  ansible -m systemd ad hoc (restart only):               {med['ansible']:.2f} s")
    print(f"  fleet deploy --tags kiosk (the role, no restart):       {med['deploy']:.2f} s")
    print(f"  ratio ansible/pyinfra: {med['ansible'] / med['pyinfra']:.2f}x")
    print(f"  ratio deploy/pyinfra:  {med['deploy'] / med['pyinfra']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
