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

import contextlib
import io
import json
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from fleet.store import Store, open_store
from fleet.store.audit import Audit
from fleet.store.connlog import ConnectionRecord
from fleet.store.outbox import GLPI, entries_of, queue_ref
from tests.deployed import DeployedSite

REPLACES_THE_SITE = True
REPO = Path(__file__).resolve().parents[2]
SITE = "florac-fs"
PC1, PC2, BORNE = "florac-fs-pc1", "florac-fs-pc2", "florac-fs-borne1"
SCREEN, SCREEN_IP = "florac-fs-screen1", "10.48.12.51"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode("utf-8", "replace")


@dataclass(frozen=True)
class Demo:
    out: str
    code: int
    port: int
    state: dict[str, Any]
    steps: dict[str, dict[str, Any]]
    state_dir: Path  # the demo's FLEET_STATE_DIR: a test that runs `fleet demo ...` sets it


@pytest.fixture(scope="module")
def demo(deployed_site: DeployedSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """One run of ``fleet demo`` (in-process: it shares this session's lab lock) on the
    session's deployed site, made the demo's deployed snapshot first.  Its state directory is
    the module's own: a module fixture is set up before each test's own (``_isolated_settings``),
    which a later ``fleet demo down`` would otherwise look in (and find no demo: exit 2)."""
    state_dir = tmp_path_factory.mktemp("demo-state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLEET_STATE_DIR", str(state_dir))
        site = deployed_site.site
        key = snapshot.snapshot_key(site.lab, site.site, REPO, REPO / "inventory")
        keep_deployed(site.lab, site.site, key, deployed_site.pristine, demo_dir())
        port = _free_port()
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(["--lang", "en", "demo", "--port", str(port)])
        state = json.loads((demo_dir() / "demo.json").read_text("utf-8"))
    steps = {s["name"]: s for s in state.get("day_steps", [])}
    try:
        yield Demo(buffer.getvalue(), code, port, state, steps, state_dir)
    finally:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("FLEET_STATE_DIR", str(state_dir))
            main(["--lang", "en", "demo", "down"])  # whatever happened: nothing left behind


def _store(d: Demo) -> Store:
    return open_store(d.state["db"])


@pytest.mark.lab
@pytest.mark.slow
def test_the_demo_plays_its_day_from_the_snapshot(demo: Demo) -> None:
    assert demo.code == 0, demo.out[-4000:]
    assert demo.state["steps"]["site"]["source"] == "snapshot", demo.state["steps"]["site"]
    assert list(demo.steps) == ["night", "opening", "wifi", "wipe", "toner", "kiosk", "closing", "audit"]
    assert all(s["seconds"] >= 0 for s in demo.steps.values())
    for line in ("Night:", "Opening:", "A visitor", "A session ends", "toner", "crashes", "Closing:",
                 "audit", "Where to look", f"http://127.0.0.1:{demo.port}/"):
        assert line in demo.out, line
    # the dashboard answers, with the hall screen's public page
    assert _get(f"http://127.0.0.1:{demo.port}/login")[0] == 200
    assert _get(f"http://127.0.0.1:{demo.port}/screen/{SITE}")[0] == 200


@pytest.mark.lab
@pytest.mark.slow
def test_opening_wakes_every_scheduled_station(demo: Demo) -> None:
    store = _store(demo)
    try:
        for host in (PC1, PC2, BORNE):
            wakes = [e for e in device_actions(store, host) if (e.data or {}).get("action") == "wake"]
            assert any(e.data["outcome"] == "changed" and e.data.get("scheduled") for e in wakes), host
    finally:
        store.dispose()
    opening = demo.steps["opening"]["facts"]
    assert {PC1, PC2, BORNE} <= set(opening["reachable"]), opening  # awake, and they answer


@pytest.mark.lab
@pytest.mark.slow
def test_the_visitor_goes_through_the_portal_and_the_legal_log_is_kept(demo: Demo) -> None:
    wifi = demo.steps["wifi"]["facts"]
    assert wifi["connected"] and wifi["browsing"], wifi
    store = _store(demo)
    try:
        with store.read() as s:
            assert s.scalars(select(ConnectionRecord).where(ConnectionRecord.site_id == SITE)).first()
    finally:
        store.dispose()


@pytest.mark.lab
@pytest.mark.slow
def test_the_session_is_wiped_with_its_record(demo: Demo) -> None:
    wipe = demo.steps["wipe"]["facts"]
    assert wipe["file_gone"] and wipe["outcome"] == "changed", wipe
    store = _store(demo)
    try:
        [event] = [e for e in device_actions(store, wipe["host"]) if e.data.get("action") == "wipe-now"]
    finally:
        store.dispose()
    assert event.data["record"]["outcome"] == "ok" and event.data["record"]["trigger"] == "remote"


@pytest.mark.lab
@pytest.mark.slow
def test_the_toner_reaches_the_hotline_and_the_hall_screen(demo: Demo) -> None:
    toner = demo.steps["toner"]["facts"]
    assert "Imprimante : disponible" in toner["screen_low"]  # a low toner does not stop printing
    assert "Imprimante hors service aujourd'hui" in toner["screen_empty"]
    assert "Imprimante : disponible" in toner["screen_after"]
    # what the hall screen said is its page as the screen host got it, from the address its own
    # browser opens (which got it too, the self-reloading version), in the lab's fake internet
    assert f"hall screen {SCREEN}" in demo.out
    assert demo.steps["opening"]["facts"]["screen_browser_fetches"] >= 1
    requests = [json.loads(line) for line in Path(demo.state["screen_log"]).read_text("utf-8").splitlines()]
    from_screen = [r for r in requests if r["client"] == SCREEN_IP and r["path"] == f"/screen/{SITE}"]
    assert {r["query"] for r in from_screen} == {"", "ecran=1"}
    assert all(r["status"] == 200 for r in from_screen)
    store = _store(demo)
    try:
        everything = list_incidents(store, site_id=SITE, statuses=None)
    finally:
        store.dispose()
    for check in ("toner", "toner_empty"):
        [inc] = [i for i in everything if i.check == check]
        assert inc.status == "resolved", (check, inc.status)


@pytest.mark.lab
@pytest.mark.slow
def test_the_borne_crash_goes_to_glpi_and_is_solved_on_recovery(demo: Demo) -> None:
    kiosk = demo.steps["kiosk"]["facts"]
    assert kiosk["incident"] is not None, kiosk
    store = _store(demo)
    try:
        inc = get_incident(store, kiosk["incident"])
        glpi = [e for e in entries_of(store, inc.id) if e.channel == GLPI]
        ref = queue_ref(store, inc.id, GLPI)
    finally:
        store.dispose()
    assert (inc.device, inc.check, inc.status, inc.resolved_by) == (BORNE, "kiosk", "resolved", "monitor")
    kinds = [e.kind for e in inc.events]
    assert {"opened", "sav_handoff", "action", "resolved"} <= set(kinds), kinds
    [action] = [e for e in inc.events if e.kind == "action"]
    assert action.actor == "hotline-demo" and action.data["outcome"] == "changed"
    assert "Borne de démarches hors service aujourd'hui" in kiosk["screen"]
    assert glpi and {e.status for e in glpi} == {"delivered"}, [(e.kind, e.status) for e in glpi]
    assert ref == kiosk["ticket"] is not None
    assert kiosk["glpi_status"] == "Solved"


# Read on a lab container, the CPU load is the whole machine's (its cores are shared by every
# lab host and by the test run itself): on a loaded machine "cpu over_threshold" may open on
# any host, a reading of the lab, not of the story (as in tests/incidents/test_lab_monitoring.py).
MACHINE_WIDE = frozenset({"cpu"})


def _story(opened: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The incidents a poll opened, less those of machine-wide readings."""
    return [o for o in opened if o.get("check") not in MACHINE_WIDE]


@pytest.mark.lab
@pytest.mark.slow
def test_the_day_opens_only_the_incidents_of_its_story(demo: Demo) -> None:
    """A deployed site raises nothing the story did not cause (the hall screen's browser, once
    read where its agent's view does not reach, opened a kiosk incident at every demo)."""
    store = _store(demo)
    try:
        everything = list_incidents(store, site_id=SITE, statuses=None)
    finally:
        store.dispose()
    assert _story(demo.steps["night"]["facts"]["opened"]) == [], demo.steps["night"]
    printer = next(i.device for i in everything if i.check == "toner")  # the control: some open
    assert sorted((i.device, i.check) for i in everything if i.check not in MACHINE_WIDE) == sorted(
        [(printer, "toner"), (printer, "toner_empty"), (BORNE, "kiosk")]), everything


@pytest.mark.lab
@pytest.mark.slow
def test_closing_shuts_the_stations_down_without_an_alert(demo: Demo) -> None:
    closing = demo.steps["closing"]["facts"]
    store = _store(demo)
    try:
        new = [get_incident(store, n).check for n in closing["new_incidents"]]
    finally:
        store.dispose()
    assert _story(closing["opened"]) == [] and [c for c in new if c not in MACHINE_WIDE] == [], closing


@pytest.mark.lab
@pytest.mark.slow
def test_the_months_report_is_signed_recorded_and_its_hash_matches(demo: Demo) -> None:
    audit = demo.steps["audit"]["facts"]
    pdf = Path(audit["files"]["pdf"])
    assert pdf.is_file() and demo.state["report"] == str(pdf)
    assert sha256_of(pdf) == audit["sha256"]["pdf"]
    # the auditor's checklist entered, every check run and passed: nothing left to say
    assert audit["checklist"]["items"] > 0 and Path(audit["checklist"]["file"]).is_file()
    assert (audit["verdict"], audit["failures"], audit["skipped"]) == ("green", [], []), audit
    store = _store(demo)
    try:
        with store.read() as s:
            row = s.get(Audit, audit["audit_id"])
            assert row is not None and row.site_id == SITE
            assert {f.kind: f.sha256 for f in row.files}["pdf"] == audit["sha256"]["pdf"]
        assert verify(pdf, store=store, trusted=None).intact
    finally:
        store.dispose()


@pytest.mark.lab
@pytest.mark.slow
def test_the_hotline_restarts_the_kiosk_from_the_demos_dashboard(demo: Demo) -> None:
    """The dashboard the demo leaves up acts on the lab copy of the site (``fleet web --lab``):
    its device page's "restart the kiosk" reaches the borne, as the demo's own restart did."""
    import httpx

    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    base = f"http://127.0.0.1:{demo.port}"
    with httpx.Client(base_url=base, timeout=120, follow_redirects=True) as web:
        page = web.get("/login").text
        token = csrf.search(page[page.index('action="/login"'):])
        assert token is not None
        home = web.post("/login", data={"name": demo.state["login"], "password": demo.state["password"],
                                        "csrf": token.group(1)})
        assert home.status_code == 200 and 'action="/login"' not in home.text
        device = web.get(f"/devices/{BORNE}").text
        assert 'value="restart-kiosk"' in device, device[-2000:]
        token = csrf.search(device[device.index(f'action="/devices/{BORNE}/act"'):])
        assert token is not None
        done = web.post(f"/devices/{BORNE}/act", data={"csrf": token.group(1), "action": "restart-kiosk",
                                                        "confirm": "1"})
    assert done.status_code == 200, done.text[-2000:]
    outcomes = re.findall(r'data-outcome="([a-z_]+)"', done.text)
    assert outcomes and set(outcomes) <= {"changed", "ok"}, (outcomes, done.text[-1500:])


@pytest.mark.lab
@pytest.mark.slow
def test_fleet_demo_down_takes_everything_away(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_STATE_DIR", str(demo.state_dir))
    screen_pid = demo.state["screen_pid"]
    assert Path(f"/proc/{screen_pid}").exists()  # the control: the screen's page is served
    assert main(["--lang", "en", "demo", "down"]) == 0
    with pytest.raises(OSError):
        _get(f"http://127.0.0.1:{demo.port}/login")
    assert not Path(f"/proc/{screen_pid}").exists()
    assert not any(netns_exists(host_netns(h)) for h in (PC1, PC2, BORNE))


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

