"""Audit benchmark: ``fleet audit run`` on the demo lab site vs Lynis on the same hosts.

Same lab site (florac-fs, deployed once by this script), same run:

- **fleet audit**: ``fleet audit run florac-fs --lab --month M`` — the stations' wipe records
  collected over SSH, one canary wipe per station, the deploy's pytest-testinfra checks on
  every managed host in parallel, the store's figures, the report rendered (HTML, PDF, CSV) and
  signed.  Wall time of the whole command.
- **Lynis** (Debian's package, copied onto each host first — not timed — as its documentation
  suggests for remote systems): ``lynis audit system --quick`` on the same hosts, in parallel,
  over the same SSH configuration.  Wall time until the last host is done.

Prints both times, seconds per host and the ratio.  Target (issue 16): the audit of a site
<= 30 s (the issue counts a site of 6 hosts; florac-fs has 4 managed hosts plus 4 SNMP-only
devices, read from the store).

Needs root and the lab; one lab run at a time:

    flock /tmp/relais-lab.lock .venv/bin/python bench/audit.py [--no-deploy] [--keep-up]
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SITE = "florac-fs"
HOSTS = ("florac-fs-pc1", "florac-fs-pc2", "florac-fs-borne1", "florac-fs-gw")
SSH_CONFIG = Path("/var/lib/relais-lab/run/ssh_config")
LYNIS_FILES = ("usr/sbin/lynis", "usr/share/lynis", "etc/lynis")


def fleet(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "fleet"), *args], cwd=REPO, check=check, capture_output=True, text=True)


def ssh(host: str, command: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["ssh", "-F", str(SSH_CONFIG), host, command], input=stdin, capture_output=True,
                          check=False, timeout=900)


def ship_lynis(host: str) -> None:
    archive = subprocess.run(["tar", "-C", "/", "-cz", *LYNIS_FILES], capture_output=True, check=True).stdout
    done = ssh(host, "sudo tar -C / -xz", stdin=archive)
    if done.returncode != 0:
        raise SystemExit(f"{host}: cannot copy lynis: {done.stderr.decode()[-300:]}")


def lynis(host: str) -> tuple[str, float, int, str]:
    t0 = time.perf_counter()
    done = ssh(host, "sudo lynis audit system --quick --no-colors --no-log --cronjob")
    elapsed = time.perf_counter() - t0
    out = done.stdout.decode(errors="replace")
    index = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if "Hardening index" in ln), "?")
    return host, elapsed, done.returncode, index


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-deploy", action="store_true", help="the site is already up and deployed")
    parser.add_argument("--keep-up", action="store_true", help="leave the site up at the end")
    args = parser.parse_args()
    if subprocess.run(["which", "lynis"], capture_output=True, check=False).returncode != 0:
        raise SystemExit("lynis is not installed (apt-get install lynis; see ci/apt-packages.txt)")
    month = dt.date.today().strftime("%Y-%m")
    try:
        if not args.no_deploy:
            fleet("lab", "down", SITE, check=False)
            fleet("lab", "up", SITE)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                fleet("deploy", SITE, "--lab", "--db", f"sqlite:///{tmp}/deploy.sqlite", "--json")
                print(f"deploy (setup, not measured): {time.perf_counter() - t0:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:///{tmp}/fleet.sqlite"
            t0 = time.perf_counter()
            run = fleet("audit", "run", SITE, "--lab", "--month", month, "--out", f"{tmp}/out", "--db", db,
                        "--json", check=False)
            audit_s = time.perf_counter() - t0
            if run.returncode not in (0, 1):
                raise SystemExit(f"fleet audit run failed: {run.stderr[-500:]}")
            print(f"fleet audit run: {audit_s:.1f} s for {len(HOSTS)} hosts (exit {run.returncode}: "
                  f"{'red' if run.returncode else 'green or incomplete'})")
        for host in HOSTS:
            ship_lynis(host)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(HOSTS)) as pool:
            results = list(pool.map(lynis, HOSTS))
        lynis_s = time.perf_counter() - t0
        for host, elapsed, code, index in results:
            print(f"  lynis {host}: {elapsed:.1f} s (exit {code}, hardening index {index})")
        print(f"lynis (parallel, same hosts): {lynis_s:.1f} s")
        print(f"ratio fleet audit / lynis: {audit_s / lynis_s:.2f}  "
              f"(fleet audit {audit_s / len(HOSTS):.1f} s/host, lynis {lynis_s / len(HOSTS):.1f} s/host)")
        print(f"target: fleet audit of a site <= 30 s: {'met' if audit_s <= 30 else 'NOT met'}")
    finally:
        if not args.keep_up:
            fleet("lab", "down", SITE, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
