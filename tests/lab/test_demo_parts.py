"""The demo's lab parts without the lab: what a lab printer is made to report
(:mod:`fleet.lab.appliance`) and the deployed snapshot's key (:mod:`fleet.lab.snapshot`)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fleet.errors import LabError
from fleet.inventory import load_inventory
from fleet.lab import make_lab
from fleet.lab.appliance import (
    HR_PRINTER_DETECTED_ERROR_STATE,
    PRINTER_FLAGS,
    error_state,
    set_printer_errors,
)
from fleet.lab.snapshot import Snapshot, find, layers, restore, snapshot_key
from fleet.monitor.profiles import PRINTER_ERROR_FLAGS

REPO = Path(__file__).resolve().parents[2]
RECORDINGS = REPO / "tests" / "fixtures" / "snmprec" / "printers"


def test_the_flags_are_the_pollers_in_its_order() -> None:
    # lab (layer 2) cannot import the monitor (layer 4): the two lists are kept equal here
    assert PRINTER_ERROR_FLAGS[: len(PRINTER_FLAGS)] == PRINTER_FLAGS


def test_error_state_matches_a_real_recording() -> None:
    jammed = (RECORDINGS / "brother-jammed.snmprec").read_text("utf-8")
    assert f"{HR_PRINTER_DETECTED_ERROR_STATE}|4x|{error_state(['jammed'])}" in jammed
    assert error_state([]) == "00"
    assert error_state(["low_toner", "no_toner"]) == "30"
    with pytest.raises(LabError, match="printer flag 'toner'"):
        error_state(["toner"])


def test_set_printer_errors_rewrites_the_running_copy_only(tmp_path: Path) -> None:
    lab = make_lab(REPO / "inventory", lab_root=tmp_path, with_secrets=False)
    data = lab.paths.site_run("s") / "snmp" / "s-prn1"
    data.mkdir(parents=True)
    copy = data / "public.snmprec"
    shutil.copyfile(RECORDINGS / "brother.snmprec", copy)
    before = copy.stat().st_mtime
    set_printer_errors(lab, "s", "s-prn1", ["low_toner"])
    lines = copy.read_text("utf-8").splitlines()
    assert f"{HR_PRINTER_DETECTED_ERROR_STATE}|4x|20" in lines
    assert len(lines) == len((RECORDINGS / "brother.snmprec").read_text("utf-8").splitlines())
    assert int(copy.stat().st_mtime) > int(before)  # snmpsim reloads on a new mtime (seconds)
    assert f"{HR_PRINTER_DETECTED_ERROR_STATE}|4x|00" in (RECORDINGS / "brother.snmprec").read_text("utf-8")
    with pytest.raises(LabError, match="not a lab printer that is up"):
        set_printer_errors(lab, "s", "s-prn2", ["jammed"])


def test_the_snapshot_key_follows_roles_inventory_and_images(tmp_path: Path) -> None:
    inv = load_inventory(REPO / "inventory")
    site = inv.site("florac-fs")
    lab = make_lab(REPO / "inventory", lab_root=tmp_path / "lab", with_secrets=False)
    repo = tmp_path / "repo"
    for d in ("roles", "playbooks", "inventory"):
        shutil.copytree(REPO / d, repo / d)
    shutil.copyfile(REPO / "ansible.cfg", repo / "ansible.cfg")
    assert not lab.paths.ssh_key.exists()  # a fresh machine: the lab's key is not made yet
    first = snapshot_key(lab, site, repo, repo / "inventory")
    assert lab.paths.ssh_key.exists()  # made for the key: the hosts `up` brings will trust it
    # stable, also once `up` has its key (the second run found no snapshot on a fresh machine)
    assert snapshot_key(lab, site, repo, repo / "inventory") == first
    assert snapshot_key(lab, site, REPO, REPO / "inventory") == first  # where the repo is does not count
    task = repo / "roles" / "kiosk" / "defaults" / "main.yml"
    task.write_text(task.read_text("utf-8") + "\n# changed\n", encoding="utf-8")
    changed = snapshot_key(lab, site, repo, repo / "inventory")
    assert changed != first
    other = make_lab(REPO / "inventory", lab_root=tmp_path / "lab2", with_secrets=False)
    (other.paths.ssh_dir).mkdir(parents=True)
    (other.paths.ssh_dir / "id_ed25519").write_text("(another lab's private key)\n", encoding="utf-8")
    (other.paths.ssh_dir / "id_ed25519.pub").write_text("ssh-ed25519 AAAA other\n", encoding="utf-8")
    assert snapshot_key(other, site, repo, repo / "inventory") != changed  # the hosts trust another key
    assert find(lab, site, changed) is None  # nothing saved under that key


def test_the_demo_day_is_the_last_opening_day_before_today() -> None:
    from datetime import date

    from fleet.cli.demo_day import demo_day

    site = load_inventory(REPO / "inventory").site("florac-fs")  # mon-fri, closed 24-26 Dec
    assert demo_day(site, date(2026, 11, 30)) == date(2026, 11, 27)  # a Monday: the Friday before
    assert demo_day(site, date(2026, 11, 27)) == date(2026, 11, 26)
    assert demo_day(site, date(2026, 12, 28)) == date(2026, 12, 23)  # over Christmas' closure


def _mount(lab: Any, site_id: str, host: str, image: Path, root: Path) -> None:
    """The host's root as :func:`fleet.lab.up.up` mounts it: its upper on the snapshot layer
    (if any) on the image."""
    state = lab.paths.host_state(site_id, host)
    shutil.rmtree(state / "work", ignore_errors=True)
    (state / "work").mkdir()
    lower = ":".join(str(p) for p in [*layers(lab, site_id, host), image])
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={lower},upperdir={state / 'upper'},workdir={state / 'work'}", str(root)],
                   check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts an overlay: root")
def test_a_restored_snapshot_is_the_deployed_state_and_nothing_of_the_day(tmp_path: Path) -> None:
    """Restoring copies nothing: the host sits on the snapshot as a read-only layer under a
    fresh upper.  What the deploy removed stays removed (its whiteouts), what the deploy wrote
    is there, and what a day wrote on top is gone at the next restore."""
    lab = make_lab(REPO / "inventory", lab_root=tmp_path / "lab", with_secrets=False)
    image = tmp_path / "image"
    image.mkdir()
    (image / "factory.conf").write_text("factory\n")
    (image / "removed-by-deploy").write_text("x\n")
    # the deployed upper, as overlayfs left it: a written file and a whiteout (char device 0:0)
    snap_dir = tmp_path / "lab" / "snapshots" / "s-k"
    deployed = snap_dir / "h1" / "upper"
    deployed.mkdir(parents=True)
    (deployed / "factory.conf").write_text("deployed\n")
    os.mknod(deployed / "removed-by-deploy", 0o600 | stat.S_IFCHR, os.makedev(0, 0))
    snap = Snapshot("s", "k", snap_dir, ("h1",), 0, 0.0)
    root = tmp_path / "root"
    root.mkdir()
    assert layers(lab, "s", "h1") == []  # a host on the images alone
    for day in range(2):
        restore(lab, make_site_stub("s"), snap)
        assert layers(lab, "s", "h1") == [deployed]
        _mount(lab, "s", "h1", image, root)
        try:
            assert (root / "factory.conf").read_text() == "deployed\n"
            assert not (root / "removed-by-deploy").exists()
            assert not (root / "written-by-the-day").exists(), f"day {day}: the day before survived"
            (root / "written-by-the-day").write_text("guest\n")
            (root / "factory.conf").write_text("changed by the day\n")
        finally:
            subprocess.run(["umount", str(root)], check=True)
    assert (deployed / "factory.conf").read_text() == "deployed\n"  # the snapshot is read-only
    assert not (deployed / "written-by-the-day").exists()
    shutil.rmtree(snap_dir)
    with pytest.raises(LabError, match=r"h1: the deployed snapshot its state sits on is gone"):
        layers(lab, "s", "h1")


def make_site_stub(site_id: str) -> Any:
    """restore() reads the site's id only (the hosts are the snapshot's)."""
    return SimpleNamespace(id=site_id)
