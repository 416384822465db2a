"""The README's first command, `fleet demo`, tells its story on a real lab site, and each step's
outcome is in the store.

CI time is tight: the demo does not deploy again here.  The session's deployed site
(``deployed_site``: one real ``fleet deploy --lab``, verified) becomes the demo's deployed
snapshot through the demo's own :func:`fleet.cli.demo.keep_deployed` — what a first demo does
after its deploy — so the demo runs its second-run path: restore the snapshot, boot, play the
day, audit.  The site is replaced (hosts restored and rebooted), so this module runs with the
modules that replace the site, last.

Run as root: ``.venv/bin/pytest -m lab tests/lab/test_demo.py`` (pytest takes the lab lock).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from fleet.audit.signing import sha256_of, verify
from fleet.cli.demo import demo_dir, keep_deployed
from fleet.cli.main import main
from fleet.incidents import get_incident, list_incidents
from fleet.lab import snapshot
from fleet.lab.netns import netns_exists
from fleet.lab.paths import host_netns
from fleet.remote.record import device_actions
from fleet.store import open_store
from fleet.store.audit import Audit
from fleet.store.connlog import ConnectionRecord
from fleet.store.outbox import GLPI, entries_of, queue_ref
from tests.deployed import DeployedSite

REPLACES_THE_SITE = True
REPO = Path(__file__).resolve().parents[2]
SITE = "florac-fs"
PC1, PC2, BORNE = "florac-fs-pc1", "florac-fs-pc2", "florac-fs-borne1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode("utf-8", "replace")


@pytest.mark.lab
@pytest.mark.slow
def test_the_demo_plays_its_day_and_the_store_holds_each_outcome(
        deployed_site: DeployedSite, capsys: pytest.CaptureFixture[str]) -> None:
    site = deployed_site.site
    key = snapshot.snapshot_key(site.lab, site.site, REPO, REPO / "inventory")
    keep_deployed(site.lab, site.site, key, deployed_site.pristine, demo_dir())
    port = _free_port()

    code = main(["--lang", "en", "demo", "--port", str(port)])
    out = capsys.readouterr().out
    try:
        assert code == 0, out[-4000:]
        _check(out, port)
    finally:
        # fleet demo down: the dashboard stops, the site goes (also when a check failed)
        assert main(["--lang", "en", "demo", "down"]) == 0
    with pytest.raises(OSError):
        _get(f"http://127.0.0.1:{port}/login")
    assert not any(netns_exists(host_netns(h)) for h in (PC1, PC2, BORNE))


def _check(out: str, port: int) -> None:
    state = json.loads((demo_dir() / "demo.json").read_text("utf-8"))
    assert state["steps"]["site"]["source"] == "snapshot", state["steps"]["site"]
    steps = {s["name"]: s for s in state["day_steps"]}
    assert list(steps) == ["night", "opening", "wifi", "wipe", "toner", "kiosk", "closing", "audit"]
    assert all(s["seconds"] >= 0 for s in steps.values())
    for line in ("Night:", "Opening:", "A visitor", "A session ends", "toner", "crashes", "Closing:",
                 "audit", "Where to look", f"http://127.0.0.1:{port}/"):
        assert line in out, line

    # the dashboard answers, with the hall screen's public page
    assert _get(f"http://127.0.0.1:{port}/login")[0] == 200
    assert _get(f"http://127.0.0.1:{port}/screen/{SITE}")[0] == 200

    store = open_store(state["db"])
    try:
        # opening: every scheduled station woken by the power schedule
        for host in (PC1, PC2, BORNE):
            wakes = [e for e in device_actions(store, host) if (e.data or {}).get("action") == "wake"]
            assert any(e.data["outcome"] == "changed" and e.data.get("scheduled") for e in wakes), host
        assert steps["opening"]["facts"]["answered"] == steps["opening"]["facts"]["devices"]

        # the visitor went through the portal; the legal log reached the store
        wifi = steps["wifi"]["facts"]
        assert wifi["connected"] and wifi["browsing"], wifi
        with store.read() as s:
            assert s.scalars(select(ConnectionRecord).where(ConnectionRecord.site_id == SITE)).first()

        # the session's wipe and its record
        wipe = steps["wipe"]["facts"]
        assert wipe["file_gone"] and wipe["outcome"] == "changed", wipe
        [event] = [e for e in device_actions(store, wipe["host"]) if e.data.get("action") == "wipe-now"]
        assert event.data["record"]["outcome"] == "ok" and event.data["record"]["trigger"] == "remote"

        # the printer: toner low (the public is not bothered), then empty (the hall screen says so)
        toner = steps["toner"]["facts"]
        assert "Imprimante : disponible" in toner["screen_low"]
        assert "Imprimante hors service aujourd'hui" in toner["screen_empty"]
        everything = list_incidents(store, site_id=SITE, statuses=None)
        for check in ("toner", "toner_empty"):
            [inc] = [i for i in everything if i.check == check]
            assert inc.status == "resolved", (check, inc.status)

        # the borne's crash: incident, SAV hand-off to GLPI, restart on the incident, solved
        kiosk = steps["kiosk"]["facts"]
        inc = get_incident(store, kiosk["incident"])
        assert (inc.device, inc.check, inc.status, inc.resolved_by) == (BORNE, "kiosk", "resolved", "monitor")
        kinds = [e.kind for e in inc.events]
        assert {"opened", "sav_handoff", "action", "resolved"} <= set(kinds), kinds
        [action] = [e for e in inc.events if e.kind == "action"]
        assert action.actor == "hotline-demo" and action.data["outcome"] == "changed"
        assert "Borne de démarches hors service aujourd'hui" in kiosk["screen"]
        glpi = [e for e in entries_of(store, inc.id) if e.channel == GLPI]
        assert glpi and {e.status for e in glpi} == {"delivered"}, [(e.kind, e.status) for e in glpi]
        assert queue_ref(store, inc.id, GLPI) == kiosk["ticket"] is not None
        assert kiosk["glpi_status"] == "Solved"

        # closing: the stations shut down, polled while off, and no incident
        closing = steps["closing"]["facts"]
        assert closing["opened"] == [] and closing["new_incidents"] == []

        # the month's audit: its report is on disk, recorded, signed, and its hash matches
        audit = steps["audit"]["facts"]
        pdf = Path(audit["files"]["pdf"])
        assert pdf.is_file() and state["report"] == str(pdf)
        assert sha256_of(pdf) == audit["sha256"]["pdf"]
        with store.read() as s:
            row = s.get(Audit, audit["audit_id"])
            assert row is not None and row.site_id == SITE
            assert {f.kind: f.sha256 for f in row.files}["pdf"] == audit["sha256"]["pdf"]
        assert verify(pdf, store=store, trusted=None).intact
    finally:
        store.dispose()


def test_demo_without_lab_only_validates(capsys: pytest.CaptureFixture[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "fleet.cli.main", "--lang", "en", "demo", "--no-lab"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "inventory OK: 29 sites" in done.stdout
    assert "lab, deploy, dashboard and the day skipped" in done.stdout


def test_demo_down_without_a_demo_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "en", "demo", "down"]) in (1, 2)
    err = capsys.readouterr().err
    assert "nothing to take down" in err and "Traceback" not in err

