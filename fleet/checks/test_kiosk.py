"""Borne: Chromium kiosk locked to the allowlist, running, watched.  Read-only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.checks.kiosk import QUERY, parse
from fleet.checks.model import HostExpect, settled

POLICY = "/etc/chromium/policies/managed/relais-kiosk.json"


@pytest.mark.ref("Relais kiosk: URL allowlist")
@pytest.mark.kinds("borne")
def test_allowlist_policy(host: Any, expect: HostExpect) -> None:
    policy = json.loads(host.file(POLICY).content_string)
    assert "*" in policy["URLBlocklist"]
    assert "chrome://*" in policy["URLBlocklist"], "chrome:// must be blocked explicitly"
    assert set(expect.allowlist) <= set(policy["URLAllowlist"])
    assert policy["DeveloperToolsAvailability"] == 2
    assert policy["DownloadRestrictions"] == 3
    assert policy["PasswordManagerEnabled"] is False


@pytest.mark.ref("Relais kiosk: running")
@pytest.mark.kinds("borne")
def test_kiosk_running(host: Any, expect: HostExpect) -> None:
    assert host.service("relais-kiosk").is_enabled
    # the deploy's handlers and its canary wipe restart the kiosk: give it time to come up.
    # "Runs" as restart-kiosk judges it (fleet/checks/kiosk.py): the guest's Chromium under the
    # unit's main process.
    settled("the kiosk unit is not active with the guest's Chromium under its main process",
            lambda: parse(host.check_output(QUERY), user=expect.guest_user).running())


@pytest.mark.ref("RGPD art. 5.1.c", "Relais kiosk: browser output not kept")
@pytest.mark.kinds("borne")
def test_browser_output_not_kept(host: Any, expect: HostExpect) -> None:
    out = host.run("systemctl show relais-kiosk -p StandardOutput -p StandardError -p LimitCORE")
    props = dict(ln.split("=", 1) for ln in out.stdout.splitlines() if "=" in ln)
    assert props == {"StandardOutput": "null", "StandardError": "null", "LimitCORE": "0"}, props


@pytest.mark.ref("Relais kiosk: watchdog")
@pytest.mark.kinds("borne")
def test_watchdog_armed(host: Any, expect: HostExpect) -> None:
    timer = host.service("relais-kiosk-watchdog.timer")
    assert timer.is_enabled and timer.is_running


@pytest.mark.ref("RGPD art. 5.1.e", "Relais kiosk: idle reset")
@pytest.mark.kinds("borne")
def test_idle_reset_configured(host: Any, expect: HostExpect) -> None:
    conf = json.loads(host.file("/etc/relais/session-wipe.d/50-kiosk.json").content_string)
    assert 0 < conf["idle_warning"] < conf["idle_timeout"] <= 600
    assert any(c[:2] == ["systemctl", "stop"] and c[-1] == "relais-kiosk.service"
               for c in conf["before_wipe"]), conf["before_wipe"]
    assert any(c[:2] == ["systemctl", "start"] and c[-1] == "relais-kiosk.service"
               for c in conf["after_wipe"]), conf["after_wipe"]
