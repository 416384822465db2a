"""MikroTik RouterOS 7 (CRS switches, hAP/wAP): netmiko ``mikrotik_routeros``.

The configuration is ``/export show-sensitive``: paths (``/interface bridge port``) and their
items (``add bridge=bridge interface=ether3 pvid=30``).  Normalisation joins continued lines,
sorts each item's attributes (and comma lists such as ``tagged=``), and masks passwords and
SNMP community names.  Items are matched by their identity (``interface=`` of a bridge port,
``vlan-ids=`` of a bridge VLAN, ``name=``...): a changed item becomes ``set [ find where ... ]``,
a missing one ``add``, an extra one ``remove``.  There is no configuration mode and nothing to
save: each command takes effect (and persists) at once, which is why the push is line by line
and the rollback matters.

Proven on recorded CLI transcripts (``tests/netdev/transcripts/mikrotik_routeros``),
reconstructed from MikroTik's RouterOS 7 documentation, not captured from a device.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any, ClassVar

from fleet.inventory.network import NetGear, Platform, SiteNetwork
from fleet.netdev.config import MASK, Changes, Dialect, Line, Normalised, Scope, patterns, substitutions
from fleet.netdev.drivers.base import Driver
from fleet.netdev.transport import Timeouts

ATTR = re.compile(r'([A-Za-z0-9.-]+)=("(?:[^"\\]|\\.)*"|\S*)')
SELECTOR = re.compile(r"^(?P<verb>add|set)(?: (?P<sel>\[ ?find [^\]]*\]))?(?P<rest>.*)$")
LISTS = ("tagged", "untagged", "topics", "vlan-ids", "addresses")


def parse_item(line: str) -> tuple[str, str, dict[str, str]]:
    """``set [ find default-name=ether9 ] comment=x`` → ('set', '[ find default-name=ether9 ]',
    {'comment': 'x'})."""
    m = SELECTOR.match(line)
    if not m:
        return "", "", {}
    sel = m["sel"] or ""
    sel = re.sub(r"\s+", " ", sel.replace("[find", "[ find").replace("]", " ]")).replace("  ", " ")
    return m["verb"], sel, dict(ATTR.findall(m["rest"]))


PLAIN = re.compile(r'^"([A-Za-z0-9_.,:/+@-]*)"$')


def _canon_value(key: str, value: str) -> str:
    m = PLAIN.match(value)
    if m:  # the export quotes only values that need it
        value = m.group(1)
    if key in LISTS and "," in value and not value.startswith('"'):
        return ",".join(sorted(value.split(",")))
    return value


def canon_item(line: str) -> str:
    verb, sel, attrs = parse_item(line)
    if not verb:
        return line
    parts = [verb] + ([sel] if sel else [])
    parts += [f"{k}={_canon_value(k, v)}" for k, v in sorted(attrs.items())]
    return " ".join(parts)


def _canon_children(header: str, children: list[Line]) -> list[Line]:
    return [Line(canon_item(c.text), c.real) for c in children]


DIALECT = Dialect(
    name="mikrotik_routeros",
    comment=re.compile(r"^\s*#"),
    secrets=substitutions([
        (r'\b((?:authentication|encryption)-password|password|passphrase|wpa2-pre-shared-key|'
         r'wpa-pre-shared-key|secret)=("(?:[^"\\]|\\.)*"|\S+)', rf"\1={MASK}"),
    ]),
    section_secrets=((re.compile(r"^/snmp community$"),
                      substitutions([(r'\bname=("(?:[^"\\]|\\.)*"|\S+)', f"name={MASK}")])),),
    canon_children=_canon_children,
    continuation="\\",
    path_headers=True,
    # rules are evaluated in order: there, order is configuration
    ordered=lambda h: bool(re.match(r"^/ipv?6? ?firewall (filter|nat|mangle|raw)$", h)),
)

IDENTITY = MappingProxyType({
    "/interface bridge": "name",
    "/interface vlan": "name",
    "/interface bridge port": "interface",
    "/interface bridge vlan": "vlan-ids",
    "/ip address": "address",
    "/ip route": "gateway",
    "/system ntp client servers": "address",
    "/system logging action": "name",
    "/system logging": "action",
    "/snmp community": "name",
})
ORDER = ("/system identity", "/interface bridge", "/interface vlan", "/interface bridge port",
         "/interface bridge vlan", "/interface ethernet", "/ip address", "/ip route",
         "/system ntp client", "/system ntp client servers", "/system logging action",
         "/system logging", "/snmp community", "/snmp")


def _rank(path: str) -> int:
    return ORDER.index(path) if path in ORDER else len(ORDER)


def _identity(path: str, line: str) -> str:
    verb, sel, attrs = parse_item(line)
    if verb == "set":
        return sel or "<singleton>"
    key = IDENTITY.get(path)
    if key is not None and key in attrs:
        return f"{key}={attrs[key]}"
    return line


def _find(path: str, ident: str) -> str:
    if ident.startswith("["):
        return ident
    key, _, value = ident.partition("=")
    return f"[ find where {key}={value} ]"


class RouterOsDriver(Driver):
    platform: ClassVar[Platform] = Platform.MIKROTIK_ROUTEROS
    netmiko_type: ClassVar[str] = "mikrotik_routeros"
    template: ClassVar[str] = "mikrotik_routeros.j2"
    dialect: ClassVar[Dialect] = DIALECT
    show_running: ClassVar[str] = "/export show-sensitive"
    config_mode: ClassVar[bool] = False
    error_patterns = patterns([r"^\s*failure:", r"bad command name", r"syntax error",
                               r"expected end of command", r"no such item", r"input does not match",
                               r"invalid value", r"ambiguous value", r"value of \S+ out of range"])

    def template_context(self, network: SiteNetwork, gear: NetGear) -> dict[str, Any]:
        mgmt = network.vlans[0].id
        tagged: dict[int, list[str]] = {v.id: [] for v in network.vlans}
        tagged[mgmt].append("bridge")
        for p in gear.ports:
            for vid in p.trunk_vlans:
                if vid != p.native_vlan:
                    tagged[vid].append(p.name)
        user = network.snmp_user
        return {
            "tagged": {k: ",".join(v) for k, v in tagged.items() if v},
            "pvid": {p.name: p.access_vlan or p.native_vlan or mgmt for p in gear.ports},
            "auth": {"SHA": "SHA1", "SHA256": "SHA256", "SHA512": "SHA512"}.get(
                user.auth_protocol, "SHA1") if user else "",
            "priv": {"AES": "AES", "AES192": "AES", "AES256": "AES"}.get(
                user.priv_protocol, "AES") if user else "",
        }

    def scope(self, intended: Normalised) -> Scope:
        ours = set(intended.sections)

        def child(path: str, item: str) -> bool:
            if item.startswith("set"):
                return False  # defaults changed by hand outside the intent: not ours to undo
            if path == "/system logging":
                return "action=relais" in item
            return True

        return Scope(sections=lambda h: h in ours, children=child)

    def commands(self, changes: Changes, target: Normalised) -> list[str]:
        out: list[str] = []
        for ch in sorted(changes, key=lambda c: _rank(c.header.text)):
            path = ch.header.real
            added = {_identity(path, c.real): c for c in ch.added}
            removed = {_identity(path, c.real): c for c in ch.removed}
            for ident, c in added.items():
                verb, sel, attrs = parse_item(c.real)
                if verb == "set" or ident in removed:
                    old = parse_item(removed[ident].real)[2] if ident in removed else {}
                    changed = [f"{k}={v}" for k, v in attrs.items() if old.get(k) != v]
                    where = sel or (_find(path, ident) if ident in removed else "")
                    if changed:
                        out.append(" ".join([path, "set", *([where] if where else []), *changed]))
                else:
                    out.append(f"{path} {c.real}")
            for ident, c in removed.items():
                if ident not in added and parse_item(c.real)[0] == "add":
                    out.append(f"{path} remove {_find(path, ident)}")
        # a new identity changes the prompt: last, so every other command sees the old one
        out.sort(key=lambda c: c.startswith("/system identity"))
        return out

    def send_config_line(self, conn: Any, command: str, timeouts: Timeouts) -> str:
        send = conn.send_command_timing if command.startswith("/system identity") else conn.send_command
        out: str = send(command, read_timeout=timeouts.read)
        return out
