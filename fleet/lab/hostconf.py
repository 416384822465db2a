"""Files the lab writes into a fresh host (its overlay upper) before booting it.

Like a factory-installed machine: hostname, the lab's SSH key for ``relais`` and root, an SNMPv3
agent with the inventory's credentials, apt pointing at the fake internet's repository, and per
role the services the lab needs (guest DHCP on the gateway, wildcard DNS + HTTP on the fake
internet, a DHCP client on the guest client).  The deploy roles reconfigure these later.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

from fleet.errors import LabError
from fleet.inventory.models import DeviceKind, SnmpCredentials
from fleet.lab.plan import FAKENET_IP, Node, NodeKind, SitePlan
from fleet.lab.proc import run
from fleet.lab.programs import program

# The processes monitoring/profiles/<kind>.yml watch through prTable: the factory agent of a
# bare lab site answers for them too (tests/incidents watches stand-ins of them).
WATCHED_PROCESSES: Final[Mapping[DeviceKind | None, tuple[str, ...]]] = MappingProxyType({
    DeviceKind.PUBLIC_PC: ("relais-wipe",),
    DeviceKind.BORNE: ("chromium", "relais-wipe"),
    DeviceKind.SCREEN: ("chromium",),
})


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> Path:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    path.write_text(text, "utf-8")
    path.chmod(mode)
    return path


def _enable(root: Path, unit: str, target: str = "multi-user.target") -> None:
    wants = root / "etc/systemd/system" / f"{target}.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / unit
    if not link.exists() and not link.is_symlink():
        link.symlink_to(f"/etc/systemd/system/{unit}")


def _ids(root: Path, user: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text("utf-8").splitlines():
        parts = line.split(":")
        if parts[0] == user:
            return int(parts[2]), int(parts[3])
    raise LabError(f"image has no user '{user}': rebuild with 'fleet lab build --force base'")


def _authorize(root: Path, user: str, home: str, pubkey: str) -> None:
    uid, gid = _ids(root, user)
    ssh = root / home.lstrip("/") / ".ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    os.chown(ssh, uid, gid)
    ssh.chmod(0o700)
    keys = ssh / "authorized_keys"
    keys.write_text(pubkey.strip() + "\n", "utf-8")
    os.chown(keys, uid, gid)
    keys.chmod(0o600)


def snmpd_config(
    snmp: SnmpCredentials | None, processes: tuple[str, ...] = ()
) -> tuple[str, str]:
    """(/etc/snmp/snmpd.conf, /var/lib/snmp/snmpd.conf) for an SNMPv3 authPriv read-only user,
    with a ``proc`` line (UCD-SNMP-MIB prTable) per watched process name."""
    main = ["# written by fleet lab up (factory agent); the snmp_agent role replaces it",
            "agentAddress udp:161", "sysServices 72", *(f"proc {p}" for p in processes)]
    persist = ""
    if snmp is not None and snmp.version == "3" and snmp.user and snmp.auth_key and snmp.priv_key:
        main.append(f"rouser {snmp.user} priv")
        persist = (f'createUser {snmp.user} {snmp.auth_protocol} '
                   f'"{snmp.auth_key.get_secret_value()}" {snmp.priv_protocol} '
                   f'"{snmp.priv_key.get_secret_value()}"\n')
    elif snmp is not None and snmp.community is not None:
        main.append(f"rocommunity {snmp.community.get_secret_value()}")
    return "\n".join(main) + "\n", persist


def ssh_host_key(key: Path, comment: str) -> str:
    """An SSH host key (ed25519) at ``key``, made if missing; returns its public half as
    ``ssh-ed25519 AAAA...`` for the lab's known_hosts."""
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", key],
            what=f"{comment}: ssh-keygen")
    fields = Path(f"{key}.pub").read_text("utf-8").split()
    return " ".join(fields[:2])


def host_key(root: Path, comment: str) -> str:
    """A booted host's own SSH host key, made in its root before it boots (the image has none,
    and sshd's ``ssh-keygen -A`` keeps an existing one)."""
    return ssh_host_key(root / "etc/ssh/ssh_host_ed25519_key", comment)


def prepare_host(root: Path, node: Node, plan: SitePlan, pubkey: str) -> None:
    """Write the lab's factory configuration into a freshly mounted (empty-upper) host root."""
    _write(root, "etc/hostname", node.name + "\n")
    _write(root, "etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{node.name}\n"
           "::1\tlocalhost ip6-localhost ip6-loopback\n")
    _authorize(root, "root", "/root", pubkey)
    _authorize(root, "relais", "/home/relais", pubkey)
    resolver = "127.0.0.1" if node.kind is NodeKind.FAKENET else str(FAKENET_IP)
    if node.kind is not NodeKind.CLIENT:
        resolv = root / "etc/resolv.conf"
        if resolv.is_symlink():
            resolv.unlink()
        _write(root, "etc/resolv.conf", f"nameserver {resolver}\n")
    _write(root, "etc/apt/sources.list",
           "# Relais lab: the fake internet's local repository (fleet lab build)\n"
           "deb [trusted=yes] http://deb.debian.org/debian ./\n")
    main, persist = snmpd_config(node.device.snmp if node.device is not None else None,
                                 WATCHED_PROCESSES.get(node.device.kind if node.device else None, ()))
    _write(root, "etc/snmp/snmpd.conf", main, 0o600)
    if persist:
        path = _write(root, "var/lib/snmp/snmpd.conf", persist, 0o600)
        uid, gid = _ids(root, "Debian-snmp")
        os.chown(path, uid, gid)
    if node.kind is NodeKind.HOST and node.layer == "gateway":
        _prepare_gateway(root, plan)
    elif node.kind is NodeKind.FAKENET:
        _prepare_fakenet(root)
    elif node.kind is NodeKind.CLIENT:
        _prepare_client(root)


def _prepare_gateway(root: Path, plan: SitePlan) -> None:
    rng = plan.dhcp_range()
    lines = ["# written by fleet lab up (factory gateway); the captive_portal role replaces it",
             "no-resolv", f"server={FAKENET_IP}", "bind-dynamic", "interface=eth0"]
    if rng is not None and plan.guest_gateway_ip is not None and plan.guest is not None:
        lines += ["interface=eth1",
                  f"dhcp-range=eth1,{rng[0]},{rng[1]},{plan.guest.netmask},1h",
                  f"dhcp-option=eth1,option:router,{plan.guest_gateway_ip}",
                  f"dhcp-option=eth1,option:dns-server,{plan.guest_gateway_ip}",
                  "dhcp-authoritative",
                  # a real gateway serves no guest before Relais configures it; this factory
                  # DHCP (so the lab's guest has an address before the first deploy) must not
                  # leave what the role forbids: a journal line per lease with the guest's MAC
                  # and device name (seen by the gateway test that greps every file)
                  "quiet-dhcp", "quiet-dhcp6", "quiet-ra", "dhcp-ignore-names"]
    _write(root, "etc/dnsmasq.d/relais-lab.conf", "\n".join(lines) + "\n")


def _prepare_fakenet(root: Path) -> None:
    _write(root, "etc/dnsmasq.d/relais-lab.conf",
           "# every name resolves to the fake internet itself\n"
           f"no-resolv\naddress=/#/{FAKENET_IP}\ninterface=eth0\nbind-dynamic\n")
    _write(root, "usr/local/bin/relais-fakenet-http",
           program("fakenet_http").read_text("utf-8"), 0o755)
    _write(root, "srv/www/index.html",
           "<html><body><h1>Relais lab fake internet</h1></body></html>\n")
    (root / "srv/www/debian").mkdir(parents=True, exist_ok=True)
    _write(root, "etc/systemd/system/relais-fakenet-http.service",
           "[Unit]\nDescription=Relais lab fake internet HTTP server\nAfter=network.target\n"
           "[Service]\nExecStart=/usr/local/bin/relais-fakenet-http\nRestart=always\n"
           "[Install]\nWantedBy=multi-user.target\n")
    _enable(root, "relais-fakenet-http.service")


DHCLIENT_RETRY = "\n# Relais lab: ask again 5 s after giving up, not 5 minutes\nretry 5;\n"


def _prepare_client(root: Path) -> None:
    _write(root, "etc/systemd/system/relais-dhcp.service",
           "[Unit]\nDescription=Relais lab guest client: DHCP on eth0\nAfter=network.target\n"
           "[Service]\nType=forking\nPIDFile=/run/dhclient.eth0.pid\n"
           "ExecStart=/sbin/dhclient -nw -v -pf /run/dhclient.eth0.pid "
           "-lf /var/lib/dhcp/dhclient.eth0.leases eth0\nRestart=on-failure\n"
           "[Install]\nWantedBy=multi-user.target\n")
    _enable(root, "relais-dhcp.service")
    # dhclient gives up after 60 s without an answer and then sleeps 5 minutes (Debian's
    # defaults): a gateway slow to boot on a loaded machine left the guest without an address
    # for the rest of a test.  Asked again every 5 s instead.
    conf = root / "etc/dhcp/dhclient.conf"
    text = conf.read_text("utf-8") if conf.is_file() else ""
    if DHCLIENT_RETRY not in text:
        _write(root, "etc/dhcp/dhclient.conf", text + DHCLIENT_RETRY)
    for unit in ("snmpd.service",):
        link = root / "etc/systemd/system" / unit
        if not link.exists():
            link.symlink_to("/dev/null")


def prepare_snmpsim(data_dir: Path, recordings: Path, node: Node) -> None:
    """A data dir holding the device's recording under its SNMPv2c community's name
    (snmpsim picks the file by community)."""
    dev = node.device
    if node.recording is None or dev is None or dev.snmp is None or dev.snmp.community is None:
        return
    src = recordings / f"{node.recording}.snmprec"
    if not src.is_file():
        raise LabError(f"{dev.source}: device '{dev.hostname}': lab_recording "
                       f"'{node.recording}' not found ({src})")
    community = dev.snmp.community.get_secret_value()
    if not community or ".." in community or community.startswith("/"):
        raise LabError(f"{dev.source}: device '{dev.hostname}': SNMP community unusable as a "
                       "snmpsim data file name")
    if data_dir.exists():
        shutil.rmtree(data_dir)
    dest = data_dir / f"{community}.snmprec"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    for d in [data_dir, *(p for p in data_dir.rglob("*") if p.is_dir())]:
        d.chmod(0o755)
    dest.chmod(0o644)
