"""What a guest session leaves behind on a deployed public PC or borne (issue 9.1, 9.2), on the
lab's florac-fs (real systemd hosts, real CUPS, journald, logind, cron and at).

- the residue rule: files of the guest's uid planted in places no wipe item names (and, as root,
  in odd places), a process started with setsid/nohup, a user unit of a lingering user manager:
  after one wipe nothing of the uid is left outside the fresh home and no process of it runs;
- cron, at and linger refused to the guest (with positive controls);
- CUPS: a printed job leaves no title, no file, no page log;
- the guest's own journal does not survive the wipe; the kiosk browser's output is not kept;
- no core dump of the guest's programs; swap in clear turned off in fstab.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

import pytest

from fleet.deploy import DeployOutcome, wipe
from fleet.lab.pytest_plugin import LabSite
from tests.roles.conftest import SWAP_IN_CLEAR
from tests.roles.labkit import (
    BORNE,
    PC,
    REPO,
    as_guest,
    guest_uid,
    ok,
    records,
    sh,
    wait_for,
)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

Deployed = tuple[LabSite, DeployOutcome, str]
SESSION = "relais-test-privacy"


def _remote_wipe(site: LabSite, host: str) -> dict[str, Any]:
    (res,) = wipe(site.inventory, host, repo=REPO, extra_inventories=[site.ansible_overlay])
    assert res.record is not None, res.message
    return dict(res.record)


def _session(site: LabSite, host: str, *command: str) -> None:
    """A real logind session of the guest (PAM), running ``command``."""
    site.exec(host, "systemctl", "stop", SESSION)
    site.exec(host, "systemctl", "reset-failed", SESSION)
    started = site.exec(host, "systemd-run", f"--unit={SESSION}", "--uid=guest",
                        "-p", "PAMName=login", *command)
    assert started.returncode == 0, started.stderr


def _in_session(site: LabSite, host: str, script: str, **env: str) -> Any:
    """Run a script as the guest in a PAM session of its own (pam_limits, pam_systemd) and
    wait for it.  Values go by environment: the unit's command line is in the system journal."""
    return site.exec(host, "systemd-run", "--quiet", "--wait", "--pipe", "--uid=guest",
                     "--description=relais test", "-p", "PAMName=login",
                     *(f"--setenv={k}={v}" for k, v in env.items()), "sh", "-c", script,
                     timeout=120)


# --- the residue rule ---------------------------------------------------------------------------
AS_GUEST = {  # where the guest itself can write, that no wipe item names
    "var_tmp_hidden": "/var/tmp/relais-x/.hidden",
    "run_lock": "/run/lock/relais-residue.lock",
}
MQUEUE = "/dev/mqueue/relais-residue"  # a POSIX message queue of the guest (an mqueue file)
AS_ROOT = {  # odd places, chowned to the guest (positive control of a filesystem-wide scan)
    "mail": "/var/mail/guest",
    "crontab": "/var/spool/cron/crontabs/guest",
    "opt": "/opt/relais-residue/state.db",
    "usr_local": "/usr/local/share/relais-residue/deep/er/file",
    "etc": "/etc/relais-residue.conf",
    "srv": "/srv/relais-residue",
}


def _guest_files(site: LabSite, host: str) -> list[str]:
    """Every file of the guest's uid outside its home, by find over the local filesystems
    (the test's own scan, independent of relais-wipe's)."""
    out = sh(site, host, "find / -xdev \\( -path /home/guest -o -path /proc -o -path /sys \\) "
             "-prune -o -uid $(id -u guest) -print; "
             "for m in /run /dev/shm /dev/mqueue /tmp /var/tmp /run/lock; do "
             "  mountpoint -q $m && find $m -xdev -path /home/guest -prune -o -uid $(id -u guest) -print; "
             "done", timeout=180)
    return sorted(set(out.stdout.split()))


def test_nothing_of_the_guest_survives_a_wipe(deployed: Deployed) -> None:
    site, _, _ = deployed
    host = PC
    uid = guest_uid(site, host)
    # /var/spool/cron/crontabs exists; the dpkg lock is waited for (a unit of the deploy may hold it)
    ok(site, host, "apt-get -o DPkg::Lock::Timeout=300 install -y -q cron at >/dev/null"
                   " && rm -f /etc/at.deny /etc/cron.deny", timeout=360)  # as the hardening role leaves them
    planted = ["mkdir -p /var/tmp/relais-x"] + [f"echo canary > {p}" for p in AS_GUEST.values()]
    done = as_guest(site, host, " && ".join(planted))
    assert done.returncode == 0, done.stderr
    as_guest_paths = list(AS_GUEST.values())
    if sh(site, host, "mountpoint -q /dev/mqueue").returncode == 0:
        queue = as_guest(site, host, f"python3 -c 'import os; os.close(os.open(\"{MQUEUE}\", "
                         "os.O_CREAT | os.O_RDONLY, 0o600))'")
        assert queue.returncode == 0, queue.stderr
        as_guest_paths.append(MQUEUE)
    for path in AS_ROOT.values():
        ok(site, host, f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0])} && echo canary > {path} "
           f"&& chown guest: {path}")
    # processes: a detached one (setsid + nohup), and a user unit of a lingering user manager
    ok(site, host, "setsid setpriv --reuid=guest --regid=guest --init-groups "
       "nohup sleep 86400 </dev/null >/dev/null 2>&1 &")
    ok(site, host, "loginctl enable-linger guest")  # as if the guest had got round the rule
    wait_for("the guest's lingering user manager",
             lambda: sh(site, host, f"systemctl is-active user@{uid}.service").stdout.strip() == "active")
    unit = as_guest(site, host, f"XDG_RUNTIME_DIR=/run/user/{uid} "
                    "systemd-run --user --unit=relais-residue sleep 86400")
    assert unit.returncode == 0, unit.stderr
    wait_for("the guest's user unit", lambda: sh(
        site, host, f"XDG_RUNTIME_DIR=/run/user/{uid} setpriv --reuid=guest --regid=guest "
        "--init-groups systemctl --user is-active relais-residue").stdout.strip() == "active")
    # positive control: the test's own scan sees every planted file, and the processes run
    before = _guest_files(site, host)
    for path in [*as_guest_paths, *AS_ROOT.values()]:
        assert path in before, f"{path} not planted: {before}"
    assert len(ok(site, host, "pgrep -u guest").split()) >= 2

    rec = _remote_wipe(site, host)

    assert _guest_files(site, host) == [], "files of the guest survived the wipe"
    assert rec["outcome"] == "ok", rec
    residue = rec["residue"]
    assert residue["remaining"] == 0 and residue["processes"] == 0, residue
    # /var/tmp is an item of its own, and logind removes the queue itself when the guest's
    # last session ends (RemoveIPC); the rest was found by the scan by uid
    by_scan = len(AS_ROOT) + len([p for p in as_guest_paths
                                  if not p.startswith("/var/tmp/") and p != MQUEUE])
    assert residue["found"] >= by_scan, (residue, by_scan, rec["items"])
    assert residue["scanned"] > 10_000, "not a filesystem-wide scan"
    assert sh(site, host, "pgrep -u guest").stdout.strip() == "", "a guest process survived"
    assert sh(site, host, "ls /var/lib/systemd/linger").stdout.strip() == ""
    assert sh(site, host, f"systemctl is-active user@{uid}.service").stdout.strip() != "active"
    raw = sh(site, host, "tail -1 /var/log/relais/wipe.jsonl").stdout
    assert "relais-residue" not in raw and "/" not in str(residue)


def test_guest_may_not_use_cron_at_or_linger(deployed: Deployed) -> None:
    """The guest is refused crontab, at and lingering.  Positive controls: without the allow
    list the same crontab command works for the guest; linger is refused by the rule itself
    (polkit answers "no" to the guest, "ask an administrator" to the admin account)."""
    site, _, _ = deployed
    host = PC
    ok(site, host, "apt-get -o DPkg::Lock::Timeout=300 install -y -q cron at >/dev/null"
                   " && rm -f /etc/at.deny /etc/cron.deny", timeout=360)  # as the hardening role leaves them
    for cmd in ("crontab -l", "echo true | at now + 1 hour"):
        refused = as_guest(site, host, f"{cmd} 2>&1")
        assert refused.returncode != 0, refused.stdout
        assert "not allowed" in refused.stdout or "permission" in refused.stdout.lower(), refused.stdout
    try:
        ok(site, host, "mv /etc/cron.allow /etc/cron.allow.test")
        control = as_guest(site, host, "echo '# control' | crontab - && crontab -l")
        assert control.returncode == 0 and "# control" in control.stdout, control.stdout + control.stderr
    finally:
        sh(site, host, "crontab -u guest -r; mv /etc/cron.allow.test /etc/cron.allow")
    allowed = ok(site, host, "grep -hv '^#' /etc/cron.allow /etc/at.allow").split()
    assert allowed == ["root", "root"], allowed
    # linger: logind asks polkit, whose default lets any user linger (a desktop has polkitd;
    # without it logind refuses anyone but root): the rule refuses the guest
    ok(site, host, "apt-get -o DPkg::Lock::Timeout=300 install -y -q polkitd >/dev/null"
                   " && systemctl restart polkit", timeout=360)
    linger = "setpriv --reuid=guest --regid=guest --init-groups loginctl enable-linger guest"
    rule = "/etc/polkit-1/rules.d/50-relais-no-linger.rules"
    try:  # positive control: without the rule, the same request from the guest succeeds
        ok(site, host, f"mv {rule} /root/relais-rule && systemctl restart polkit")
        allowed = wait_for("polkit without the rule", lambda: sh(
            site, host, f"{linger} && ls /var/lib/systemd/linger").stdout.strip() == "guest")
        assert allowed
    finally:
        ok(site, host, f"loginctl disable-linger guest; mv /root/relais-rule {rule} && "
           "systemctl restart polkit")

    def refused() -> bool:
        return "Access denied" in sh(site, host, f"{linger} 2>&1; true").stdout

    wait_for("polkit with the rule to refuse the guest", refused)
    assert sh(site, host, "ls /var/lib/systemd/linger").stdout.strip() == ""


# --- printing ------------------------------------------------------------------------------------
SINK = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9100)); s.listen(1)
c, _ = s.accept(); data = b""
while chunk := c.recv(65536): data += chunk
open(sys.argv[1], "wb").write(data)
"""


def test_printing_leaves_no_title_file_or_log(deployed: Deployed) -> None:
    """A job printed to completion (a socket printer on the PC itself, the lab's printers are
    SNMP stand-ins) leaves its title and content nowhere: no job history, no spool file, no
    page log, nothing in the job cache."""
    site, _, _ = deployed
    host = PC
    title = f"CV-Canary-{time.time_ns()}"
    body = f"%!PS canary body {time.time_ns()}"
    got = "/run/relais-print-sink"
    sink = ok(site, host, f"rm -f {got}; setsid python3 -c {shlex.quote(SINK)} {got} "
              "</dev/null >/dev/null 2>&1 & echo $!").strip()
    ok(site, host, "lpadmin -p relais-test-sink -E -v socket://127.0.0.1:9100 -m raw")
    try:
        wait_for("the print sink", lambda: sh(site, host, "ss -ltn | grep -q ':9100 '").returncode == 0)
        job = as_guest(site, host, f"echo {shlex.quote(body)} | lp -d relais-test-sink -t {title}")
        assert job.returncode == 0, job.stderr
        # positive control: the job really printed (the sink got the document)
        wait_for("the job to print", lambda: body in sh(site, host, f"cat {got}").stdout, timeout=120)
        wait_for("the job to complete", lambda: sh(site, host, "lpstat -o relais-test-sink").stdout.strip() == "")

        def traces() -> str:
            return str(sh(site, host, f"grep -rla {shlex.quote(title)} /var/spool/cups /var/cache/cups "
                          f"/var/log/cups; grep -rla {shlex.quote(body)} /var/spool/cups; "
                          "lpstat -W completed -o").stdout.strip())

        wait_for(f"CUPS to keep no trace of the job (still: {traces()!r})", lambda: traces() == "",
                 timeout=120, every=2)
        assert sh(site, host, "ls /var/log/cups/page_log 2>/dev/null").stdout.strip() == ""
    finally:
        sh(site, host, f"lpadmin -x relais-test-sink; kill {sink}; rm -f {got}")


# --- journal ------------------------------------------------------------------------------------
def test_guest_journal_does_not_outlive_the_session(deployed: Deployed) -> None:
    site, _, _ = deployed
    host = PC
    uid = guest_uid(site, host)
    canary = f"Journal-Canary-{time.time_ns()}"
    logged = _in_session(site, host, 'logger -t guest-app "$CANARY"', CANARY=canary)
    assert logged.returncode == 0, logged.stderr

    def in_journal() -> bool:
        return canary in sh(site, host, f"journalctl --no-pager -o cat _UID={uid}").stdout

    wait_for("the guest's message in the journal (control)", in_journal)
    persistent = sh(site, host, f"ls /var/log/journal/*/user-{uid}*.journal").stdout
    assert persistent.strip(), "the guest's journal is not in a file of its own"
    rec = _remote_wipe(site, host)
    assert rec["outcome"] == "ok" and rec["items"]["journal"]["removed"] >= 1, rec
    assert not in_journal(), "the guest's journal survived the wipe"
    on_disk = sh(site, host, f"grep -rla {canary} /var/log/journal /run/log/journal")
    assert on_disk.stdout.strip() == "", on_disk.stdout


def test_kiosk_browser_output_is_not_kept(deployed: Deployed) -> None:
    """Chromium prints errors (URLs among them) to stderr: the kiosk unit sends it nowhere.
    Control: the same browser run by hand in this container does print."""
    site, _, _ = deployed
    control = as_guest(site, BORNE, "timeout 20 chromium --headless --no-sandbox --disable-gpu "
                       "--user-data-dir=$(mktemp -d) --enable-logging=stderr --v=1 "
                       "http://www.example.org/ 2>&1 | head -5")
    assert control.stdout.strip(), "chromium printed nothing: the control proves nothing"
    uid = guest_uid(site, BORNE)
    wait_for("the kiosk", lambda: sh(site, BORNE, "pgrep -u guest -x chromium").returncode == 0)
    since = ok(site, BORNE, "date +%s").strip()
    ok(site, BORNE, "systemctl restart relais-kiosk")
    wait_for("the kiosk back", lambda: sh(site, BORNE, "pgrep -u guest -x chromium").returncode == 0)

    def ran_a_while() -> bool:  # as long as the control took to print (timeout 20): not a look
        age = sh(site, BORNE, "ps -o etimes= -p $(pgrep -o -u guest -x chromium)").stdout.strip()
        return age.isdigit() and int(age) >= 20  # at its first breath, when nothing was printed yet

    wait_for("the kiosk's browser running for 20 s", ran_a_while)
    kept = sh(site, BORNE, f"journalctl --no-pager -o cat --since @{since} _SYSTEMD_UNIT=relais-kiosk.service _UID={uid}")
    assert kept.stdout.strip() in ("", "-- No entries --"), kept.stdout[:1000]


# --- core dumps, swap --------------------------------------------------------------------------
def test_no_core_dumps_of_the_guest(deployed: Deployed) -> None:
    site, _, _ = deployed
    guest = _in_session(site, PC, "ulimit -Hc; ulimit -c unlimited 2>/dev/null && echo raised")
    assert guest.stdout.split() == ["0"], guest.stdout + guest.stderr
    # control: the same PAM session for another account keeps the default hard limit
    admin = site.exec(PC, "systemd-run", "--quiet", "--wait", "--pipe", "--uid=relais",
                      "-p", "PAMName=login", "sh", "-c", "ulimit -Hc")
    assert admin.stdout.split() == ["unlimited"], admin.stdout + admin.stderr
    # and the guest's user units (its user manager) start with no core dumps either
    unit = _in_session(site, PC, "systemctl --user show -p DefaultLimitCORE --value")
    assert unit.stdout.split() == ["0"], unit.stdout + unit.stderr


def test_swap_in_clear_is_turned_off(deployed: Deployed) -> None:
    """The PC came with a swap file in clear in fstab (planted before the first deploy)."""
    site, _, _ = deployed
    fstab = ok(site, PC, "cat /etc/fstab").splitlines()
    assert f"# relais: swap off (not encrypted): {SWAP_IN_CLEAR}" in fstab, fstab
    assert SWAP_IN_CLEAR not in fstab
