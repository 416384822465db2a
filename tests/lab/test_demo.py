"""The README's main command, `fleet demo`, tells its story on a real lab site."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.lab.pytest_plugin import LabSite

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]


def _fleet(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "fleet.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def test_demo_polls_the_lab_site_and_shows_the_incident(lab_site: LabSite, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    # --keep: the session fixture owns the lab site and takes it down itself
    done = _fleet("demo", "--db", db, "--keep")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "8 answered" in done.stdout  # first cycle: every device answers
    assert "opened: florac-fs-pc1/reachability" in done.stdout
    listed = _fleet("incidents", "list", "--site", "florac-fs", "--db", db, "--json")
    incidents = json.loads(listed.stdout)
    rows = incidents if isinstance(incidents, list) else incidents["incidents"]
    assert any(i["device"] == "florac-fs-pc1" and i["check"] == "reachability" for i in rows)
    # the demo restarted the agent it stopped
    assert lab_site.exec("florac-fs-pc1", "systemctl", "is-active", "snmpd").stdout.strip() == "active"


def test_demo_without_lab_only_validates() -> None:
    done = _fleet("demo", "--no-lab")
    assert done.returncode == 0, done.stderr
    assert "inventory OK: 29 sites" in done.stdout
    assert "lab, polling and incidents skipped" in done.stdout
