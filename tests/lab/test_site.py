"""A real florac-fs lab site: SSH, SNMP, guest DHCP and the fake internet, in-process netns."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from fleet.inventory.models import DeviceKind
from fleet.lab import in_netns, up
from fleet.lab.netns import NetnsError
from fleet.lab.plan import FAKENET_IP, NodeKind
from fleet.lab.programs import program
from fleet.lab.pytest_plugin import LabSite
from fleet.lab.state import read_state

pytestmark = pytest.mark.lab

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"


def recorded_value(path: Path, oid: str) -> str:
    for line in path.read_text().splitlines():
        rec_oid, typ, value = line.split("|", 2)
        if rec_oid == oid:
            return bytes.fromhex(value).decode() if typ.endswith("x") else value
    raise AssertionError(f"{oid} not in {path}")


def test_ssh_reaches_every_host_with_the_generated_config(lab_site: LabSite) -> None:
    hosts = [d for d in lab_site.site.devices if d.kind.is_host]
    assert sorted(d.hostname for d in hosts) == [
        "florac-fs-borne1", "florac-fs-gw", "florac-fs-pc1", "florac-fs-pc2", "florac-fs-screen1"]
    for device in hosts:
        proc = lab_site.ssh(device.hostname, "hostname; id -un; sudo -n id -un; "
                            "systemctl is-system-running --wait >/dev/null; ip -4 -o addr show eth0")
        assert proc.returncode == 0, proc.stderr
        name, user, sudo_user, addr = proc.stdout.splitlines()[:4]
        assert (name, user, sudo_user) == (device.hostname, "relais", "root")
        assert f"inet {device.ip}/24" in addr


def test_hosts_are_booted_with_systemd_and_their_own_disk(lab_site: LabSite) -> None:
    proc = lab_site.exec("florac-fs-pc1", "sh", "-c", "cat /proc/1/comm; touch /root/mark")
    assert proc.stdout.strip() == "systemd", proc.stderr
    other = lab_site.exec("florac-fs-pc2", "test", "-e", "/root/mark")
    assert other.returncode == 1  # overlay uppers are per host


def test_each_booted_host_has_a_cgroup_of_its_own(lab_site: LabSite) -> None:
    """Containers that shared the root's cgroup tree made their units' cgroups in the same
    place and raced on them when hosts booted or powered off together (219/CGROUP at random:
    systemd-user-sessions failed, /run/nologin stayed, the relais account was refused)."""
    from fleet.lab import netns as ns
    from fleet.lab.plan import plan_site

    procs = ns.processes()
    seen: dict[str, str] = {}
    for node in (n for n in plan_site(lab_site.site).nodes if n.booted):
        init = ns.container_init(node.netns, procs)
        assert init is not None, node.name
        lines = Path(f"/proc/{init}/cgroup").read_text().splitlines()
        [named] = [ln.split(":", 2)[2] for ln in lines if ":name=systemd:" in ln or ln.startswith("0::")][:1]
        seen[node.name] = named
        assert named.startswith(f"/relais-lab/{node.netns}/"), (node.name, named)
    assert len(set(seen.values())) == len(seen), seen


def test_snmpv3_answers_from_every_snmpd_host(lab_site: LabSite) -> None:
    for device in (d for d in lab_site.site.devices if d.kind.is_host):
        snmp = device.snmp
        assert snmp is not None and snmp.version == "3" and snmp.user
        assert snmp.auth_key is not None and snmp.priv_key is not None
        proc = lab_site.ctl(
            "snmpget", "-v3", "-l", "authPriv", "-u", snmp.user, "-a", snmp.auth_protocol,
            "-A", snmp.auth_key.get_secret_value(), "-x", snmp.priv_protocol,
            "-X", snmp.priv_key.get_secret_value(), "-Oqv", "-r", "2", "-t", "2",
            str(device.ip), SYS_NAME)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().strip('"') == device.hostname
    # and a wrong key is refused: the agent really checks authPriv
    device = lab_site.device("florac-fs-pc1")
    assert device.snmp is not None and device.snmp.user
    bad = lab_site.ctl("snmpget", "-v3", "-l", "authPriv", "-u", device.snmp.user, "-a", "SHA",
                       "-A", "wrong-key-123", "-x", "AES", "-X", "wrong-key-123", "-r", "0",
                       "-t", "1", str(device.ip), SYS_NAME)
    assert bad.returncode != 0


def test_snmpv2c_answers_from_every_recorded_device(lab_site: LabSite) -> None:
    recorded = [n for n in lab_site.plan.nodes if n.recording is not None]
    kinds = {n.device.kind for n in recorded if n.device is not None}
    assert {DeviceKind.PRINTER, DeviceKind.UPS, DeviceKind.AP} <= kinds
    for node in recorded:
        assert node.device is not None and node.device.snmp is not None
        community = node.device.snmp.community
        assert community is not None
        proc = lab_site.ctl("snmpget", "-v2c", "-c", community.get_secret_value(), "-Oqv",
                            "-r", "2", "-t", "2", str(node.ip), SYS_DESCR)
        assert proc.returncode == 0, proc.stderr
        expected = recorded_value(lab_site.lab.recordings / f"{node.recording}.snmprec",
                                  SYS_DESCR)
        assert proc.stdout.strip().strip('"').split()[:3] == expected.split()[:3]
        wrong = lab_site.ctl("snmpget", "-v2c", "-c", "not-the-community", "-r", "0", "-t", "1",
                             str(node.ip), SYS_DESCR)
        assert wrong.returncode != 0


def test_guest_client_gets_a_dhcp_lease_and_reaches_the_fake_internet(lab_site: LabSite) -> None:
    client = lab_site.plan.client_name
    guest = lab_site.site.guest
    assert guest is not None
    addr = ""
    deadline = time.monotonic() + 120  # dhclient asks again every 5 s (hostconf.DHCLIENT_RETRY)
    while "inet " not in (addr := lab_site.exec(client, "ip", "-4", "-o", "addr", "show", "eth0").stdout):
        assert time.monotonic() < deadline, f"no DHCP lease on {client}: {addr!r}"
        time.sleep(0.5)
    ip = addr.split("inet ", 1)[1].split("/", 1)[0]
    assert ip in {str(h) for h in guest.hosts()}
    route = lab_site.exec(client, "ip", "route", "show", "default").stdout
    assert f"via {lab_site.site.guest_gateway_ip}" in route  # the router came by DHCP
    dig = lab_site.exec(client, "dig", "+short", "www.service-public.fr")
    assert dig.stdout.strip() == str(FAKENET_IP)
    page = lab_site.exec(client, "curl", "-sS", "-m", "10", "http://www.service-public.fr/demarches")
    assert page.returncode == 0, page.stderr
    assert "Relais lab fake internet" in page.stdout
    assert "www.service-public.fr/demarches" in page.stdout
    # the path really goes through the gateway: with forwarding off, the internet is gone
    gw = lab_site.plan.node("florac-fs-gw").netns
    import subprocess

    subprocess.run(["ip", "netns", "exec", gw, "sysctl", "-qw", "net.ipv4.ip_forward=0"], check=True)
    try:
        cut = lab_site.exec(client, "curl", "-sS", "-m", "3", "http://198.18.0.1/")
        assert cut.returncode != 0
    finally:
        subprocess.run(["ip", "netns", "exec", gw, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                       check=True)


def test_hosts_install_packages_from_the_fake_internet_repository(lab_site: LabSite) -> None:
    proc = lab_site.ssh("florac-fs-borne1", "sudo apt-get update -q && "
                        "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q htop && "
                        "command -v htop", timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("/usr/bin/htop")


def test_switch_cli_answers_over_ssh(lab_site: LabSite) -> None:
    node = lab_site.plan.node("florac-fs-sw1")
    assert node.kind is NodeKind.SWITCH

    def banner() -> bytes:
        with in_netns("relais-ctl"), socket.create_connection((str(node.ip), 22), timeout=5) as s:
            return s.recv(64)

    assert banner().startswith(b"SSH-2.0-")


def test_the_lab_programs_run_from_their_modules(lab_site: LabSite) -> None:
    # the switch simulator: the process recorded for the switch runs fake_switch.py by path
    state = read_state(lab_site.lab, lab_site.site.id)
    assert state is not None
    pid = state["nodes"]["florac-fs-sw1"]["pid"]
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert str(program("fake_switch")).encode() in cmdline and b"-I" in cmdline
    # the fake internet's server: the module's text, installed in the host and answering
    inet = lab_site.plan.fakenet_name
    installed = lab_site.exec(inet, "cat", "/usr/local/bin/relais-fakenet-http")
    assert installed.stdout == program("fakenet_http").read_text("utf-8")
    page = lab_site.exec(lab_site.plan.client_name, "curl", "-sS", "-m", "10", "http://example.org/x")
    assert "Relais lab fake internet" in page.stdout and "example.org/x" in page.stdout


def _thread_netns() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def test_in_netns_moves_only_the_current_thread(lab_site: LabSite) -> None:
    pc1 = lab_site.device("florac-fs-pc1")
    ctl_inode = os.stat("/run/netns/relais-ctl").st_ino
    main_before = _thread_netns()
    got: dict[str, object] = {}

    def worker() -> None:
        got["before"] = _thread_netns()
        with in_netns("relais-ctl"):
            got["inside"] = _thread_netns()
            with socket.create_connection((str(pc1.ip), 22), timeout=5) as s:
                got["banner"] = s.recv(64)
        got["after"] = _thread_netns()

    t = threading.Thread(target=worker)
    t.start()
    t.join(20)
    assert got["inside"] == ctl_inode != got["before"]
    assert got["after"] == got["before"] == main_before
    assert isinstance(got["banner"], bytes) and got["banner"].startswith(b"SSH-2.0-OpenSSH")
    assert _thread_netns() == main_before  # the main thread never moved
    with pytest.raises(NetnsError, match="does not exist"), in_netns("relais-no-such-ns"):
        pass


def test_up_twice_is_safe_and_reports_no_change(lab_site: LabSite) -> None:
    before = lab_site.exec("florac-fs-pc1", "cat", "/proc/sys/kernel/random/boot_id").stdout
    result = up(lab_site.lab, lab_site.site)
    assert result.changed is False
    after = lab_site.exec("florac-fs-pc1", "cat", "/proc/sys/kernel/random/boot_id").stdout
    assert before == after  # nothing was rebooted


def test_ansible_inventory_overlay_reaches_hosts(lab_site: LabSite, tmp_path: Path) -> None:
    import subprocess
    import sys

    ansible = Path(sys.executable).parent / "ansible"
    proc = subprocess.run(
        [str(ansible), "-i", str(lab_site.inventory.root), "-i", str(lab_site.ansible_overlay),
         "site_florac_fs:&public_pc", "-m", "ansible.builtin.command", "-a", "hostname"],
        capture_output=True, text=True, timeout=180, check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "ANSIBLE_HOST_KEY_CHECKING": "False",
             "HOME": str(tmp_path), "ANSIBLE_LOCAL_TEMP": str(tmp_path)},
        cwd=Path(lab_site.inventory.root).resolve().parent)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "florac-fs-pc1 | CHANGED" in proc.stdout and "florac-fs-pc2 | CHANGED" in proc.stdout
