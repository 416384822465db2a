"""HP/Aruba ProCurve, ArubaOS-Switch (2530, 2930F...): netmiko ``hp_procurve``.

VLAN membership is written per VLAN (``untagged 3-6`` / ``tagged 1-2``): normalisation splits
port lists into one line per port, so a port moved from one VLAN to another shows as exactly
that.  A trunk is untagged in its native VLAN and tagged in the others.  SNMPv3: the running
configuration shows ``snmpv3 user "name"`` without its keys, and ``snmpv3 enable`` is
interactive on this CLI, so it is left to the switch's staging (see docs/technician.md).

Proven on recorded CLI transcripts (``tests/netdev/transcripts/hp_procurve``), reconstructed
from HPE's ArubaOS-Switch 16.10 documentation, not captured from a switch.
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
)
from fleet.netdev.drivers.base import CliRules, Driver, block_commands, negate

MEMBERSHIP = re.compile(r"^(?P<verb>(?:no )?(?:untagged|tagged|forbid)) (?P<ports>\S+)$")


def port_list(text: str) -> list[str]:
    """``1-4,A1-A2,Trk1`` → ['1', '2', '3', '4', 'A1', 'A2', 'Trk1']."""
    out: list[str] = []
    for part in text.split(","):
        m = re.fullmatch(r"([A-Za-z]*)(\d+)-\1?(\d+)", part)
        if m:
            out += [f"{m[1]}{i}" for i in range(int(m[2]), int(m[3]) + 1)]
        elif part:
            out.append(part)
    return out


def _canon_children(header: str, children: list[Line]) -> list[Line]:
    if not header.startswith("vlan "):
        return children
    out: list[Line] = []
    for c in children:
        m = MEMBERSHIP.match(c.text)
        if m:
            out += [Line(f"{m['verb']} {p}", f"{m['verb']} {p}") for p in port_list(m["ports"])]
        else:
            out.append(c)
    return out


DIALECT = Dialect(
    name="hp_procurve",
    comment=re.compile(r"^\s*;"),
    volatile=patterns([r"^Running configuration:"]),
    secrets=substitutions([
        (r'^(snmp-server community) "[^"]*"', rf'\1 "{MASK}"'),
        # the switch shows a user without its keys: compare the user only
        (r'^(snmpv3 user "[^"]+") auth \S+ ("[^"]*"|\S+) priv \S+ ("[^"]*"|\S+)$', r"\1"),
        (r'^(password (?:manager|operator)(?: user-name "[^"]*")? \S+) "[^"]*"', rf'\1 "{MASK}"'),
        (r'^(radius-server(?: host \S+)? key) \S+', rf"\1 {MASK}"),
    ]),
    skip=patterns([r"exit", r"end"]),
    canon_children=_canon_children,
)

MANAGED_TOP = re.compile(r'^(hostname |ip default-gateway |snmp-server community |snmpv3 (user|group) |'
                         r"ntp server |logging \d|vlan (?!1$)\d+$)")
MANAGED_CHILD = re.compile(r'^(name |(no )?(untagged|tagged) |ip address |no ip address$|disable$)')


def _priority(header: str) -> int:
    if header.startswith("hostname "):
        return 0
    if header.startswith("vlan "):
        return 1
    if header.startswith("interface "):
        return 2
    return 3


RULES = CliRules(
    priority=_priority,
    single_keys=("name", "ip address"),
    top_single_keys=("hostname", "ip default-gateway"),
    negations={"disable": "enable", "no ip address": "no ip address"},
    permanent=lambda h: h.startswith("interface "),
)


class ProcurveDriver(Driver):
    platform: ClassVar[Platform] = Platform.HP_PROCURVE
    netmiko_type: ClassVar[str] = "hp_procurve"
    template: ClassVar[str] = "hp_procurve.j2"
    dialect: ClassVar[Dialect] = DIALECT
    save_command: ClassVar[str | None] = "write memory"
    error_patterns = patterns([r"Invalid input", r"^\s*Incomplete input", r"Ambiguous input",
                               r"^\s*Unknown command", r"Value .* is not valid"])

    def template_context(self, network: SiteNetwork, gear: NetGear) -> dict[str, Any]:
        members: dict[int, dict[str, list[str]]] = {v.id: {"untagged": [], "tagged": []}
                                                    for v in network.vlans}
        for p in gear.ports:
            if p.mode == "access" and p.access_vlan is not None:
                members[p.access_vlan]["untagged"].append(p.name)
            else:
                for vid in p.trunk_vlans:
                    kind = "untagged" if vid == p.native_vlan else "tagged"
                    members[vid][kind].append(p.name)
        user = network.snmp_user
        return {
            "members": members,
            "auth": {"SHA": "sha", "SHA256": "sha256", "SHA512": "sha512"}.get(
                user.auth_protocol, "sha") if user else "",
            "priv": {"AES": "aes", "AES192": "aes192", "AES256": "aes256"}.get(
                user.priv_protocol, "aes") if user else "",
        }

    def scope(self, intended: Normalised) -> Scope:
        ours = set(intended.sections)
        return Scope(sections=lambda h: h in ours or bool(MANAGED_TOP.match(h)),
                     children=lambda h, c: bool(MANAGED_CHILD.match(c)))

    def commands(self, changes: Changes, target: Normalised) -> list[str]:
        # a port untagged in its new VLAN leaves the old one by itself: no "no untagged" for it
        moved = {c.text.split()[1] for ch in changes for c in ch.added if c.text.startswith("untagged ")}
        adds = sorted((c for c in changes if c.status != "removed"), key=lambda c: _priority(c.header.text))
        rems = sorted((c for c in changes if c.status == "removed"), key=lambda c: -_priority(c.header.text))
        out: list[str] = []
        for ch in adds:
            removed = tuple(c for c in ch.removed
                            if not (c.text.startswith("untagged ") and c.text.split()[1] in moved))
            out += block_commands(SectionDiff(ch.header, ch.status, ch.added, removed), RULES)
        added_top = {c.header.text.split()[0] for c in adds if c.status == "added" and not c.added}
        for ch in rems:
            if ch.header.text.split()[0] in {"hostname"} & added_top:
                continue
            if ch.header.text.startswith("ip default-gateway") and "ip" in added_top:
                continue
            if RULES.permanent(ch.header.text):
                out += block_commands(ch, RULES)
                continue
            out.append(negate(ch.header.real, RULES.top_single_keys))
        return out

    def prepare(self, conn: Any) -> None:
        return  # netmiko's hp_procurve session preparation enables and disables paging
