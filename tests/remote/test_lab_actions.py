"""Each remote action on the deployed lab site (florac-fs): the effect is observed on the host
itself (through nsenter, not through the action's own SSH), the incident shows the event, a
second run reports "no change" where that applies, and the wrong device kind is refused.

Run as root, one lab run at a time: ``.venv/bin/pytest -m lab tests/remote`` (pytest takes the
lab lock itself)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from fleet.errors import ActionRefused, PermissionDenied
from fleet.incidents import get_incident
from fleet.lab import wol
from fleet.remote.act import ActReport, act
from fleet.remote.record import device_actions
from tests.remote.conftest import BORNE, GW, PC1, PC2, Deployed

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PARIS = ZoneInfo("Europe/Paris")
MONDAY_10H = datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)  # florac-fs is open
MONDAY_22H = datetime(2026, 11, 23, 22, 0, tzinfo=PARIS)  # closed


def run(d: Deployed, action: str, target: str, *, argument: str | None = None,
        incident: int | None = None, actor: str = "marie", at: datetime | None = None,
        force: bool = False) -> ActReport:
    store = d.store()
    try:
        return act(d.site.inventory, action, target, store=store, actor=actor, argument=argument,
                   incident_id=incident, lab=True, force=force, state_dir=d.state_dir,
                   clock=(lambda: at) if at else (lambda: datetime.now(UTC)), timeout=90,
                   boot_timeout=180)
    finally:
        store.dispose()


def one(report: ActReport) -> tuple[str, str]:
    [r] = report.results
    return r.outcome, r.message


def last_event(d: Deployed, incident: int) -> tuple[str, str, str]:
    store = d.store()
    try:
        e = get_incident(store, incident).events[-1]
    finally:
        store.dispose()
    return e.kind, e.actor, e.text


def refused(d: Deployed, action: str, target: str, text: str, argument: str | None = None) -> None:
    with pytest.raises(ActionRefused, match=text):
        run(d, action, target, argument=argument)


def wait_for(predicate, what: str, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def kiosk_pid(d: Deployed) -> str:
    return d.out(BORNE, "systemctl show -p MainPID --value relais-kiosk.service")


# --------------------------------------------------------------------------- restart-kiosk --


def test_restart_kiosk(deployed: Deployed) -> None:
    d = deployed
    wait_for(lambda: kiosk_pid(d) not in ("", "0"), "the kiosk to run")
    before = kiosk_pid(d)
    n = d.incident(BORNE, "kiosk")
    outcome, message = one(run(d, "restart-kiosk", BORNE, incident=n))
    assert outcome == "changed", message
    # the action saw a new main process running; read from its report, not looked up again
    # (the kiosk's watchdog, every 15 s, may restart a browser still starting on a slow machine)
    seen = re.search(r"PID (\d+) -> (\d+) \(", message)
    assert seen and seen.group(2) not in ("0", seen.group(1), before), (before, message)
    after = seen.group(2)
    # and it saw the browser itself, a chromium process of the unit (not xinit alone)
    assert re.search(r"browser running \(PID \d+\)", message), message
    wait_for(lambda: kiosk_pid(d) not in ("", "0") and
             d.sh(BORNE, "systemctl is-active relais-kiosk.service").stdout.strip() == "active",
             "the kiosk running after the restart")
    kind, actor, text = last_event(d, n)
    assert (kind, actor) == ("action", "marie") and f"-> {after}" in text
    refused(d, "restart-kiosk", PC1, "florac-fs-pc1 is a public_pc; this action is for: borne")


# ------------------------------------------------------------------------------- wipe-now --

CANARIES = ("/home/guest/Documents/canary-remote.txt", "/home/guest/Downloads/canary.pdf",
            "/tmp/canary-remote-tmp", "/var/tmp/canary-remote-vartmp")


def test_wipe_now(deployed: Deployed) -> None:
    d = deployed
    plant = " && ".join(f"mkdir -p $(dirname {c}) && echo private > {c}" for c in CANARIES)
    d.out(PC2, f"setpriv --reuid=guest --regid=guest --init-groups env HOME=/home/guest sh -c '{plant}'")
    assert d.out(PC2, "ls " + " ".join(CANARIES)).count("canary") == len(CANARIES)  # planted
    records = int(d.out(PC2, "wc -l < /var/log/relais/wipe.jsonl || echo 0") or 0)
    n = d.incident(PC2, "session_wipe")
    outcome, message = one(run(d, "wipe-now", PC2, incident=n))
    assert outcome == "changed", message
    assert d.sh(PC2, "ls " + " ".join(CANARIES)).stdout.strip() == ""  # every canary gone
    lines = d.out(PC2, "cat /var/log/relais/wipe.jsonl").splitlines()
    assert len(lines) == records + 1 and '"trigger": "remote"' in lines[-1]
    assert '"outcome": "ok"' in lines[-1]
    kind, _, text = last_event(d, n)
    assert kind == "action" and "wipe-now on florac-fs-pc2: changed" in text
    # a second wipe is a wipe again (a record each time): changed, never "no change"
    assert one(run(d, "wipe-now", PC2))[0] == "changed"
    refused(d, "wipe-now", GW, "florac-fs-gw is a gateway")


# ---------------------------------------------------------------------- clear-print-queue --


def test_clear_print_queue(deployed: Deployed) -> None:
    d = deployed
    queue = d.out(PC1, "lpstat -d | sed 's/.*: //'")
    assert queue, "no default queue on the PC"
    d.out(PC1, f"for i in 1 2 3; do lp -H hold -d {queue} /etc/hostname; done")
    assert len(d.out(PC1, "lpstat -o").splitlines()) == 3  # three jobs wait
    outcome, message = one(run(d, "clear-print-queue", PC1))
    assert (outcome, message) == ("changed", "3 job(s) cancelled, the queue is empty")
    assert d.out(PC1, "lpstat -o") == ""
    assert one(run(d, "clear-print-queue", PC1)) == ("no_change", "the queue was already empty")
    events = [e.data["outcome"] for e in device_actions(d.store(), PC1)
              if e.data.get("action") == "clear-print-queue"]
    assert events[:2] == ["no_change", "changed"]  # newest first, both recorded
    refused(d, "clear-print-queue", BORNE, "florac-fs-borne1 is a borne")


# ------------------------------------------------------------------------ restart-service --


def test_restart_service(deployed: Deployed) -> None:
    d = deployed
    before = d.out(PC1, "systemctl show -p MainPID --value snmpd.service")
    outcome, message = one(run(d, "restart-service", PC1, argument="snmpd"))
    assert outcome == "changed" and "snmpd.service restarted, active" in message
    after = d.out(PC1, "systemctl show -p MainPID --value snmpd.service")
    assert after not in ("0", before)
    refused(d, "restart-service", PC1, "not allowed on florac-fs-pc1", argument="ssh")
    refused(d, "restart-service", PRN := "florac-fs-prn1", f"{PRN} is a printer", argument="snmpd")


# --------------------------------------------------------------------------------- reboot --


def boot_id(d: Deployed, host: str) -> str:
    return d.out(host, "cat /proc/sys/kernel/random/boot_id")


def test_reboot(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    d = deployed
    first = boot_id(d, PC2)
    # a guest session on the PC while the site is open: refused (positive control: it exists)
    d.out(PC2, "systemd-run --unit=relais-test-guest -p PAMName=login -p User=guest sleep 3600")
    wait_for(lambda: "guest" in d.out(PC2, "loginctl list-sessions --no-legend"), "the guest session")
    outcome, message = one(run(d, "reboot", PC2, at=MONDAY_10H))
    assert outcome == "refused" and "guest session" in message
    assert boot_id(d, PC2) == first  # nothing happened
    # the hotline may not force it; a technician may
    n = d.incident(PC2, "cpu")
    monkeypatch.setenv("FLEET_USER_ROLES", "marie:hotline")
    with pytest.raises(PermissionDenied, match=r"act\.reboot\.force"):
        run(d, "reboot", PC2, at=MONDAY_10H, force=True)
    outcome, message = one(run(d, "reboot", PC2, at=MONDAY_10H, force=True, incident=n, actor="luc"))
    assert outcome == "changed", message
    second = boot_id(d, PC2)
    assert second != first  # a new boot, and it answers over SSH again
    assert d.answer(PC2) == PC2
    kind, actor, text = last_event(d, n)
    assert (kind, actor) == ("action", "luc") and "rebooted, answers again" in text
    # closed site: no guest question asked
    assert one(run(d, "reboot", PC2, at=MONDAY_22H))[0] == "changed"
    assert boot_id(d, PC2) not in (first, second)
    refused(d, "reboot", GW, "florac-fs-gw is a gateway")


# ----------------------------------------------------------------------------------- wake --


def test_wake(deployed: Deployed) -> None:
    d = deployed
    first = boot_id(d, PC1)
    d.sh(PC1, "systemctl poweroff")
    wait_for(lambda: wol.power_state(d.power_dir, PC1).get("power") == "off", "PC1 to power off")
    assert d.answer(PC1) is None  # it does not answer
    n = d.incident(PC1)
    outcome, message = one(run(d, "wake", PC1, incident=n))
    assert outcome == "changed" and "woken from florac-fs-gw" in message, message
    assert d.answer(PC1) == PC1
    assert boot_id(d, PC1) != first
    log = d.site.lab.paths.log(d.site.site.id, PC1).read_text(errors="replace")
    assert "magic packet for 02:48:12:00:00:11" in log  # it came over the site's LAN
    assert one(run(d, "wake", PC1)) == ("no_change", "already answering")
    assert last_event(d, n)[0] == "action"
    refused(d, "wake", GW, "florac-fs-gw is a gateway")


# ------------------------------------------------------------- push-blocklists, connlog --


def test_push_blocklists(deployed: Deployed) -> None:
    d = deployed
    marker = "relais-remote-test-blocked.example"
    # a name added to a category of florac-fs's profile (standard: malware, phishing...)
    with (d.state_dir / "blocklists" / "lists" / "malware" / "domains").open("a") as f:
        f.write(f"{marker}\n")
    outcome, message = one(run(d, "push-blocklists", GW, actor="tech"))
    assert outcome == "changed" and "filter rebuilt" in message, message
    assert marker in d.out(GW, "cat /etc/dnsmasq.d/50-relais-blocklist.conf")
    assert one(run(d, "push-blocklists", GW, actor="tech")) == \
        ("no_change", "lists already up to date on the gateway")
    refused(d, "push-blocklists", PC1, "florac-fs-pc1 is a public_pc")


def test_collect_connlog(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    d = deployed
    with pytest.raises(PermissionDenied, match="collect-connlog"):  # personal data: admins only
        run(d, "collect-connlog", GW)
    monkeypatch.setenv("FLEET_USER_ROLES", "marie:admin")
    first = run(d, "collect-connlog", GW)
    assert first.ok, first.results
    second = run(d, "collect-connlog", "florac-fs")  # the site: its gateway
    [r] = second.results
    assert (r.device, r.outcome) == (GW, "no_change"), r
    assert r.data["inserted"] == 0
    refused(d, "collect-connlog", PC1, "florac-fs-pc1 is a public_pc")
