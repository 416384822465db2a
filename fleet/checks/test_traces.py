"""What a guest session could leave behind outside its home: nothing may run in the next session
(cron, at, linger), no core dump, no swap in clear, the guest's journal apart, CUPS keeping no
job history nor page log.  Read-only; the wipe's own scan by uid is checked in
test_session_wipe.py (test_last_wipe_left_nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.checks.model import HostExpect
from fleet.checks.plugin import not_applicable

pytestmark = pytest.mark.kinds("public_pc", "borne")


def _lines(host: Any, path: str) -> list[str]:
    f = host.file(path)
    assert f.exists, f"{path} missing"
    return [ln.strip() for ln in f.content_string.splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


@pytest.mark.ref("RGPD art. 5.1.e (nothing of a session runs in the next)")
def test_guest_may_not_use_cron_or_at(host: Any, expect: HostExpect) -> None:
    for name in ("cron", "at"):
        allowed = _lines(host, f"/etc/{name}.allow")
        assert expect.guest_user not in allowed, f"{expect.guest_user} in /etc/{name}.allow"
        assert not host.file(f"/etc/{name}.deny").exists, f"/etc/{name}.deny beside the allow list"
    assert not host.file(f"/var/spool/cron/crontabs/{expect.guest_user}").exists


@pytest.mark.ref("RGPD art. 5.1.e (nothing of a session runs in the next)")
def test_guest_may_not_linger(host: Any, expect: HostExpect) -> None:
    rule = host.file("/etc/polkit-1/rules.d/50-relais-no-linger.rules").content_string
    assert "set-self-linger" in rule and f'"{expect.guest_user}"' in rule
    assert not host.file(f"/var/lib/systemd/linger/{expect.guest_user}").exists


@pytest.mark.ref("RGPD art. 5.1.f", "CIS 1.5.x (core dumps)")
def test_no_core_dumps_for_the_guest(host: Any, expect: HostExpect) -> None:
    out = host.run("su -s /bin/sh -c %s - %s", "ulimit -Hc", expect.guest_user)
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "0", f"the guest's hard core limit is {out.stdout.strip()}"
    assert "DefaultLimitCORE=0" in host.file("/etc/systemd/user.conf.d/50-relais-core.conf").content_string


@pytest.mark.ref("RGPD art. 5.1.f (no memory in clear on disk)")
def test_swap_encrypted_or_off(host: Any) -> None:
    swaps = [ln.split()[0] for ln in _lines(host, "/etc/fstab")
             if len(ln.split()) >= 3 and ln.split()[2] == "swap"]
    container = host.run("systemd-detect-virt --container").stdout.strip() not in ("", "none")
    if not container:
        swaps += [ln.split()[0] for ln in host.file("/proc/swaps").content_string.splitlines()[1:]]
    clear = []
    for dev in swaps:
        if dev.startswith("/dev/zram"):
            continue
        types = host.run('lsblk --inverse --noheadings --output TYPE "$(findfs %s || echo %s)"',
                         dev, dev).stdout.split()
        if "crypt" not in types:
            clear.append(dev)
    assert not clear, f"swap not encrypted: {clear}"


@pytest.mark.ref("RGPD art. 5.1.e (the guest's journal goes with the session)")
def test_guest_journal_kept_apart(host: Any) -> None:
    conf = host.file("/etc/systemd/journald.conf.d/50-relais.conf").content_string
    assert "SplitMode=uid" in conf.splitlines()


@pytest.mark.ref("RGPD art. 5.1.e (printing leaves nothing)")
@pytest.mark.kinds("public_pc")
def test_cups_keeps_no_history(host: Any, expect: HostExpect) -> None:
    if not expect.printer_queue:
        not_applicable("the site has no printer")
    conf = _lines(host, "/etc/cups/cupsd.conf")
    for line in ("PreserveJobHistory No", "PreserveJobFiles No", "PageLogFormat"):
        assert line in conf, f"cupsd.conf: {line!r} missing"
