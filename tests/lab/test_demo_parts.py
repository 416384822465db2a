"""The demo's lab parts without the lab: what a lab printer is made to report
(:mod:`fleet.lab.appliance`) and the deployed snapshot's key (:mod:`fleet.lab.snapshot`)."""

from __future__ import annotations

import shutil
from pathlib import Path

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
from fleet.lab.snapshot import find, snapshot_key
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
    first = snapshot_key(lab, site, repo, repo / "inventory")
    assert snapshot_key(lab, site, repo, repo / "inventory") == first  # stable
    assert snapshot_key(lab, site, REPO, REPO / "inventory") == first  # where the repo is does not count
    task = repo / "roles" / "kiosk" / "defaults" / "main.yml"
    task.write_text(task.read_text("utf-8") + "\n# changed\n", encoding="utf-8")
    changed = snapshot_key(lab, site, repo, repo / "inventory")
    assert changed != first
    other = make_lab(REPO / "inventory", lab_root=tmp_path / "lab2", with_secrets=False)
    (other.paths.ssh_dir).mkdir(parents=True)
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
