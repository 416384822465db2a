"""The lab switch is driven by netmiko's cisco_ios driver, as a technician's tools would."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fleet.lab import in_netns
from fleet.lab.creds import device_var, load_vault
from fleet.lab.pytest_plugin import LabSite

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]


def test_netmiko_reads_and_changes_the_switch_config(lab_site: LabSite) -> None:
    netmiko = pytest.importorskip("netmiko")
    dev = lab_site.device("florac-fs-sw1")
    secrets = load_vault(REPO / "inventory")
    user = device_var(dev, "netdev_username", secrets, "")
    password = device_var(dev, "netdev_password", secrets, "")
    assert user and password

    def session() -> tuple[str, str]:
        # netmiko's socket must be created inside the controller namespace: a worker thread
        # enters it, the test's own thread stays where it is.
        with in_netns("relais-ctl"):
            conn = netmiko.ConnectHandler(
                device_type="cisco_ios", host=str(dev.ip), username=user, password=password,
                secret=password, fast_cli=False, timeout=20,
            )
            try:
                conn.enable()
                before = conn.send_command("show running-config")
                # fake-switches keeps "(config)" after "end" from a sub-mode: leave it with
                # "exit" from each level, as a cautious technician would on a real IOS too.
                conn.send_config_set(["vlan 42", "name relais-guest", "exit"],
                                     exit_config_mode=False)
                conn.send_command_timing("exit")
                assert not conn.check_config_mode()
                after = conn.send_command("show running-config")
            finally:
                conn.disconnect()
        return before, after

    with ThreadPoolExecutor(max_workers=1) as pool:
        before, after = pool.submit(session).result(timeout=120)
    assert "interface" in before.lower() or "version" in before.lower(), before[:500]
    assert "relais-guest" in after and "relais-guest" not in before
