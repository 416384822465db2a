"""The site's intended network, as data: VLANs, port roles, switch ports, SSIDs, the SNMPv3
user, NTP and syslog — the input of :mod:`fleet.netdev` (which renders it per vendor).

Where it is written (ordinary Ansible variables, so ``ansible-inventory`` sees them too)::

    group_vars/all/netdev.yml   netdev_defaults       the intent of every site
                                netdev_site_kinds     {site kind: partial intent}
    sites/<site>.yml            netdev_site           (site vars) partial intent of this site
    group_vars/switch.yml ...   netdev_platform, netdev_username, netdev_password,
                                netdev_secret, netdev_port     how to reach the gear
    sites/<site>.yml (host)     netdev_ports          this switch's ports (replaces ``ports``)

Resolution, in one function (:func:`resolve_intent`): ``netdev_defaults`` < the site kind's entry
of ``netdev_site_kinds`` < ``netdev_site``; mappings merge key by key, any other value (a list, a
string) replaces the one below.  A switch's ports are ``netdev_ports`` of the host when set,
else the resolved ``ports``.

The SNMPv3 user is the one the poller already uses (``snmp_v3_*``, from the vault); a switch
polled over SNMPv2c also gets its read community (``snmp_community``).  ``"gateway"`` in
``ntp``/``syslog`` means the site gateway's management address.

Validation reports every problem with the file and line where the offending value was written.
This module imports nothing from :mod:`fleet.inventory.models` (the models import it).
"""

from __future__ import annotations

from types import MappingProxyType

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from fleet.errors import Problem
from fleet.inventory.validate import errors_of

# ----------------------------------------------------------------------------- models ---


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class VlanRole(StrEnum):
    MANAGEMENT = "management"
    STAFF = "staff"
    PUBLIC = "public"
    GUEST = "guest"
    PARKING = "parking"


class PortRole(StrEnum):
    UPLINK = "uplink"
    PUBLIC_PC = "public_pc"
    BORNE = "borne"
    PRINTER = "printer"
    AP_TRUNK = "ap_trunk"
    STAFF = "staff"
    UNUSED = "unused"


class Platform(StrEnum):
    """A vendor CLI fleet.netdev has a driver for (names follow netmiko's where they exist)."""

    CISCO_IOS = "cisco_ios"
    HP_PROCURVE = "hp_procurve"  # HP/Aruba ProCurve, ArubaOS-Switch
    ARUBA_INSTANT = "aruba_instant"  # Aruba Instant access points
    MIKROTIK_ROUTEROS = "mikrotik_routeros"


class Security(StrEnum):
    OPEN = "open"  # the guest network: the captive portal on the gateway does the rest
    WPA2_PSK = "wpa2-psk"
    WPA3_SAE = "wpa3-sae"


class Vlan(_Frozen):
    role: VlanRole
    id: int
    name: str


class PortRoleSpec(_Frozen):
    """What a port of this role is: an access port in one VLAN or a trunk."""

    role: PortRole
    description: str
    vlan: VlanRole | None = None
    trunk: tuple[VlanRole, ...] = ()
    native: VlanRole | None = None
    shutdown: bool = False


class SwitchPort(_Frozen):
    """One port of one switch, fully resolved (VLAN numbers, not roles)."""

    name: str
    role: PortRole
    description: str
    mode: Literal["access", "trunk"]
    access_vlan: int | None = None
    trunk_vlans: tuple[int, ...] = ()
    native_vlan: int | None = None
    shutdown: bool = False


class Ssid(_Frozen):
    name: str
    vlan: Vlan
    security: Security
    passphrase: SecretStr | None = None
    hidden: bool = False


class SnmpV3User(_Frozen):
    user: str
    auth_protocol: str  # SHA, SHA256, SHA512
    auth_key: SecretStr
    priv_protocol: str  # AES, AES192, AES256
    priv_key: SecretStr


class NetGear(_Frozen):
    """A switch or access point configured over its CLI, and how to reach it."""

    hostname: str
    kind: str  # "switch" or "ap" (the device kind)
    platform: Platform
    host: IPv4Address
    port: int = 22
    username: str
    password: SecretStr
    secret: SecretStr | None = None
    """Enable secret (IOS, ProCurve); the password when not set."""
    ports: tuple[SwitchPort, ...] = ()
    snmp_community: SecretStr | None = None
    """SNMPv2c read community, when the poller reads this device over v2c."""
    source: str = ""
    """file:line of the host in the site file."""

    @property
    def enable_secret(self) -> SecretStr:
        return self.secret if self.secret is not None else self.password


class SiteNetwork(_Frozen):
    """The intended network of one site."""

    site_id: str
    vlans: tuple[Vlan, ...]
    port_roles: tuple[PortRoleSpec, ...]
    ssids: tuple[Ssid, ...] = ()
    ntp: tuple[IPv4Address, ...] = ()
    syslog: tuple[IPv4Address, ...] = ()
    snmp_user: SnmpV3User | None = None
    management: IPv4Network
    gateway: IPv4Address | None = None
    gear: tuple[NetGear, ...] = ()

    def vlan(self, role: VlanRole) -> Vlan:
        for v in self.vlans:
            if v.role is role:
                return v
        raise KeyError(role)

    def gear_named(self, hostname: str) -> NetGear:
        for g in self.gear:
            if g.hostname == hostname:
                return g
        raise KeyError(hostname)


# ------------------------------------------------------------------- raw input schema ---
# What may be written in netdev_defaults / netdev_site_kinds.<kind> / netdev_site, checked
# after merging (so a site may give only what it changes).

VLAN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
DESCRIPTION = re.compile(r"^[A-Za-z0-9 _.,()/:+#-]{1,64}$")
SSID_NAME = re.compile(r"^[A-Za-z0-9 _.-]{1,32}$")
PORT_NAMES: Mapping[Platform, tuple[re.Pattern[str], str]] = MappingProxyType({
    Platform.CISCO_IOS: (
        re.compile(r"^(FastEthernet|GigabitEthernet|TenGigabitEthernet)\d+(/\d+){1,2}$"),
        "FastEthernet0/1, GigabitEthernet1/0/24",
    ),
    Platform.HP_PROCURVE: (re.compile(r"^([A-Z]?\d{1,2}|\d/\d{1,2})$"), "1, 24, A1"),
    Platform.MIKROTIK_ROUTEROS: (re.compile(r"^(ether|sfp|sfp-sfpplus|combo)\d{1,2}$"),
                                 "ether1, sfp-sfpplus1"),
})
RANGE = re.compile(r"^(?P<prefix>.*?)(?P<a>\d+)-(?P<b>\d+)$")
SWITCH_PLATFORMS = (Platform.CISCO_IOS, Platform.HP_PROCURVE, Platform.MIKROTIK_ROUTEROS)
AP_PLATFORMS = (Platform.ARUBA_INSTANT, Platform.MIKROTIK_ROUTEROS)
INTENT_KEYS = ("vlans", "port_roles", "ports", "ssids", "ntp", "syslog")
ACCESS_VARS = ("netdev_platform", "netdev_username", "netdev_password", "netdev_secret",
               "netdev_port", "netdev_ports")


class _VlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: StrictInt
    name: StrictStr


class _RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: StrictStr
    vlan: VlanRole | None = None
    trunk: list[VlanRole] | None = None
    native: VlanRole | None = None
    shutdown: StrictBool = False


class _SsidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr
    vlan: VlanRole
    security: Security
    passphrase: StrictStr | None = None
    hidden: StrictBool = False


class _PortIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: PortRole
    description: StrictStr | None = None


class _IntentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vlans: dict[VlanRole, _VlanIn]
    port_roles: dict[PortRole, _RoleIn]
    ports: dict[str, PortRole | _PortIn] = {}
    ssids: list[_SsidIn] = []
    ntp: list[str] = []
    syslog: list[str] = []


# ----------------------------------------------------------------------- provenance ---

Where = tuple[str, int | None]
Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Layer:
    """One source of intent: the variable's name, the file it was written in, its value."""

    name: str
    file: str
    value: Any
    line: int | None = None


def _line(obj: Any, key: str | None = None) -> int | None:
    # yamlsrc.LinedDict knows the lines of its keys; other values carry none
    if key is not None and hasattr(obj, "key_lines"):
        line = obj.key_lines.get(key, obj.line)
        return int(line) if line is not None else None
    return int(obj.line) if getattr(obj, "line", None) is not None else None


def merge_layers(layers: Sequence[Layer]) -> tuple[dict[str, Any], dict[Path_, Where], dict[Path_, str]]:
    """Deep-merge the layers (later wins; mappings merge, other values replace).

    Returns the merged value, where each path was last written (file, line), and which
    variable wrote it (for messages)."""
    merged: dict[str, Any] = {}
    origin: dict[Path_, Where] = {}
    names: dict[Path_, str] = {}

    def put(dst: dict[str, Any], src: Mapping[str, Any], path: Path_, layer: Layer) -> None:
        for key, value in src.items():
            k = str(key)
            p = (*path, k)
            line = _line(src, k)
            if isinstance(value, Mapping) and isinstance(dst.get(k), dict):
                origin.setdefault(p, (layer.file, line))
                put(dst[k], value, p, layer)
                continue
            for old in [q for q in origin if q[: len(p)] == p]:
                del origin[old]
                names.pop(old, None)
            dst[k] = _plain(value)
            _record(value, p, layer.file, line, origin)
            for q in [q for q in origin if q[: len(p)] == p]:
                names[q] = layer.name

    for layer in layers:
        if isinstance(layer.value, Mapping):
            put(merged, layer.value, (), layer)
    return merged, origin, names


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _record(value: Any, path: Path_, file: str, line: int | None, origin: dict[Path_, Where]) -> None:
    origin[path] = (file, line)
    if isinstance(value, Mapping):
        for k, v in value.items():
            _record(v, (*path, str(k)), file, _line(value, str(k)) or line, origin)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _record(v, (*path, i), file, _line(v) or line, origin)


def _where(origin: Mapping[Path_, Where], path: Path_, fallback: Where) -> Where:
    for n in range(len(path), 0, -1):
        if path[:n] in origin:
            return origin[path[:n]]
    return fallback


# ------------------------------------------------------------------------- resolution ---


@dataclass(frozen=True, slots=True)
class GearInput:
    """What the loader knows of one switch/AP: its resolved variables and where it is."""

    hostname: str
    kind: str
    ip: IPv4Address
    vars: Mapping[str, Any]
    file: str
    line: int | None
    snmp_version: str | None = None


@dataclass(frozen=True, slots=True)
class SiteInput:
    site_id: str
    site_kind: str
    file: str
    line: int | None
    management: IPv4Network
    gateway: IPv4Address | None
    site_vars: Mapping[str, Any]
    gear: tuple[GearInput, ...]


def resolve_intent(
    all_vars: Mapping[str, Any], all_files: Mapping[str, str], site: SiteInput
) -> list[Layer]:
    """The layers of a site's intent, lowest first (see the module docstring).

    Port ranges (``FastEthernet0/3-5``) are expanded first, so that a later layer naming one
    port overrides that port only."""
    layers: list[Layer] = []
    if "netdev_defaults" in all_vars:
        layers.append(Layer("netdev_defaults", all_files.get("netdev_defaults", "group_vars/all"),
                            _expanded(all_vars["netdev_defaults"]), _line(all_vars, "netdev_defaults")))
    kinds = all_vars.get("netdev_site_kinds")
    if isinstance(kinds, Mapping) and site.site_kind in kinds:
        layers.append(Layer(f"netdev_site_kinds.{site.site_kind}",
                            all_files.get("netdev_site_kinds", "group_vars/all"),
                            _expanded(kinds[site.site_kind]), _line(kinds, site.site_kind)))
    if "netdev_site" in site.site_vars:
        layers.append(Layer("netdev_site", site.file, _expanded(site.site_vars["netdev_site"]),
                            _line(site.site_vars, "netdev_site")))
    return layers


class _Lined(dict[str, Any]):
    """A mapping that keeps the lines of the keys it was made from (like yamlsrc.LinedDict)."""

    line: int | None
    key_lines: dict[str, int]


def _expanded(intent: Any) -> Any:
    """The intent with the keys of its ``ports`` mapping expanded (a range written twice in one
    layer stays as written, so that validation reports it)."""
    if not isinstance(intent, Mapping) or not isinstance(intent.get("ports"), Mapping):
        return intent
    ports = intent["ports"]
    out = _Lined()
    out.line = _line(ports)
    out.key_lines = {}
    for key, value in ports.items():
        try:
            names = expand_ports(str(key))
        except ValueError:
            names = [str(key)]
        if any(n in out for n in names):
            names = [str(key)]
        for n in names:
            out[n] = value
            line = _line(ports, str(key))
            if line is not None:
                out.key_lines[n] = line
    copy = _Lined(intent)
    copy.line = _line(intent)
    copy.key_lines = dict(getattr(intent, "key_lines", {}))
    copy["ports"] = out
    return copy


SecretLookup = Callable[[Any], str | None]
"""Resolves ``"{{ vault_x }}"`` to the vault's value (None when missing); other text as is."""


def build_site_network(
    all_vars: Mapping[str, Any],
    all_files: Mapping[str, str],
    site: SiteInput,
    secret: SecretLookup,
    is_vault_ref: Callable[[Any], bool],
) -> tuple[SiteNetwork | None, list[Problem]]:
    """Validate and resolve one site's intended network; every problem with file and line."""
    problems: list[Problem] = []
    layers = resolve_intent(all_vars, all_files, site)
    if not layers:
        return None, problems
    merged, origin, names = merge_layers(layers)
    fallback: Where = (layers[-1].file, layers[-1].line)

    def add(path: Path_, value: object, message: str) -> None:
        file, line = _where(origin, path, fallback)
        var = names.get(path) or next((names[q] for q in sorted(names, key=len) if path[: len(q)] == q),
                                      layers[-1].name)
        field = ".".join([var.split(".")[0], *(str(p) for p in path)]) if path else var
        problems.append(Problem(file, line, field, value, message))

    try:
        spec = _IntentIn.model_validate(merged)
    except ValidationError as exc:  # worded and de-duplicated as every file's errors are
        for loc, message, value in errors_of(exc, _IntentIn, branches=_BRANCHES):
            add(loc, value if isinstance(value, str | int | bool | None) else None, message)
        return None, _dedupe(problems)

    vlans = _vlans(spec, add)
    roles = _roles(spec, vlans, add)
    ssids = _ssids(spec, vlans, secret, is_vault_ref, add)
    ntp = _servers(spec.ntp, "ntp", site, add)
    syslog = _servers(spec.syslog, "syslog", site, add)
    if roles is not None and vlans is not None:
        _check_isolation(roles, ssids, add)
    snmp_user = None
    gear: list[NetGear] = []
    for g in site.gear:
        if g.vars.get("netdev_platform") in (None, ""):
            continue
        user = _snmp_user(g, secret)
        if user is not None:
            snmp_user = user
        made = _gear(g, spec, roles, vlans, secret, problems, origin, fallback)
        if made is not None:
            gear.append(made)
    if problems or vlans is None or roles is None or ssids is None or ntp is None or syslog is None:
        return None, _dedupe(problems)
    return SiteNetwork(
        site_id=site.site_id,
        vlans=tuple(vlans.values()),
        port_roles=tuple(roles.values()),
        ssids=tuple(ssids),
        ntp=tuple(ntp),
        syslog=tuple(syslog),
        snmp_user=snmp_user,
        management=site.management,
        gateway=site.gateway,
        gear=tuple(gear),
    ), []


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for p in problems:
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out


_BRANCHES = ("str-enum[PortRole]", "_PortIn")
"""The members of ``ports``' union (a role name, or a mapping), as pydantic names them in an
error's location: dropped by :func:`fleet.inventory.validate.errors_of`."""


Add = Callable[[Path_, object, str], None]


def _vlans(spec: _IntentIn, add: Add) -> dict[VlanRole, Vlan] | None:
    out: dict[VlanRole, Vlan] = {}
    ok = True
    for role in VlanRole:
        if role not in spec.vlans:
            add(("vlans",), None, f"the {role.value} VLAN is missing (every site has "
                f"{', '.join(r.value for r in VlanRole)})")
            ok = False
    ids: dict[int, VlanRole] = {}
    names: dict[str, VlanRole] = {}
    for role, v in spec.vlans.items():
        if not 2 <= v.id <= 4094:
            add(("vlans", role.value, "id"), v.id, "VLAN id must be 2..4094 (VLAN 1 is the "
                "switch's default VLAN and is not used)")
            ok = False
        elif v.id in ids:
            add(("vlans", role.value, "id"), v.id, f"VLAN {v.id} is also the {ids[v.id].value} VLAN")
            ok = False
        ids.setdefault(v.id, role)
        if not VLAN_NAME.match(v.name):
            add(("vlans", role.value, "name"), v.name,
                "VLAN name: 1-32 letters, digits, '_', '.', '-' (no spaces)")
            ok = False
        elif v.name in names:
            add(("vlans", role.value, "name"), v.name, f"name also used by the {names[v.name].value} VLAN")
            ok = False
        names.setdefault(v.name, role)
        out[role] = Vlan(role=role, id=v.id, name=v.name)
    return out if ok else None


def _roles(
    spec: _IntentIn, vlans: dict[VlanRole, Vlan] | None, add: Add
) -> dict[PortRole, PortRoleSpec] | None:
    out: dict[PortRole, PortRoleSpec] = {}
    ok = True
    for role, r in spec.port_roles.items():
        path: Path_ = ("port_roles", role.value)
        if not DESCRIPTION.match(r.description):
            add((*path, "description"), r.description,
                "description: 1-64 plain ASCII characters (letters, digits, space, _.,()/:+#-)")
            ok = False
        if (r.vlan is None) == (r.trunk is None):
            add(path, None, "give either 'vlan' (an access port) or 'trunk' (a list of VLANs)")
            ok = False
            continue
        if r.trunk is not None:
            if not r.trunk:
                add((*path, "trunk"), None, "a trunk carries at least one VLAN")
                ok = False
            if r.native is not None and r.native not in r.trunk:
                add((*path, "native"), r.native.value, "the native VLAN must be one of the trunk's VLANs")
                ok = False
            if VlanRole.PARKING in r.trunk:
                add((*path, "trunk"), VlanRole.PARKING.value, "the parking VLAN is never on a trunk")
                ok = False
        elif r.native is not None:
            add((*path, "native"), r.native.value, "'native' applies to trunks only")
            ok = False
        if r.vlan is VlanRole.GUEST:
            add((*path, "vlan"), r.vlan.value, "the guest VLAN is isolated: it is only carried on "
                "trunks (to the gateway and the access points), never on a wired access port")
            ok = False
        out[role] = PortRoleSpec(role=role, description=r.description, vlan=r.vlan,
                                 trunk=tuple(r.trunk or ()), native=r.native, shutdown=r.shutdown)
    unused = out.get(PortRole.UNUSED)
    if unused is None:
        add(("port_roles",), None, "the 'unused' port role is missing")
        ok = False
    elif unused.vlan is not VlanRole.PARKING or not unused.shutdown:
        add(("port_roles", "unused"), None,
            "unused ports are shut and in the parking VLAN: vlan: parking, shutdown: true")
        ok = False
    return out if ok and vlans is not None else None


def _ssids(
    spec: _IntentIn,
    vlans: dict[VlanRole, Vlan] | None,
    secret: SecretLookup,
    is_vault_ref: Callable[[Any], bool],
    add: Add,
) -> list[Ssid] | None:
    out: list[Ssid] = []
    ok = True
    seen: set[str] = set()
    for i, s in enumerate(spec.ssids):
        path: Path_ = ("ssids", i)
        if not SSID_NAME.match(s.name):
            add((*path, "name"), s.name, "SSID: 1-32 letters, digits, space, '_', '.', '-'")
            ok = False
        if s.name in seen:
            add((*path, "name"), s.name, "duplicate SSID")
            ok = False
        seen.add(s.name)
        if s.vlan in (VlanRole.MANAGEMENT, VlanRole.PARKING):
            add((*path, "vlan"), s.vlan.value, f"no SSID may be on the {s.vlan.value} VLAN")
            ok = False
        if s.security is Security.OPEN and s.vlan is not VlanRole.GUEST:
            add((*path, "security"), "open", "an open SSID is only allowed on the guest VLAN "
                "(isolated, behind the captive portal)")
            ok = False
        passphrase: SecretStr | None = None
        if s.security is Security.OPEN:
            if s.passphrase is not None:
                add((*path, "passphrase"), "***", "an open SSID has no passphrase")
                ok = False
        elif s.passphrase is None:
            add((*path, "passphrase"), None, f"{s.security.value} needs a passphrase "
                "(\"{{ vault_... }}\")")
            ok = False
        elif not is_vault_ref(s.passphrase):
            add((*path, "passphrase"), "***", "secret in clear: put it in the vault and write "
                "'{{ vault_<name> }}' here")
            ok = False
        else:
            value = secret(s.passphrase)
            if not value:
                add((*path, "passphrase"), s.passphrase, "this vault variable is missing or empty")
                ok = False
            elif not 8 <= len(value) <= 63:
                add((*path, "passphrase"), "***", "a WPA passphrase has 8 to 63 characters")
                ok = False
            else:
                passphrase = SecretStr(value)
        if ok and vlans is not None:
            out.append(Ssid(name=s.name, vlan=vlans[s.vlan], security=s.security,
                            passphrase=passphrase, hidden=s.hidden))
    return out if ok else None


def _servers(values: list[str], key: str, site: SiteInput, add: Add) -> list[IPv4Address] | None:
    out: list[IPv4Address] = []
    ok = True
    for i, raw in enumerate(values):
        if raw == "gateway":
            # "the site's gateway": a site without one (a mairie on the town's network) simply
            # has no such server; its other servers, if any, still apply
            if site.gateway is not None:
                out.append(site.gateway)
            continue
        try:
            out.append(IPv4Address(raw))
        except ValueError:
            add((key, i), raw, "must be 'gateway' or an IPv4 address")
            ok = False
    return out if ok else None


def _check_isolation(
    roles: Mapping[PortRole, PortRoleSpec], ssids: list[Ssid] | None, add: Add
) -> None:
    uplink = roles.get(PortRole.UPLINK)
    wanted = {s.vlan.role for s in ssids or ()}
    if uplink is not None:
        for vrole in sorted(wanted):
            if vrole not in uplink.trunk:
                add(("port_roles", "uplink", "trunk"), vrole.value,
                    f"an SSID uses the {vrole.value} VLAN: the uplink to the gateway must carry it")
    ap = roles.get(PortRole.AP_TRUNK)
    if ap is not None and VlanRole.PUBLIC in ap.trunk:
        add(("port_roles", "ap_trunk", "trunk"), VlanRole.PUBLIC.value,
            "access points carry no wired public-PC VLAN")


def _snmp_user(g: GearInput, secret: SecretLookup) -> SnmpV3User | None:
    user = secret(g.vars.get("snmp_v3_user"))
    auth = secret(g.vars.get("snmp_v3_auth_pass"))
    priv = secret(g.vars.get("snmp_v3_priv_pass"))
    if not (user and auth and priv):
        return None
    return SnmpV3User(
        user=user,
        auth_protocol=str(g.vars.get("snmp_v3_auth_protocol", "SHA")).upper(),
        auth_key=SecretStr(auth),
        priv_protocol=str(g.vars.get("snmp_v3_priv_protocol", "AES")).upper(),
        priv_key=SecretStr(priv),
    )


def expand_ports(name: str) -> list[str]:
    """``FastEthernet0/5-8`` → the four names; a plain name → itself."""
    m = RANGE.match(name)
    if not m:
        return [name]
    a, b = int(m["a"]), int(m["b"])
    if b < a or b - a > 512:
        raise ValueError(f"bad port range {name!r}")
    return [f"{m['prefix']}{i}" for i in range(a, b + 1)]


def _gear(
    g: GearInput,
    spec: _IntentIn,
    roles: Mapping[PortRole, PortRoleSpec] | None,
    vlans: Mapping[VlanRole, Vlan] | None,
    secret: SecretLookup,
    problems: list[Problem],
    origin: Mapping[Path_, Where],
    fallback: Where,
) -> NetGear | None:
    before = len(problems)
    where = f"{g.hostname}."

    def add(
        field: str, value: object, message: str, line: int | None = None, file: str | None = None
    ) -> None:
        problems.append(Problem(file or g.file, line or g.line, where + field, value, message))

    raw = g.vars.get("netdev_platform")
    try:
        platform = Platform(str(raw))
    except ValueError:
        names = ", ".join(p.value for p in Platform)
        add("netdev_platform", raw, f"unknown platform; platforms are: {names}")
        return None
    allowed = SWITCH_PLATFORMS if g.kind == "switch" else AP_PLATFORMS
    if platform not in allowed:
        add("netdev_platform", platform.value,
            f"a {g.kind} can be one of: {', '.join(p.value for p in allowed)}")
    username = secret(g.vars.get("netdev_username"))
    password = secret(g.vars.get("netdev_password"))
    enable = secret(g.vars.get("netdev_secret")) if g.vars.get("netdev_secret") else None
    if not username:
        add("netdev_username", g.vars.get("netdev_username"), "required (a vault reference)")
    if not password:
        add("netdev_password", g.vars.get("netdev_password"), "required (a vault reference)")
    try:
        port = int(g.vars.get("netdev_port", 22))
        if not 1 <= port <= 65535:
            raise ValueError
    except (TypeError, ValueError):
        add("netdev_port", g.vars.get("netdev_port"), "must be a TCP port number")
        port = 22
    community = None
    if g.snmp_version == "2c":
        value = secret(g.vars.get("snmp_community"))
        community = SecretStr(value) if value else None
    ports: list[SwitchPort] = []
    if g.kind == "switch" and roles is not None and vlans is not None:
        host_ports = g.vars.get("netdev_ports")
        if host_ports is not None:
            ports = _ports_of(host_ports, "netdev_ports", lambda k: (g.file, _line(host_ports, k) or g.line),
                              platform, roles, vlans, add)
        else:
            raw_ports: dict[str, Any] = {k: (v.value if isinstance(v, PortRole) else v.model_dump())
                                         for k, v in spec.ports.items()}
            ports = _ports_of(raw_ports, "ports",
                              lambda k: _where(origin, ("ports", k), fallback), platform, roles, vlans, add)
    if len(problems) > before or not username or not password:
        return None
    return NetGear(
        hostname=g.hostname,
        kind=g.kind,
        platform=platform,
        host=g.ip,
        port=port,
        username=username,
        password=SecretStr(password),
        secret=SecretStr(enable) if enable else None,
        ports=tuple(ports),
        snmp_community=community,
        source=f"{g.file}:{g.line}" if g.line else g.file,
    )


def _ports_of(
    raw: Any,
    var: str,
    where: Callable[[str], Where],
    platform: Platform,
    roles: Mapping[PortRole, PortRoleSpec],
    vlans: Mapping[VlanRole, Vlan],
    add: Callable[..., None],
) -> list[SwitchPort]:
    if not isinstance(raw, Mapping):
        add(var, None, "must be a mapping {port name or range: role or {role, description}}")
        return []
    pattern, example = PORT_NAMES.get(platform, (re.compile(r".+"), ""))
    out: dict[str, SwitchPort] = {}
    for key, value in raw.items():
        name = str(key)
        file, line = where(name)
        if isinstance(value, Mapping):
            role_raw, desc = value.get("role"), value.get("description")
            extra = set(value) - {"role", "description"}
            if extra:
                add(f"{var}.{name}", sorted(extra), "unknown key (a port has role and description)",
                    line, file)
                continue
        else:
            role_raw, desc = value, None
        try:
            role = PortRole(str(role_raw))
        except ValueError:
            add(f"{var}.{name}", role_raw,
                f"unknown port role; roles are: {', '.join(r.value for r in PortRole)}", line, file)
            continue
        spec = roles.get(role)
        if spec is None:
            add(f"{var}.{name}", role.value, f"port role {role.value!r} is not defined in port_roles",
                line, file)
            continue
        if desc is not None and not DESCRIPTION.match(str(desc)):
            add(f"{var}.{name}.description", desc,
                "description: 1-64 plain ASCII characters (letters, digits, space, _.,()/:+#-)", line, file)
            continue
        try:
            names = expand_ports(name)
        except ValueError as exc:
            add(f"{var}.{name}", name, str(exc), line, file)
            continue
        for n in names:
            if not pattern.match(n):
                add(f"{var}.{name}", n, f"not a {platform.value} port name (e.g. {example})", line, file)
                break
            if n in out:
                add(f"{var}.{name}", n, "port given twice", line, file)
                break
            out[n] = _port(n, spec, vlans, str(desc) if desc is not None else None)
    return sorted(out.values(), key=lambda p: _natural(p.name))


def _port(name: str, spec: PortRoleSpec, vlans: Mapping[VlanRole, Vlan], desc: str | None) -> SwitchPort:
    description = desc or spec.description
    if spec.vlan is not None:
        return SwitchPort(name=name, role=spec.role, description=description, mode="access",
                          access_vlan=vlans[spec.vlan].id, shutdown=spec.shutdown)
    return SwitchPort(
        name=name, role=spec.role, description=description, mode="trunk",
        trunk_vlans=tuple(sorted(vlans[r].id for r in spec.trunk)),
        native_vlan=vlans[spec.native].id if spec.native is not None else None,
        shutdown=spec.shutdown,
    )


def _natural(name: str) -> tuple[Any, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def files_of_all_vars(root: Path, keys: Iterable[str]) -> dict[str, str]:
    """Which file of ``group_vars/all/`` (or ``group_vars/all.yml``) defines each key, for
    messages (the loader merges that directory into one mapping)."""
    out: dict[str, str] = {}
    gv = root / "group_vars"
    candidates = sorted((gv / "all").glob("*.y*ml")) + sorted(gv.glob("all.y*ml"))
    for f in candidates:
        if f.name == "vault.yml":
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except OSError:
            continue
        for key in keys:
            if re.search(rf"^{re.escape(key)}\s*:", text, re.M):
                out[key] = _display(f)
    return out


def _display(path: Path) -> str:
    import os

    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


# ------------------------------------------------------------------- the loader's hook ---


def network_of_site(
    root: Path,
    site: Any,
    devices: Sequence[Any],
    site_vars: Mapping[str, Any],
    group_vars: Mapping[str, Mapping[str, Any]],
    secrets: Mapping[str, str],
) -> tuple[SiteNetwork | None, list[Problem]]:
    """Called by the loader once a site and its devices are built (``site`` is a
    :class:`~fleet.inventory.models.Site` or None when it was invalid, ``devices`` its
    :class:`~fleet.inventory.models.Device` list): the site's intended network and the
    problems found, located in the file and line that wrote the offending value."""
    from fleet.inventory.secrets import VAULT_REF

    if site is None:
        return None, []
    all_vars = group_vars.get("all", {})

    def secret(value: Any) -> str | None:
        if value is None:
            return None
        m = VAULT_REF.match(str(value))
        return secrets.get(m.group(1)) if m else str(value)

    def is_ref(value: Any) -> bool:
        return bool(VAULT_REF.match(str(value)))

    gateway = next((d.ip for d in devices if str(d.kind) == "gateway"), None)
    gear = tuple(
        GearInput(hostname=d.hostname, kind=str(d.kind), ip=d.ip, vars=d.vars,
                  file=d.source.file, line=d.source.line,
                  snmp_version=d.snmp.version if d.snmp is not None else None)
        for d in devices
        if str(d.kind) in ("switch", "ap")
    )
    if not gear:  # no switch nor access point: no network intent to build for this site
        return None, []
    site_in = SiteInput(site_id=site.id, site_kind=str(site.kind), file=site.source.file,
                        line=site.source.line, management=site.management, gateway=gateway,
                        site_vars=site_vars, gear=gear)
    files = files_of_all_vars(root, ("netdev_defaults", "netdev_site_kinds"))
    return build_site_network(all_vars, files, site_in, secret, is_ref)
