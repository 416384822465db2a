"""Ansible itself reads the same inventory: same hosts, groups and variables as fleet.inventory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fleet.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]


def test_ansible_inventory_sees_what_fleet_sees() -> None:
    exe = Path(sys.executable).parent / "ansible-inventory"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    out = subprocess.run(
        [str(exe), "-i", "inventory/", "--list"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120,
    )
    data = json.loads(out.stdout)
    inv = load_inventory(REPO / "inventory")

    hostvars = data["_meta"]["hostvars"]
    assert set(hostvars) == {d.hostname for d in inv.devices}

    # groups: one per site, one per device kind, with the same members
    for site in inv.sites:
        assert set(data[site.group]["hosts"]) == {d.hostname for d in site.devices}
    kinds = {d.kind.value for d in inv.devices}
    for kind in kinds:
        assert set(data[kind]["hosts"]) == {d.hostname for d in inv.devices if d.kind.value == kind}

    # variables: everything fleet resolved for a host is what Ansible resolved
    for device in inv.devices:
        theirs = hostvars[device.hostname]
        for key, value in device.vars.items():
            assert key in theirs, (device.hostname, key)
            assert _plain(theirs[key]) == _plain(value), (device.hostname, key)
        assert theirs["ansible_host"] == str(device.ip)
    # ...and the opening hours Ansible hands the roles are the same ranges
    florac = hostvars["florac-fs-pc1"]
    assert florac["site_opening_hours"]["mon"] == ["09:00-12:00", "13:30-17:00"]
    assert florac["site_pmi"] is False
    assert hostvars["rennes-maurepas-pc1"]["site_pmi"] is True


def _plain(value: object) -> object:
    return json.loads(json.dumps(value, default=str))
