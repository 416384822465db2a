"""SSH host keys of the network gear are always checked (issue 10.6): a device whose key is not
in the known_hosts file, or differs from the one there, is refused with one line before the
login is sent, and nothing is pushed to it.  Against the same devices as the contract (the IOS
simulator, the replayed transcripts), each first reached with its key known (positive control).
"""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from fleet.errors import NetdevError
from fleet.inventory.network import Platform
from fleet.lab.hostconf import ssh_host_key
from fleet.netdev.engine import apply_device
from fleet.netdev.transport import HostKeys, known_hosts_for, known_hosts_named
from tests.netdev.conftest import TIMEOUTS, Device


def _names_and_key(device: Device) -> tuple[str, str]:
    """The names of the device's known_hosts line, and its key (``type base64``)."""
    names, kind, key = device.known_hosts.read_text("utf-8").split()[:3]
    return names, f"{kind} {key}"


def _another_key(like: str, where: Path) -> str:
    """A key of the same type as ``like``, not the device's."""
    if like.startswith("ssh-ed25519"):
        return ssh_host_key(where / "other_ed25519", "not-the-device")
    other = paramiko.RSAKey.generate(1024)
    return f"{other.get_name()} {other.get_base64()}"


def _seen(device: Device) -> tuple[int, int]:
    """What the replayed device received in the sessions ended so far: logins, lines (the IOS
    simulator keeps no log)."""
    if device.server is None:
        return (0, 0)
    device.server.wait_idle()
    return len(device.server.log.logins), len(device.server.log.lines)


def _refused(device: Device, known_hosts: Path, reason: str) -> str:
    """Open the device with ``known_hosts``: refused with ``reason``, one line; the message."""
    with pytest.raises(NetdevError) as info:
        device.driver.open(device.endpoint(), device.connector(), TIMEOUTS,
                           HostKeys(known_hosts=known_hosts))
    message = str(info.value)
    assert info.value.reason == reason, message
    assert "\n" not in message and message.startswith(device.target.hostname), message
    assert str(known_hosts) in message
    return message


def test_an_unknown_host_key_is_refused_and_nothing_is_pushed(device: Device,
                                                               tmp_path: Path) -> None:
    # positive control: the device with its key known is reached, through the same strict path
    before = device.read()
    logins, lines = _seen(device)
    assert device.server is None or logins > 0

    # another host's key only: this device's is unknown
    _, key = _names_and_key(device)
    other = tmp_path / "known_hosts"
    other.write_text(f"[127.0.0.1]:1,192.0.2.99 {key}\n", "utf-8")
    message = _refused(device, other, "host_key_unknown")
    assert "SSH host key unknown" in message and "nothing was sent" in message

    result = apply_device(device.target, device.context(host_keys=HostKeys(known_hosts=other)))
    assert result.status == "unreachable" and result.pushed == 0, result.message
    assert "SSH host key unknown" in result.message and "\n" not in result.message

    # a missing known_hosts file is the same refusal, and says the file is missing
    missing = _refused(device, tmp_path / "absent", "host_key_unknown")
    assert "does not exist" in missing

    # nothing reached the device: no login, no line; its configuration is the one read before
    assert _seen(device) == (logins, lines)
    assert device.read() == before


def test_a_changed_host_key_is_refused(device: Device, tmp_path: Path) -> None:
    device.read()  # positive control
    logins, lines = _seen(device)
    names, key = _names_and_key(device)
    changed = tmp_path / "known_hosts"
    changed.write_text(f"{names} {_another_key(key, tmp_path)}\n", "utf-8")
    message = _refused(device, changed, "host_key_changed")
    assert "SSH host key changed" in message and "nothing was sent" in message
    result = apply_device(device.target, device.context(host_keys=HostKeys(known_hosts=changed)))
    assert result.status == "unreachable" and "SSH host key changed" in result.message
    assert _seen(device) == (logins, lines)


@pytest.mark.parametrize("platform", [Platform.HP_PROCURVE], ids=["hp_procurve"])
def test_the_ssh_config_names_the_known_hosts_file_and_is_strict_anyway(
    device: Device, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    # ~/.ssh/known_hosts knows the device: without an SSH config, that file is used
    (home / ".ssh" / "known_hosts").write_text(device.known_hosts.read_text("utf-8"), "utf-8")
    device.driver.open(device.endpoint(), device.connector(), TIMEOUTS, HostKeys()).close()

    # an SSH config (through an Include, as the lab's) naming an empty known_hosts, and saying
    # not to check: the file it names wins over ~/.ssh/known_hosts, and the check stays strict
    empty = tmp_path / "site_known_hosts"
    empty.write_text("", "utf-8")
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "ssh_config").write_text(
        f"Host {device.target.hostname} 192.0.2.7\n  StrictHostKeyChecking no\n"
        f"  UserKnownHostsFile {empty} {device.known_hosts}\n", "utf-8")
    config = tmp_path / "ssh_config"
    config.write_text(f"Include {tmp_path}/sites/*\n", "utf-8")
    with pytest.raises(NetdevError) as info:
        device.driver.open(device.endpoint(), device.connector(), TIMEOUTS,
                           HostKeys(ssh_config=config))
    assert info.value.reason == "host_key_unknown" and str(empty) in str(info.value)

    # the same config naming the device's known_hosts reaches it
    (tmp_path / "sites" / "ssh_config").write_text(
        f"Host {device.target.hostname}\n  UserKnownHostsFile {device.known_hosts}\n", "utf-8")
    device.driver.open(device.endpoint(), device.connector(), TIMEOUTS,
                       HostKeys(ssh_config=config)).close()


def test_which_known_hosts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fleet.netdev.transport import Endpoint

    monkeypatch.setenv("HOME", str(tmp_path))
    ep = Endpoint("sw1", "10.48.12.2", 22, "admin", "pw")
    config = tmp_path / "ssh_config"
    config.write_text("Host sw9\n  UserKnownHostsFile /nowhere\n"
                      "Host 10.48.12.2\n  UserKnownHostsFile ~/by-address\n", "utf-8")
    assert HostKeys().file_for(ep) == tmp_path / ".ssh" / "known_hosts"
    assert HostKeys(known_hosts=tmp_path / "given", ssh_config=config).file_for(ep) == tmp_path / "given"
    assert HostKeys(ssh_config=config).file_for(ep) == tmp_path / "by-address"
    assert known_hosts_named(config, "sw9") == Path("/nowhere")
    assert known_hosts_named(config, "sw2") is None
    assert known_hosts_named(tmp_path / "absent", "sw1") is None
    # a config that names none for the device: ~/.ssh/known_hosts
    config.write_text("Host other\n  UserKnownHostsFile /nowhere\n", "utf-8")
    assert HostKeys(ssh_config=config).file_for(ep) == tmp_path / ".ssh" / "known_hosts"


def test_a_broken_known_hosts_file_is_one_line(tmp_path: Path) -> None:
    from fleet.netdev.transport import Endpoint

    broken = tmp_path / "known_hosts"
    broken.write_text("10.48.12.2 ssh-ed25519 AAAA!!not-base64\n", "utf-8")
    ep = Endpoint("sw1", "10.48.12.2", 22, "admin", "pw")
    with pytest.raises(NetdevError) as info:
        known_hosts_for(ep, HostKeys(known_hosts=broken))
    assert info.value.reason == "host_key_unknown"
    message = str(info.value)
    assert "\n" not in message and message.startswith("sw1 ") and str(broken) in message
