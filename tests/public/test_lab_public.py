"""Lab proof of issue 17 on a real noumea-ps (systemd-nspawn hosts, real SSH, snmpsim): its two
bornes (one a visio borne) and its hall screen deployed once for the session, then, in Debian's
Chromium under the deployed policies:

- the borne opens its start page with its network cut (served by the borne itself), and a
  tile opens its procedure; the click adds one to that day's counter, collected once into the
  store over SSH;
- before a session wipe the end-of-session question is served and records an answer; when
  nobody answers, the wipe happens all the same;
- the hall screen shows its site's page (this week's hours, an agenda entry of the ICS file),
  then "Imprimante hors service" once the lab printer's recording turns to a jam;
- on the visio borne ``getUserMedia`` (Chromium's fake camera and microphone) succeeds on the
  listed origin and is refused on another; the plain borne refuses it everywhere.

Run as root, under the lab lock (pytest takes it): ``.venv/bin/pytest -m lab tests/public``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fleet.deploy import DeployOptions, DeployOutcome, StoreRecorder, deploy_site
from fleet.lab import down, make_lab
from fleet.lab.paths import CTL_NETNS
from fleet.lab.pytest_plugin import LabSite, lab_skip_reason, start_lab_site
from fleet.remote.publiccounts import collect_counts
from fleet.remote.pyinfra_run import Target
from fleet.store import open_store
from fleet.store.publiccounts import read_counts, totals
from tests.public.conftest import REPO
from tests.public.lab import (
    BORNE,
    PRINTER,
    SCREEN,
    SITE,
    VISIO,
    Standin,
    chromium_in,
    chromium_wrapper,
    run,
    start_https_standin,
    start_screen_server,
    wait_for,
)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

# Tuesday 22 September 2026, 09:00 in Nouméa: open; the CAFAT permanence is on Wednesday
T0 = datetime(2026, 9, 21, 22, 0, tzinfo=UTC)
RECORD = "/var/log/relais/wipe.jsonl"


@dataclass
class Public:
    site: LabSite
    deploy: DeployOutcome
    db: str
    tmp: Path
    https: Standin


@pytest.fixture(scope="module")  # its site goes down as soon as its tests are done
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Public]:
    reason = lab_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    lab = make_lab(REPO / "inventory", with_secrets=False)
    tmp = tmp_path_factory.mktemp("public")
    os.chmod(tmp, 0o755)
    site = start_lab_site(REPO, SITE)
    https = None
    try:
        db = f"sqlite:///{tmp / 'fleet.sqlite'}"
        out = deploy_site(
            site.inventory, SITE, repo=REPO,
            options=DeployOptions(limit=f"{BORNE}:{VISIO}:{SCREEN}",
                                  extra_inventories=(site.ansible_overlay,),
                                  ssh_config=site.ssh_config, lab=True),
            recorder=StoreRecorder(open_store(db)), user="lab-test-public")
        https = start_https_standin(site, tmp)
        yield Public(site, out, db, tmp, https)
    finally:
        if https is not None:
            https.stop()
        down(lab, SITE)


def _explain(out: DeployOutcome) -> str:
    return json.dumps(out.failed_hosts(), indent=1)


def test_deploy_of_the_bornes_and_the_screen(public: Public) -> None:
    out = public.deploy
    assert set(out.hosts) == {BORNE, VISIO, SCREEN}
    assert out.outcome in ("ok", "changed"), _explain(out)
    assert out.checks is not None and out.checks.ok, _explain(out)
    for host in (BORNE, VISIO):
        run(public.site, host, "systemctl is-active relais-startpage relais-kiosk relais-wipe")
    run(public.site, SCREEN, "systemctl is-active relais-screen relais-screen-watchdog.timer "
                             "relais-screen-nightly.timer")


# --- the start page ------------------------------------------------------------------------------
def _counts(site: LabSite, host: str) -> dict[str, Any]:
    text = run(site, host, "cat /var/log/relais/counts-*.json 2>/dev/null | tail -1; true").strip()
    return json.loads(text) if text else {}


def test_start_page_offline_then_a_tile_opens_its_procedure_and_is_counted_once(public: Public) -> None:
    site = public.site
    route = run(site, BORNE, "ip route show default").strip()
    assert route.startswith("default via"), route
    before = _counts(site, BORNE).get("tiles", {}).get("caf", 0)
    with chromium_in(site, BORNE, "guest", public.tmp) as browser:
        ctx = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 1024})
        page = ctx.new_page()
        run(site, BORNE, "ip link set eth0 down")
        try:
            with pytest.raises(Exception, match="ERR_"):  # positive control: the network is cut
                page.goto("https://www.caf.fr/", timeout=15_000)
            # Chromium commits its own error page after the failed navigation: wait for it, or
            # the next navigation is "interrupted by another navigation to chrome-error://"
            with contextlib.suppress(Exception):
                page.wait_for_url("chrome-error://**", timeout=10_000)
            page.goto("http://127.0.0.1:8088/", timeout=30_000)
            assert page.locator("a.tile").count() >= 5
            assert "Ma CAF" in page.content()
        finally:
            run(site, BORNE, f"ip link set eth0 up && ip route replace {route.split(' proto')[0]}")
        page.get_by_text("Ma CAF").click()
        page.wait_for_url("https://www.caf.fr/", timeout=60_000)
        assert "https stand-in www.caf.fr" in page.content()
        ctx.close()
    seen = [r for r in public.https.requests() if r["host"] == "www.caf.fr" and r["path"] == "/"]
    assert seen, public.https.requests()
    assert _counts(site, BORNE)["tiles"]["caf"] == before + 1
    # collected into the store over SSH, once
    store = open_store(public.db)
    targets = [Target(h, str(site.device(h).ip), ssh_config=site.ssh_config) for h in (BORNE, VISIO)]
    first = collect_counts(store, site.site, targets, datetime.now(UTC))
    again = collect_counts(store, site.site, targets, datetime.now(UTC))
    assert not first.unreachable and not first.skipped, first.to_json()
    rows = read_counts(store, [SITE], datetime.now(UTC).date() - timedelta(days=1),
                       datetime.now(UTC).date() + timedelta(days=1), "tiles")
    assert totals([r for r in rows if r.device == BORNE], "tiles")["caf"] == before + 1
    assert sum(i.added for i in again.imported) == 0
    store.dispose()


# --- the end-of-session question --------------------------------------------------------------------
def _records(site: LabSite, host: str) -> list[dict[str, Any]]:
    out = run(site, host, f"cat {RECORD} 2>/dev/null; true")
    return [json.loads(ln) for ln in out.splitlines() if ln.strip()]


def _guest_display_standin(site: LabSite, host: str) -> None:
    """A process of the guest carrying DISPLAY: the stand-in for the guest's X session (the lab
    borne's kiosk runs headless, without one).  relais-question finds the session by it."""
    run(site, host, "setpriv --reuid=guest --regid=guest --init-groups env DISPLAY=:7 "
                    "setsid sleep 600 </dev/null >/dev/null 2>&1 &")


def _start_wipe(site: LabSite, host: str, trigger: str) -> None:
    run(site, host, f"systemctl reset-failed relais-test-wipe 2>/dev/null; "
                    f"systemd-run --unit=relais-test-wipe --collect /usr/local/sbin/relais-wipe "
                    f"run --trigger {trigger}")


def _question_up(site: LabSite, host: str) -> bool:
    done = site.exec(host, "curl", "-fsS", "-m", "2", "http://127.0.0.1:8089/question")
    return done.returncode == 0 and "Avez-vous pu faire ce que vous vouliez" in done.stdout


PATIENT = """
import json, sys
for path, key in (("/etc/relais/question.json", "timeout"),
                  ("/etc/relais/session-wipe.d/40-question.json", "question_timeout")):
    data = json.load(open(path))
    data[key] = int(sys.argv[1]) + (30 if key == "question_timeout" else 0)
    json.dump(data, open(path, "w"))
"""


def test_the_question_records_an_answer_before_the_wipe(public: Public) -> None:
    site = public.site
    n = len(_records(site, BORNE))
    before = _counts(site, BORNE).get("answers", {}).get("oui", 0)
    # the test's own browser must not race the 20 s: the question waits 5 minutes here
    run(site, BORNE, f"python3 -c {shlex.quote(PATIENT)} 300")
    try:
        # a visitor's click, in Chromium under the deployed kiosk policy (as relais: the wipe
        # that follows ends every process of the guest)
        with chromium_in(site, BORNE, "relais", public.tmp) as browser:
            page = browser.new_page()
            _guest_display_standin(site, BORNE)
            _start_wipe(site, BORNE, "idle")
            wait_for("the question is served", lambda: _question_up(site, BORNE), timeout=60,
                     every=0.5)
            assert len(_records(site, BORNE)) == n  # asked before anything is wiped
            page.goto("http://127.0.0.1:8089/question")
            page.get_by_role("button", name="Oui").click()
            page.wait_for_selector("text=Merci", timeout=15_000)
    finally:
        run(site, BORNE, f"python3 -c {shlex.quote(PATIENT)} 20")
    record = wait_for("the wipe record", lambda: [r for r in _records(site, BORNE)[n:]
                                                  if r["trigger"] == "idle"], timeout=120)[-1]
    assert record["outcome"] == "ok", record
    assert _counts(site, BORNE)["answers"]["oui"] == before + 1


def test_nobody_answers_and_the_wipe_happens_anyway(public: Public) -> None:
    site = public.site
    n = len(_records(site, BORNE))
    before = _counts(site, BORNE).get("answers", {}).get("sans_reponse", 0)
    _guest_display_standin(site, BORNE)
    _start_wipe(site, BORNE, "max-session")
    wait_for("the question is served", lambda: _question_up(site, BORNE), timeout=60, every=0.5)
    record = wait_for("the wipe record", lambda: [r for r in _records(site, BORNE)[n:]
                                                  if r["trigger"] == "max-session"], timeout=120)[-1]
    assert record["outcome"] == "ok", record
    assert _counts(site, BORNE)["answers"]["sans_reponse"] == before + 1
    assert not _question_up(site, BORNE)  # closed with the wipe


# --- the hall screen -----------------------------------------------------------------------------
def _poll(db: str, at: datetime) -> None:
    done = subprocess.run(
        ["ip", "netns", "exec", CTL_NETNS, sys.executable, "-m", "fleet.cli.main", "poll", "--once",
         "--site", SITE, "--clock", at.isoformat(), "--db", db, "--json", "--timeout", "1",
         "--retries", "1", "--inventory", str(REPO / "inventory")],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr


def _screen_dom(public: Public) -> str:
    """The page as the screen host's Chromium renders it, as the screen's account, under the
    deployed screen policy (only this page allowed)."""
    wrapper = chromium_wrapper(public.site, SCREEN, "relais-screen", public.tmp)
    url = json.loads(run(public.site, SCREEN, "cat /etc/chromium/policies/managed/relais-screen.json")
                     )["RestoreOnStartupURLs"][0]
    done = subprocess.run([str(wrapper), "--headless", "--no-sandbox", "--disable-gpu",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120, check=False)
    return done.stdout + done.stderr


def _swap_printer_recording(public: Public, recording: str) -> None:
    data = public.site.lab.paths.site_run(SITE) / "snmp" / PRINTER
    (target,) = list(data.glob("*.snmprec"))
    before = target.stat().st_mtime
    tmp = target.with_suffix(".new")
    shutil.copyfile(REPO / "tests/fixtures/snmprec" / f"{recording}.snmprec", tmp)
    tmp.chmod(0o644)
    os.utime(tmp, (before + 10, before + 10))  # snmpsim re-indexes on a new mtime
    tmp.replace(target)


def test_the_screen_shows_its_site_then_the_printer_out_of_service(public: Public) -> None:
    site = public.site
    _poll(public.db, T0)
    server = start_screen_server(site, public.tmp, public.db, T0 + timedelta(minutes=6))
    try:
        run(site, SCREEN, "systemctl restart relais-screen")  # as every night: its page again
        dom = _screen_dom(public)
        assert "Horaires d'ouverture" in dom, dom[-2000:]
        assert "7 h 30 – 11 h 30" in dom and "Aujourd'hui" in dom  # this week's hours
        assert "Permanence CAFAT (santé, retraite)" in dom  # from the site's ICS file
        assert "Imprimante : disponible" in dom
        # the screen's own full-screen browser shows the page too (and reloads it)
        wait_for("the screen fetching its page", lambda: [
            r for r in server.requests() if r["client"] == str(site.device(SCREEN).ip)
            and r["path"] == f"/screen/{SITE}" and r["query"] == "ecran=1" and r["status"] == 200],
            timeout=150, every=2)
        _swap_printer_recording(public, "printers/brother-jammed")
        try:
            _poll(public.db, T0 + timedelta(minutes=2))
            dom = _screen_dom(public)
            assert "Imprimante hors service aujourd'hui" in dom, dom[-2000:]
        finally:
            _swap_printer_recording(public, "printers/brother")
    finally:
        server.stop()


def test_the_screen_may_open_nothing_but_its_page(public: Public) -> None:
    wrapper = chromium_wrapper(public.site, SCREEN, "relais-screen", public.tmp)
    done = subprocess.run([str(wrapper), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                           "http://www.service-public.fr/"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert "ERR_BLOCKED_BY_ADMINISTRATOR" in done.stdout + done.stderr


# --- the visio borne --------------------------------------------------------------------------------
MEDIA = """async () => {
  const state = async (name) => (await navigator.permissions.query({name})).state;
  const states = [await state("camera"), await state("microphone")];
  try {
    const s = await navigator.mediaDevices.getUserMedia({video: true, audio: true});
    const n = s.getTracks().length; s.getTracks().forEach(t => t.stop());
    return [states, "ok " + n];
  } catch (e) { return [states, e.name]; }
}"""
FAKE_DEVICES = ("--use-fake-device-for-media-stream",)
GRANTED = [["granted", "granted"], "ok 2"]
REFUSED = [["denied", "denied"], "NotAllowedError"]
"""Refused by the policy: the browser will not even ask the visitor ("denied", where without
the policy it is "prompt": a visitor could accept)."""


def _media(browser: Any, url: str) -> list[Any]:
    ctx = browser.new_context(ignore_https_errors=True)
    page = ctx.new_page()
    page.goto(url, timeout=60_000)
    assert "https stand-in" in page.content() or "tile" in page.content()  # the page loaded
    result = list(page.evaluate(MEDIA))
    ctx.close()
    return result


def test_visio_camera_on_the_listed_origin_only(public: Public) -> None:
    site = public.site
    with chromium_in(site, VISIO, "guest", public.tmp, args=FAKE_DEVICES) as browser:
        assert _media(browser, "https://visio.caf.nc/") == GRANTED  # no prompt: the policy grants
        assert _media(browser, "https://www.caf.fr/") == REFUSED
    # control: without the deployed camera rules the same origin would ask the visitor
    with chromium_in(site, VISIO, "guest", public.tmp, drop_media=True, args=FAKE_DEVICES) as browser:
        assert _media(browser, "https://www.caf.fr/")[0] == ["prompt", "prompt"]


def test_the_plain_borne_refuses_the_camera_everywhere(public: Public) -> None:
    site = public.site
    with chromium_in(site, BORNE, "guest", public.tmp, args=FAKE_DEVICES) as browser:
        for url in ("https://www.caf.fr/", "https://www.ameli.fr/", "http://127.0.0.1:8088/"):
            assert _media(browser, url) == REFUSED, url
        ctx = browser.new_context(ignore_https_errors=True)
        page = ctx.new_page()
        with pytest.raises(Exception, match="ERR_BLOCKED_BY_ADMINISTRATOR"):
            page.goto("https://visio.caf.nc/", timeout=30_000)  # not even reachable
        ctx.close()
    policy = json.loads(run(site, BORNE, "cat /etc/chromium/policies/managed/relais-kiosk.json"))
    assert policy["VideoCaptureAllowed"] is False and policy["VideoCaptureAllowedUrls"] == []
    visio = json.loads(run(site, VISIO, "cat /etc/chromium/policies/managed/relais-kiosk.json"))
    assert visio["VideoCaptureAllowedUrls"] == ["https://visio.caf.nc"]
    assert "https://visio.caf.nc" in visio["URLAllowlist"]


def test_the_wipe_leaves_no_media_permission_nor_site_data(public: Public) -> None:
    site = public.site
    with chromium_in(site, VISIO, "guest", public.tmp, args=FAKE_DEVICES) as browser:
        assert _media(browser, "https://visio.caf.nc/") == GRANTED
    exception = {"media_stream_camera": {"https://visio.caf.nc:443,*": {"setting": 1}}}
    prefs = json.dumps({"profile": {"content_settings": {"exceptions": exception}}})
    run(site, VISIO, "mkdir -p /home/guest/.config/chromium/Default && "
                     f"echo {shlex.quote(prefs)} "
                     "> /home/guest/.config/chromium/Default/Preferences && "
                     "chown -R guest: /home/guest/.config")
    run(site, VISIO, "/usr/local/sbin/relais-wipe run --trigger remote >/dev/null")
    left = run(site, VISIO, "ls -A /home/guest/.config/chromium /tmp 2>/dev/null; true")
    assert "Default" not in left and "relais-proof-home-guest" not in left, left
