"""Public PC desktop: autologin guest, managed browser, site printer, pmr variant.  Read-only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.checks.model import HostExpect
from fleet.checks.plugin import not_applicable

POLICY = "/etc/chromium/policies/managed/relais-public-pc.json"


@pytest.mark.ref("Relais public_pc: guest autologin")
@pytest.mark.kinds("public_pc")
def test_guest_autologin(host: Any, expect: HostExpect) -> None:
    assert host.package("lightdm").is_installed
    conf = host.file("/etc/lightdm/lightdm.conf.d/50-relais-autologin.conf").content_string
    assert f"autologin-user={expect.guest_user}" in conf
    assert host.file("/etc/systemd/system/default.target").linked_to.endswith("graphical.target")


@pytest.mark.ref("RGPD art. 5.1.e", "Relais public_pc: browser policies")
@pytest.mark.kinds("public_pc")
def test_browser_policies(host: Any, expect: HostExpect) -> None:
    assert host.package("chromium").is_installed
    policy = json.loads(host.file(POLICY).content_string)
    assert policy["PasswordManagerEnabled"] is False
    assert policy["SavingBrowserHistoryDisabled"] is True
    assert policy["SyncDisabled"] is True
    assert {"browsing_history", "cookies_and_other_site_data"} <= set(
        policy["ClearBrowsingDataOnExitList"]
    )
    assert policy["HomepageLocation"] == expect.homepage


@pytest.mark.ref("Relais public_pc: site printer")
@pytest.mark.kinds("public_pc")
def test_site_printer_queue(host: Any, expect: HostExpect) -> None:
    if not expect.printer_queue:
        not_applicable("the site has no printer")
    out = host.run("lpstat -d -v %s", expect.printer_queue)
    assert out.rc == 0, out.stderr.strip()
    assert f"system default destination: {expect.printer_queue}" in out.stdout


@pytest.mark.ref("Relais public_pc: accessible station (pmr)")
@pytest.mark.kinds("public_pc")
def test_accessible_station(host: Any, expect: HostExpect) -> None:
    installed = host.package("orca").is_installed and host.package("onboard").is_installed
    autostart = host.file("/etc/xdg/autostart/relais-orca.desktop").exists
    if expect.pmr:
        assert installed and autostart, "pmr station without screen reader/keyboard"
        xsettings = host.file("/etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xsettings.xml")
        assert 'name="DPI"' in xsettings.content_string
    else:
        assert not autostart, "screen reader autostart on a non-pmr station"
