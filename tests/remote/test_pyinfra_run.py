"""Remote actions check SSH host keys (pyinfra): never ``StrictHostKeyChecking no``, never a
known_hosts of /dev/null.  The lab test (tests/lab/test_host_keys.py) proves it on real hosts."""

from __future__ import annotations

import configparser
from pathlib import Path

from fleet.remote.pyinfra_run import Target, _inventory
from tests.conftest import REPO


def test_pyinfra_targets_check_host_keys(tmp_path: Path) -> None:
    inv = _inventory([Target("pc1", "10.48.12.11"),
                      Target("pc2", "10.48.12.12", known_hosts=tmp_path / "known_hosts")])
    hosts = {h.name: h.data for h in inv}
    assert hosts["pc1"].get("ssh_strict_host_key_checking") == "yes"
    assert hosts["pc1"].get("ssh_known_hosts_file") is None  # the SSH config's, else ~/.ssh's
    assert hosts["pc2"].get("ssh_known_hosts_file") == str(tmp_path / "known_hosts")


def test_ansible_checks_host_keys() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "ansible.cfg")
    assert cfg.getboolean("defaults", "host_key_checking") is True
    assert "StrictHostKeyChecking=no" not in cfg.get("ssh_connection", "ssh_args")
