"""Deploy benchmark: the whole demo site, tuned settings vs Ansible defaults.

Same playbook (playbooks/site.yml: two PCs and the borne, then the gateway), same lab site
(florac-fs, fresh hosts for each first deploy), same run:

- **tuned**: the repository's ansible.cfg (pipelining, ControlPersist, forks, smart gathering
  with a jsonfile fact cache, no fact injection); with ``--mitogen``, plus Mitogen's linear
  strategy (opt-in, ANSIBLE_STRATEGY=mitogen_linear);
- **default**: plain ``ansible-playbook`` with only what it needs to find the inventory, the
  roles and the vault (an ansible.cfg with no speed setting: Ansible's defaults).

For each: a first deploy on freshly created lab hosts, then an idempotent re-run (must report
changed=0).  Prints the times and the ratios default/tuned.  Targets (issue 4): tuned re-run
<= 10 s and >= 2x faster than the default re-run.

Needs root and the lab; one lab run at a time:

    flock /tmp/relais-lab.lock .venv/bin/python bench/deploy.py [--rerun-only]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SITE = "florac-fs"
OVERLAY = Path("/var/lib/relais-lab/run") / SITE / "inventory.yml"

DEFAULT_CFG = f"""[defaults]
inventory = {REPO / 'inventory'}
roles_path = {REPO / 'roles'}
vault_password_file = {REPO / 'vault-password'}
host_key_checking = False
retry_files_enabled = False
"""


def lab(*args: str) -> None:
    subprocess.run([str(BIN / "fleet"), "lab", *args], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)


def fresh_site() -> None:
    subprocess.run([str(BIN / "fleet"), "lab", "down", SITE], cwd=REPO, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lab("up", SITE)


def deploy(cfg: Path, log: Path, strategy: str | None = None) -> tuple[float, dict[str, int]]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_STRATEGY", None)
    if strategy:
        env["ANSIBLE_STRATEGY"] = strategy
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(REPO / "inventory"), "-i", str(OVERLAY),
         "playbooks/site.yml", "--limit", f"site_{SITE.replace('-', '_')}"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    log.write_text(proc.stdout + proc.stderr)
    recap = {m[0]: (int(m[1]), int(m[2])) for m in
             re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)",
                        proc.stdout, re.M)}
    if proc.returncode != 0 or not recap:
        fatal = [ln for ln in proc.stdout.splitlines() if ln.startswith("fatal:")][:3]
        raise SystemExit(f"deploy failed (rc={proc.returncode}), see {log}\n" + "\n".join(fatal))
    return elapsed, {h: c for h, (c, _) in recap.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rerun-only", action="store_true",
                        help="one fresh deploy, then compare re-runs only (faster)")
    parser.add_argument("--keep-up", action="store_true", help="leave the lab site up")
    parser.add_argument("--mitogen", action="store_true",
                        help="tuned = the repository's ansible.cfg plus ANSIBLE_STRATEGY=mitogen_linear")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/deploy.py needs root (the lab)")
    tuned_cfg = REPO / "ansible.cfg"
    strategy = {"tuned": "mitogen_linear"} if args.mitogen else {}
    results: dict[str, dict[str, float]] = {}
    logs = Path(tempfile.gettempdir()) / "relais-bench-deploy"
    logs.mkdir(exist_ok=True)
    print(f"ansible logs in {logs}", flush=True)
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as tmp:
        default_cfg = Path(tmp) / "ansible.cfg"
        default_cfg.write_text(DEFAULT_CFG)
        facts = REPO / "var" / "ansible-facts"
        try:
            order = [("tuned", tuned_cfg), ("default", default_cfg)]
            for name, cfg in order:
                if name == "tuned" or not args.rerun_only:
                    fresh_site()
                    for f in facts.glob("*") if facts.is_dir() else []:
                        f.unlink()  # a fresh host has no cached facts
                    first, _ = deploy(cfg, logs / f"{name}-first.log", strategy.get(name))
                    results.setdefault(name, {})["first"] = first
                    print(f"{name:8s} first deploy : {first:7.1f} s", flush=True)
                rerun, changed = deploy(cfg, logs / f"{name}-rerun.log", strategy.get(name))
                results.setdefault(name, {})["rerun"] = rerun
                print(f"{name:8s} re-run       : {rerun:7.1f} s  changed={sum(changed.values())}"
                      f" {changed}", flush=True)
        finally:
            if not args.keep_up:
                subprocess.run([str(BIN / "fleet"), "lab", "down", SITE], cwd=REPO, check=False,
                               stdout=subprocess.DEVNULL)
    tuned, default = results["tuned"], results["default"]
    print()
    if "first" in default:
        print(f"first deploy: default/tuned = {default['first'] / tuned['first']:.2f}x")
    ratio = default["rerun"] / tuned["rerun"]
    print(f"re-run      : default/tuned = {ratio:.2f}x   (target >= 2x)")
    print(f"tuned re-run: {tuned['rerun']:.1f} s   (target <= 10 s)")
    ok = ratio >= 2 and tuned["rerun"] <= 10
    print("targets", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
