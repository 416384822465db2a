"""The power_schedule role follows the role conventions (the same checks as tests/roles, run on
this role: tests/roles/conftest.py's ROLES does not list it yet) and renders the engine's
calendar into its timer."""

from __future__ import annotations

import subprocess

import pytest

import tests.roles.test_static as static
from tests.roles.conftest import REPO, ansible_env, tool

ROLE = "power_schedule"


def test_conventions() -> None:
    static.test_main_only_dispatches_behind_feature_flags(ROLE)
    static.test_fqcn_quoted_modes_and_validate(ROLE)


def test_readme_table_is_current() -> None:
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").is_dir() else "python3",
                           "scripts/role-docs.py", "--check"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_yamllint() -> None:
    proc = subprocess.run([tool("yamllint"), "-s", f"roles/{ROLE}"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.slow
def test_ansible_lint_production_profile() -> None:
    proc = subprocess.run([tool("ansible-lint"), "--profile", "production", f"roles/{ROLE}"], cwd=REPO,
                          capture_output=True, text=True, env=ansible_env(), timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_timer_renders_the_engine_calendar(tmp_path: object) -> None:
    """Render the timer for florac-fs-pc1 with ansible's own templating (no host needed)."""
    play = REPO / "tests" / "remote" / "render_power.yml"
    proc = subprocess.run([tool("ansible-playbook"), "-i", "inventory/", str(play), "-e",
                           f"out={tmp_path}"], cwd=REPO, capture_output=True, text=True,
                          env=ansible_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    from pathlib import Path

    from fleet.inventory import load_inventory
    from fleet.inventory.power import shutdown_calendar

    site = load_inventory(REPO / "inventory").site("florac-fs")
    assert site.power is not None
    timer = (Path(str(tmp_path)) / "florac-fs-pc1.timer").read_text()
    lines = [ln.removeprefix("OnCalendar=") for ln in timer.splitlines() if ln.startswith("OnCalendar=")]
    assert lines == shutdown_calendar(site.hours, site.power) and lines
    assert (Path(str(tmp_path)) / "mende-pref-pc1.calendar").read_text().strip() == "[]"
