"""Every wipe trigger on the public PC and on the borne (issue 9.8), on the lab's deployed
florac-fs, with real X input: the borne's kiosk runs on a virtual screen (Xvfb, the kiosk role's
stand-in for a screen in a container), the PC's guest session is given one; xdotool moves the
mouse through the X server (XTEST), and the watcher reads idleness from that server
(xprintidle).

The timeouts are made tiny through the roles' own variables (a tagged re-deploy, as
``ansible-playbook -e`` would), and restored at the end.  Nothing here sleeps then asserts:
every step waits for the watcher's own status (one line per cycle) or the wipe record.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fleet.deploy import DeployOutcome, wipe
from fleet.lab.pytest_plugin import LabSite
from tests.roles.labkit import (
    BORNE,
    PC,
    REPO,
    as_guest,
    ok,
    records,
    sh,
    status,
    tune,
    wait_for,
    wait_record,
)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

Deployed = tuple[LabSite, DeployOutcome, str]
HOSTS = [PC, BORNE]
DISPLAY = {PC: ":5", BORNE: ":0"}  # the PC's test session; the kiosk's (kiosk_x_display)
TEST_SESSION = "relais-test-session"
TAGS = ["session_wipe_install", "kiosk_idle_reset"]
POLL = {"session_wipe_poll_interval": 1}
LONG = 3600
# The windows leave the test's own steps (each a process started on a host, slow when both
# cores are busy) many seconds: the verdict is what the watcher does, not how fast the test is.
# idle: warning after 6 s without input, wipe after 30 s (24 s for a person to come back)
SHORT_IDLE = {**POLL, "session_wipe_idle_timeout": 30, "session_wipe_idle_warning": 24,
              "session_wipe_max_session": LONG, "session_wipe_max_session_warning": 60,
              "kiosk_idle_reset_seconds": 30, "kiosk_idle_reset_warning": 24,
              "kiosk_max_session_seconds": LONG, "kiosk_max_session_warning": 60}
# maximum length: warning after 10 s, end after 30 s, whatever the input (30 s to start the
# session, plant the canaries and count the records before the wipe)
SHORT_MAX = {**POLL, "session_wipe_idle_timeout": LONG, "session_wipe_idle_warning": 60,
             "session_wipe_max_session": 30, "session_wipe_max_session_warning": 20,
             "kiosk_idle_reset_seconds": LONG, "kiosk_idle_reset_warning": 60,
             "kiosk_max_session_seconds": 30, "kiosk_max_session_warning": 20}
CANARIES = ("/home/guest/Documents/canary.txt", "/home/guest/.config/chromium/Default/Cookies",
            "/tmp/canary-tmp", "/var/tmp/canary-var-tmp", "/dev/shm/canary-shm")


class Lab:
    """The tuned lab: which timeouts are deployed, and the guest's X input."""

    def __init__(self, site: LabSite) -> None:
        self.site = site
        self.tuned: dict[str, int] = {}
        self.feeders: dict[str, str] = {}  # host -> pid of the input loop
        self.token = ""  # what plant() wrote in each canary path

    def tune(self, values: dict[str, int]) -> None:
        if values != self.tuned:
            tune(self.site, HOSTS, TAGS, values)
            self.tuned = dict(values)

    def x(self, host: str, command: str) -> Any:
        """An X client as the guest on the host's test display."""
        return as_guest(self.site, host, f"DISPLAY={DISPLAY[host]} {command}")

    def feed_input(self, host: str) -> None:
        """Real mouse input through the X server (XTEST, as a touch screen or a mouse would
        give), every 0.3 s, until stopped.  The loop runs as root, not as the guest: a wipe
        ends every process of the guest, and this one must outlive wipes and never be counted
        as the guest's; it follows the display from one X server to the next."""
        loop = (f"while :; do DISPLAY={DISPLAY[host]} xdotool mousemove_relative -- 3 3 "
                "2>/dev/null; sleep 0.3; done")
        self.feeders[host] = ok(self.site, host, f"setsid sh -c {shlex.quote(loop)} "
                                "</dev/null >/dev/null 2>&1 & echo $!").strip()

    def stop_input(self, host: str) -> None:
        pid = self.feeders.pop(host, None)
        if pid is not None:
            sh(self.site, host, f"kill {pid}")

    def session(self, host: str) -> str:
        """The guest's graphical session the watcher follows: on the PC a new one (PAM, its own
        X server on :5, as lightdm would start); on the borne the kiosk's."""
        if host == PC:
            self.site.exec(PC, "systemctl", "stop", TEST_SESSION)
            self.site.exec(PC, "systemctl", "reset-failed", TEST_SESSION)
            run = self.site.exec(
                PC, "systemd-run", f"--unit={TEST_SESSION}", "--uid=guest", "-p", "PAMName=login",
                "-p", f"Environment=DISPLAY={DISPLAY[PC]} XDG_SESSION_TYPE=x11",
                # -noreset: an X server resets (and its idle time with it) when its last client
                # leaves; a desktop session always has clients (window manager, panel), this
                # bare test session has none between the watcher's queries
                "/usr/bin/Xvfb", DISPLAY[PC], "-noreset", "-nolisten", "tcp",
                "-screen", "0", "800x600x16")
            assert run.returncode == 0, run.stderr
        return self.followed(host)

    def followed(self, host: str, younger_than: int | None = None) -> str:
        """A session the watcher follows with idleness read from its X server, fed by the
        test's input (idle under 3 s): not one about to be wiped for an earlier idleness."""
        assert host in self.feeders, "feed input first"

        def probe() -> str | None:
            for sid, s in status(self.site, host).get("sessions", {}).items():
                if (s["idle_from"] == "x11" and s["idle"] < 3
                        and (younger_than is None or s["age"] < younger_than)):
                    return str(sid)
            return None

        return wait_for(f"the watcher following an X session on {host}", probe, timeout=120)

    def plant(self, host: str) -> None:
        """A token of this session in each canary path.  The token, not the path, is what must
        not survive: the kiosk's browser, back after the wipe in the fresh home, writes its own
        (empty) Cookies database at the same path, whenever it gets to it."""
        self.token = f"canary-{uuid.uuid4().hex}"
        script = " && ".join(f"mkdir -p {shlex.quote(p.rsplit('/', 1)[0])} && "
                             f"echo {self.token} > {p}" for p in CANARIES)

        def planted() -> bool:
            done = as_guest(self.site, host, script)
            assert done.returncode == 0, done.stderr
            return self._left(host) == list(CANARIES)

        # positive control: the probe below finds what was planted.  A kiosk just back from
        # the previous wipe may create its Cookies database after the token was written (a
        # fresh-clone run of 2026-12-01, both cores busy): planted again until it holds
        wait_for(f"the canaries planted on {host}", planted, timeout=60)

    def _left(self, host: str) -> list[str]:
        probe = sh(self.site, host, "; ".join(f"grep -qsF {self.token} {p} && echo {p}"
                                              for p in CANARIES) + "; true")
        return [str(p) for p in probe.stdout.split()]

    def assert_wiped(self, host: str, record: dict[str, Any]) -> None:
        assert record["outcome"] == "ok", record
        assert record["residue"]["remaining"] == 0 and record["residue"]["processes"] == 0, record
        left = self._left(host)
        assert left == [], f"survived the wipe: {left}"
        if host == BORNE:  # the kiosk is back, in a new session
            wait_for("the kiosk back after the wipe",
                     lambda: sh(self.site, BORNE, "pgrep -u guest -x chromium").returncode == 0)


@pytest.fixture(scope="module")
def lab(deployed: Deployed) -> Iterator[Lab]:
    site = deployed[0]
    for host in HOSTS:  # xdotool: the test's input device; Xvfb: the PC test session's screen
        ok(site, host, "apt-get -o DPkg::Lock::Timeout=300 install -y -q xdotool xvfb >/dev/null",
           timeout=360)
    tuned = Lab(site)
    try:
        yield tuned
    finally:
        site.exec(PC, "systemctl", "stop", TEST_SESSION)
        tune(site, HOSTS, TAGS, {})  # the roles' own values again


# --- idle, with its warning, from real input ------------------------------------------------------
def _statuses(lab: Lab, host: str, sid: str, cycles: int) -> list[dict[str, Any]]:
    """The watcher's view of one session over its next ``cycles`` cycles."""
    seen: dict[int, dict[str, Any]] = {}

    def probe() -> bool:
        st = status(lab.site, host)
        if sid in st.get("sessions", {}):
            seen[int(st["cycle"])] = st["sessions"][sid]
        return len(seen) >= cycles

    wait_for(f"{cycles} watcher cycles on {host}", probe, timeout=60, every=0.3)
    return list(seen.values())


def _warning_on_screen(lab: Lab, host: str) -> bool:
    tree = lab.x(host, "xwininfo -root -tree")
    return "relais-wipe-warning" in tree.stdout


@pytest.mark.parametrize("host", HOSTS)
def test_idle_wipe_warns_and_real_input_holds_it_off(lab: Lab, host: str) -> None:
    lab.tune(SHORT_IDLE)
    lab.feed_input(host)
    try:
        sid = lab.session(host)
        lab.plant(host)
        n = len(records(lab.site, host))
        # input flows: the watcher reads small idle times from the X server, neither warns nor
        # wipes, for several of its cycles (the positive control of the input path)
        for s in _statuses(lab, host, sid, 4):
            assert s["idle_from"] == "x11" and s["idle"] < 6 and s["warned"] is None, s
    finally:
        lab.stop_input(host)
    # nobody: the warning comes, on the screen
    wait_for("the idle warning", lambda: status(lab.site, host)["sessions"].get(sid, {})
             .get("warned") == "idle", timeout=60)
    wait_for("the warning window on the screen", lambda: _warning_on_screen(lab, host), timeout=20)
    assert len(records(lab.site, host)) == n, "wiped before the warning could be answered"
    # the person comes back: one real mouse move, the warning is withdrawn
    moved = lab.x(host, "xdotool mousemove_relative -- 10 10")
    assert moved.returncode == 0, moved.stderr
    wait_for("the watcher to see the person back", lambda: status(lab.site, host)["sessions"]
             .get(sid, {}).get("warned", "gone") is None, timeout=20)
    assert len(records(lab.site, host)) == n, "wiped although the person came back"
    # and leaves: the idle wipe
    record = wait_record(lab.site, host, n, "idle", timeout=90)
    assert status(lab.site, host)["warnings_total"] >= 2
    lab.assert_wiped(host, record)


# --- logout ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", HOSTS)
def test_logout_wipe(lab: Lab, host: str) -> None:
    lab.tune(SHORT_IDLE)
    lab.feed_input(host)  # no idle wipe meanwhile
    try:
        sid = lab.session(host)
        lab.plant(host)
        n = len(records(lab.site, host))
        if host == PC:
            lab.site.exec(PC, "systemctl", "stop", TEST_SESSION)
        else:  # the kiosk's session ends (what a browser crash or a closed session does)
            ok(lab.site, BORNE, f"loginctl terminate-session {sid}")
        record = wait_record(lab.site, host, n, "logout")
    finally:
        lab.stop_input(host)
    lab.assert_wiped(host, record)


# --- nightly, boot, remote ---------------------------------------------------------------------------
@pytest.mark.parametrize(("host", "trigger"), [(PC, "nightly"), (BORNE, "nightly"),
                                                (PC, "boot"), (PC, "remote")])
def test_scheduled_and_remote_wipes(lab: Lab, host: str, trigger: str) -> None:
    """Nightly on both kinds; boot and remote are the same program run by another unit or by
    Ansible, shown on the PC (the canary wipe of every deploy runs them on the borne too)."""
    lab.tune(SHORT_IDLE)
    lab.feed_input(host)
    try:
        if host == BORNE:
            lab.followed(BORNE)  # a kiosk session in use, not one about to be reset
        lab.plant(host)
        n = len(records(lab.site, host))
        if trigger == "nightly":  # what its timer starts
            timer = ok(lab.site, host, "systemctl show relais-wipe-nightly.timer "
                       "-p ActiveState -p TimersCalendar")
            assert "ActiveState=active" in timer and "03:30:00" in timer, timer
            ok(lab.site, host, "systemctl start relais-wipe-nightly.service")
        elif trigger == "boot":
            ok(lab.site, host, "systemctl restart relais-wipe-boot.service")
        else:
            (res,) = wipe(lab.site.inventory, host, repo=REPO,
                          extra_inventories=[lab.site.ansible_overlay])
            assert res.ok, res.message
        record = wait_record(lab.site, host, n, trigger)
    finally:
        lab.stop_input(host)
    lab.assert_wiped(host, record)


# --- maximum session length -----------------------------------------------------------------------
@pytest.mark.parametrize("host", HOSTS)
def test_maximum_session_length_warns_then_wipes_despite_input(lab: Lab, host: str) -> None:
    lab.tune(SHORT_MAX)
    lab.feed_input(host)  # someone is using it all along
    try:
        if host == PC:
            sid = lab.session(PC)
        else:  # a kiosk session still far from the limit (the tuning may have just ended one)
            sid = lab.followed(BORNE, younger_than=6)
        lab.plant(host)
        n = len(records(lab.site, host))
        wait_for("the maximum-length warning", lambda: status(lab.site, host)["sessions"]
                 .get(sid, {}).get("warned") == "max-session", timeout=60)
        assert _warning_on_screen(lab, host) or wait_for(
            "the warning window", lambda: _warning_on_screen(lab, host), timeout=10)
        record = wait_record(lab.site, host, n, "max-session", timeout=90)
    finally:
        lab.stop_input(host)
    assert record["session_seconds"] >= 30, record
    lab.assert_wiped(host, record)
