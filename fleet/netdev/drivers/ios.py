"""Cisco IOS (Catalyst access switches): netmiko ``cisco_ios``.

Proven against the fake-switches IOS simulator the lab runs (``fleet.lab.switchsim``) and
normalisation fixtures in IOS's own format.  IOS never shows SNMPv3 users in its running
configuration: ``snmp-server user`` lines are write-only, pushed together with their group
(``snmp-server group``) — a key changed by hand on the switch is not seen (IOS cannot show it).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from fleet.inventory.network import NetGear, Platform, SiteNetwork
from fleet.netdev.config import (
    MASK,
    Changes,
    Dialect,
    Line,
    Normalised,
    Scope,
    SectionDiff,
    patterns,
    substitutions,
    vlan_ranges,
    vlan_set,
)
from fleet.netdev.drivers.base import CliRules, Driver, cli_commands

ALLOWED = re.compile(r"^switchport trunk allowed vlan (add )?(?P<list>\S+)$")


def _canon_children(header: str, children: list[Line]) -> list[Line]:
    """One ``switchport trunk allowed vlan`` line per interface, whatever IOS split it into."""
    if not header.startswith("interface "):
        return children
    allowed: list[int] = []
    found = False
    out: list[Line] = []
    for c in children:
        m = ALLOWED.match(c.text)
        if m:
            found = True
            allowed += vlan_set(m["list"])
        else:
            out.append(c)
    if found:
        text = f"switchport trunk allowed vlan {vlan_ranges(allowed)}"
        out.append(Line(text, text))
    return out


DIALECT = Dialect(
    name="cisco_ios",
    comment=re.compile(r"^\s*!"),
    volatile=patterns([
        r"^Building configuration",
        r"^Current configuration\b",
        r"^Last configuration change\b",
        r"^NVRAM config last updated\b",
        r"^ntp clock-period\b",
        r"^Load for five secs",
        r"^Time source is",
    ]),
    secrets=substitutions([
        (r"^(enable (?:secret|password)(?: level \d+)?(?: \d)?) \S+", rf"\1 {MASK}"),
        (r"^(username \S+(?: privilege \d+)? (?:secret|password)(?: \d)?) \S+", rf"\1 {MASK}"),
        (r"^(snmp-server community) \S+", rf"\1 {MASK}"),
        (r"^(snmp-server user \S+ \S+ v3 auth \S+) \S+ (priv \S+(?: \d+)?) \S+", rf"\1 {MASK} \2 {MASK}"),
        (r"^(snmp-server host \S+(?: vrf \S+)?(?: informs| traps)?(?: version (?:1|2c|3 \S+))?) \S+",
         rf"\1 {MASK}"),
        (r"^((?:password|secret)(?: \d)?) \S+", rf"\1 {MASK}"),
        (r"^(.*\bkey(?: \d)?) \S+$", rf"\1 {MASK}"),
        (r"^(.*wpa-psk ascii(?: \d)?) \S+", rf"\1 {MASK}"),
    ]),
    skip=patterns([r"end", r"exit"]),
    canon_children=_canon_children,
    write_only=patterns([r"^snmp-server user "]),
    # access lists and route maps are evaluated in order: there, order is configuration
    ordered=lambda h: h.startswith(("ip access-list ", "ipv6 access-list ", "route-map ")),
)

MANAGED_TOP = re.compile(
    r"^(hostname |vtp mode |ip default-gateway |ntp server |logging host |"
    r"snmp-server (community|group) |vlan (?!1$)\d+$)"
)
MANAGED_CHILD = re.compile(
    r"^(description |switchport (mode|access vlan|trunk (allowed|native) vlan) |shutdown$|"
    r"ip address |no ip address$|name )"
)


def _priority(header: str) -> int:
    if header.startswith(("hostname ", "vtp ")):
        return 0
    if header.startswith("vlan "):
        return 1
    if header.startswith("interface Vlan"):
        return 3
    if header.startswith("interface "):
        return 2
    return 4


RULES = CliRules(
    priority=_priority,
    single_keys=("description", "switchport access vlan", "switchport mode",
                 "switchport trunk native vlan", "switchport trunk allowed vlan", "name",
                 "ip address"),
    top_single_keys=("hostname", "vtp mode", "ip default-gateway"),
    permanent=lambda h: bool(re.match(r"^interface (Fast|Gigabit|TenGigabit)Ethernet", h)),
)


class IosDriver(Driver):
    platform: ClassVar[Platform] = Platform.CISCO_IOS
    netmiko_type: ClassVar[str] = "cisco_ios"
    template: ClassVar[str] = "cisco_ios.j2"
    dialect: ClassVar[Dialect] = DIALECT
    save_command: ClassVar[str | None] = "write memory"
    error_patterns = patterns([r"^% ?Invalid input", r"^% ?Incomplete command", r"^% ?Ambiguous",
                               r"^% ?Unknown command", r"^No such command"])

    def netmiko_options(self) -> dict[str, Any]:
        # fast_cli's shortened waits misread the simulator's prompts; IOS itself is fine either way
        return {"fast_cli": False}

    def template_context(self, network: SiteNetwork, gear: NetGear) -> dict[str, Any]:
        user = network.snmp_user
        if user is None:
            return {"auth": "", "priv": ""}
        auth = {"SHA": "sha", "SHA256": "sha256", "SHA512": "sha512"}[user.auth_protocol]
        priv = {"AES": "aes 128", "AES192": "aes 192", "AES256": "aes 256"}[user.priv_protocol]
        return {"auth": auth, "priv": priv}

    def prepare(self, conn: Any) -> None:
        conn.enable()

    def scope(self, intended: Normalised) -> Scope:
        ours = set(intended.sections)
        return Scope(
            sections=lambda h: h in ours or bool(MANAGED_TOP.match(h)),
            children=lambda h, c: bool(MANAGED_CHILD.match(c)),
        )

    def commands(self, changes: Changes, target: Normalised) -> list[str]:
        def users_after(ch: SectionDiff) -> list[str]:
            # write-only SNMPv3 users go right after their group is (re)created
            if ch.status == "added" and ch.header.text.startswith("snmp-server group "):
                group = ch.header.text.split()[2]
                return [u.real for u in target.write_only if u.text.split()[3:4] == [group]]
            return []

        return cli_commands(changes, RULES, users_after)

    def save(self, conn: Any, timeouts: Any) -> None:
        conn.save_config()
