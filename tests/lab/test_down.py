"""down removes everything a site made, also after a killed up; two sites can be up at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleet.lab import down, leftovers, up
from fleet.lab.netns import list_netns
from fleet.lab.pytest_plugin import LabSite

pytestmark = pytest.mark.lab

SECOND = "mairie-chanac"  # a small second site: gateway, AP, one PC, printer


def snapshot(site_id: str) -> dict[str, set[str]]:
    """Everything on the machine that mentions the site: namespaces, mounts, processes."""
    procs = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if site_id in cmd:
                procs.add(f"{entry.name} {cmd[:100]}")
    mounts = {ln.split()[1] for ln in Path("/proc/mounts").read_text().splitlines()
              if site_id in ln}
    return {"netns": {n for n in list_netns() if site_id in n}, "mounts": mounts,
            "processes": procs}


def fleet(repo: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "fleet"), "lab", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=repo, check=False)


def test_a_killed_up_is_cleaned_by_down(lab_site: LabSite, repo: Path) -> None:
    assert snapshot(SECOND) == {"netns": set(), "mounts": set(), "processes": set()}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "fleet"), "lab", "up", SECOND],
                            cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # kill it mid-way: once hosts are booting (nspawn running) but before it finished
    deadline = time.monotonic() + 300  # the verdict is the cleaning, not how fast up gets there
    while not any("systemd-nspawn" in p for p in snapshot(SECOND)["processes"]):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(10)
            down(lab_site.lab, SECOND)  # what it made, cleaned even so
            raise AssertionError(f"fleet lab up never booted a host (exit {proc.returncode})")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    mid = snapshot(SECOND)
    assert mid["netns"] and mid["mounts"] and mid["processes"]  # it really left a mess
    result = fleet(repo, "down", SECOND, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["namespaces"] >= len(mid["netns"])
    assert snapshot(SECOND) == {"netns": set(), "mounts": set(), "processes": set()}
    # the other site was not touched
    assert lab_site.ssh("florac-fs-pc1", "true").returncode == 0


def test_two_sites_up_at_once_then_down_leaves_nothing(lab_site: LabSite) -> None:
    before = leftovers(lab_site.lab)
    second = lab_site.inventory.site(SECOND)
    try:
        result = up(lab_site.lab, second)
        assert result.changed
        # both sites answer through the one controller namespace
        for host in ("florac-fs-pc1", "mairie-chanac-pc1", "mairie-chanac-gw"):
            proc = lab_site.ssh(host, "hostname")
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.strip() == host
        routes = lab_site.ctl("ip", "route").stdout
        assert str(lab_site.site.management) in routes and str(second.management) in routes
        during = leftovers(lab_site.lab)
        assert set(during["namespaces"]) > set(before["namespaces"])
    finally:
        down(lab_site.lab, SECOND)
    after = leftovers(lab_site.lab)
    assert set(after["namespaces"]) == set(before["namespaces"])
    assert set(after["mounts"]) == set(before["mounts"])
    assert snapshot(SECOND) == {"netns": set(), "mounts": set(), "processes": set()}
    assert not lab_site.lab.paths.site_run(SECOND).exists()
    # florac-fs is still fully up
    assert lab_site.ssh("florac-fs-pc2", "true").returncode == 0


def test_full_down_leaves_no_namespace_mount_or_process(lab_site: LabSite) -> None:
    """Last: take the session's site down too and check the machine is as before the lab
    (the session fixture's own teardown then has nothing left to do)."""
    down(lab_site.lab, lab_site.site.id)
    left = leftovers(lab_site.lab)
    assert left == {"namespaces": [], "mounts": [], "processes": []}
    assert not [n for n in list_netns() if n.startswith("relais-")]
    # and it comes back (the fixture's site is expected up by nothing after this module)
    up(lab_site.lab, lab_site.site)
    assert lab_site.ssh("florac-fs-pc1", "true").returncode == 0
