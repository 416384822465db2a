"""Scaffold a valid site file for a technician (``fleet inventory new-site``).

Addresses follow one plan inside the management network: gateway .1, switch .2, access
point .3, public PCs .11–.19, bornes .21–.29, printers .31–.39, UPS .41; the gateway's guest
address is the first host of the guest network.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from collections.abc import Mapping
from types import MappingProxyType

from fleet.errors import ConfigError, Problem
from fleet.inventory.hours import parse_range
from fleet.inventory.models import WEEKDAYS, DeviceKind, SiteKind, site_group
from fleet.inventory.variables import SITE_ID

PLAN: Mapping[str, int] = MappingProxyType(
    {"gateway": 1, "switch": 2, "ap": 3, "public_pc": 11, "borne": 21, "printer": 31, "ups": 41}
)
SUFFIX: Mapping[str, str] = MappingProxyType({
    "gateway": "gw",
    "switch": "sw",
    "ap": "ap",
    "public_pc": "pc",
    "borne": "borne",
    "printer": "prn",
    "ups": "ups",
})


@dataclass(frozen=True)
class SiteSpec:
    id: str
    name: str
    kind: str
    address: str
    commune: str
    postcode: str
    lat: float
    lon: float
    management: str
    guest: str | None = None
    timezone: str = "Europe/Paris"
    hours: str = "mon-fri=09:00-12:00,13:30-17:00"
    pmi: bool = False
    pcs: int = 2
    pmr_pcs: int = 1
    bornes: int = 1
    gateway: bool = True
    switch: bool = True
    ap: bool = True
    printer: bool = True
    ups: bool = False
    referent: dict[str, str] = field(default_factory=dict)
    sav: dict[str, str] = field(default_factory=dict)
    closures: tuple[tuple[str, str, str], ...] = ()
    extra_host_vars: dict[str, dict[str, str]] = field(default_factory=dict)


def parse_hours(text: str) -> dict[str, list[str]]:
    """``mon-fri=09:00-12:00,13:30-17:00;sat=09:00-12:00`` → a week mapping (validated)."""
    week: dict[str, list[str]] = {d: [] for d in WEEKDAYS}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        if "=" not in part:
            raise ConfigError(f"--hours: {part!r} is not DAYS=RANGES (e.g. mon-fri=09:00-12:00)")
        days, ranges = part.split("=", 1)
        names = _days(days.strip().lower())
        items = [r.strip() for r in ranges.split(",") if r.strip()]
        for r in items:
            try:
                parse_range(r)
            except ValueError as exc:
                raise ConfigError(f"--hours: {exc}") from exc
        for d in names:
            week[d] = items
    return week


def _days(spec: str) -> list[str]:
    out: list[str] = []
    for chunk in spec.split(","):
        if "-" in chunk:
            a, b = chunk.split("-", 1)
            if a not in WEEKDAYS or b not in WEEKDAYS:
                raise ConfigError(f"--hours: unknown weekday in {chunk!r} (use mon..sun)")
            i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
            out += list(WEEKDAYS[i : j + 1]) if i <= j else list(WEEKDAYS[i:] + WEEKDAYS[: j + 1])
        elif chunk in WEEKDAYS:
            out.append(chunk)
        else:
            raise ConfigError(f"--hours: unknown weekday {chunk!r} (use mon..sun)")
    return out


def _q(value: object) -> str:
    """A YAML scalar, quoted when needed (JSON strings are valid YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*", text) and text.lower() not in {
        "yes", "no", "on", "off", "true", "false", "null", "y", "n",
    }:
        return text
    return json.dumps(text, ensure_ascii=False)


def devices(spec: SiteSpec) -> list[tuple[str, str, str, bool]]:
    """(hostname, kind, ip, pmr) for every device of the spec, in address order."""
    net = ipaddress.IPv4Network(spec.management)
    out: list[tuple[str, str, str, bool]] = []

    def add(kind: str, n: int, pmr: int = 0) -> None:
        for i in range(n):
            host = f"{spec.id}-{SUFFIX[kind]}{'' if kind == 'gateway' else i + 1}"
            ip = net.network_address + PLAN[kind] + i
            if ip not in net or ip == net.broadcast_address:
                raise ConfigError(f"--management {net} is too small for {host}")
            out.append((host, kind, str(ip), i < pmr))

    add("gateway", int(spec.gateway))
    add("switch", int(spec.switch))
    add("ap", int(spec.ap))
    add("public_pc", spec.pcs, spec.pmr_pcs)
    add("borne", spec.bornes)
    add("printer", int(spec.printer))
    add("ups", int(spec.ups))
    return out


def render_site(spec: SiteSpec) -> str:
    """The YAML text of a site file for this spec."""
    if not SITE_ID.match(spec.id):
        raise ConfigError(f"--id {spec.id!r}: site id must be lowercase letters, digits and "
                          "'-' (2–32 characters), e.g. florac-fs")
    try:
        SiteKind(spec.kind)
    except ValueError as exc:
        kinds = ", ".join(k.value for k in SiteKind)
        raise ConfigError(f"--kind {spec.kind!r} is not a site kind ({kinds})") from exc
    week = parse_hours(spec.hours)
    devs = devices(spec)
    g = site_group(spec.id)
    lines = [
        f"# {spec.name} — {spec.commune} ({spec.postcode})",
        "# Scaffolded by `fleet inventory new-site`; edit freely, then run `fleet inventory check`.",
        "all:",
        "  children:",
        f"    {g}:",
        "      vars:",
        f"        site_id: {_q(spec.id)}",
        f"        site_name: {_q(spec.name)}",
        f"        site_kind: {_q(spec.kind)}",
        f"        site_address: {_q(spec.address)}",
        f"        site_commune: {_q(spec.commune)}",
        f"        site_postcode: {json.dumps(spec.postcode)}",
        f"        site_coordinates: {{lat: {spec.lat}, lon: {spec.lon}}}",
        f"        site_timezone: {_q(spec.timezone)}",
        "        site_opening_hours:",
    ]
    for d in WEEKDAYS:
        lines.append(f"          {d}: [{', '.join(json.dumps(r) for r in week[d])}]")
    if spec.closures:
        lines.append("        site_closures:")
        for start, end, reason in spec.closures:
            if start == end:
                lines.append(f"          - {{date: {start}, reason: {_q(reason)}}}")
            else:
                lines.append(f"          - {{from: {start}, to: {end}, reason: {_q(reason)}}}")
    lines.append(f"        site_pmi: {_q(spec.pmi)}")
    lines.append("        site_networks:")
    lines.append(f"          management: {spec.management}")
    if spec.guest:
        lines.append(f"          guest: {spec.guest}")
    for key, data in (("site_referent", spec.referent), ("site_sav", spec.sav)):
        if not data.get("name"):
            raise ConfigError(f"--{key.removeprefix('site_')}-name is required")
        lines.append(f"        {key}:")
        lines += [f"          {k}: {_q(v)}" for k, v in data.items() if v]
    lines.append("      hosts:")
    for host, _kind, ip, pmr in devs:
        lines.append(f"        {host}:")
        lines.append(f"          ansible_host: {ip}")
        if pmr:
            lines.append("          device_pmr: true")
        for k, v in spec.extra_host_vars.get(host, {}).items():
            lines.append(f"          {k}: {_q(v)}")
    for kind in DeviceKind:
        hosts = [h for h, k, _ip, _p in devs if k == kind.value]
        if hosts:
            lines.append(f"    {kind.value}:")
            lines.append("      hosts:")
            lines += [f"        {h}:" for h in hosts]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------ errors back to the flags ----

FLAG_OF: Mapping[str, str] = MappingProxyType({
    "site_id": "--id",
    "site_name": "--name",
    "site_kind": "--kind",
    "site_address": "--address",
    "site_commune": "--commune",
    "site_postcode": "--postcode",
    "site_coordinates.lat": "--lat",
    "site_coordinates.lon": "--lon",
    "site_coordinates": "--lat/--lon",
    "site_timezone": "--timezone",
    "site_opening_hours": "--hours",
    "site_pmi": "--pmi",
    "site_networks.management": "--management",
    "site_networks.guest": "--guest",
    "site_networks": "--management",
    "site_referent.name": "--referent-name",
    "site_referent.phone": "--referent-phone",
    "site_referent.email": "--referent-email",
    "site_referent": "--referent-name",
    "site_sav.name": "--sav-name",
    "site_sav.phone": "--sav-phone",
    "site_sav.email": "--sav-email",
    "site_sav.contract": "--sav-contract",
    "site_sav": "--sav-name",
})
"""Which ``new-site`` flag wrote each site variable (longest match wins)."""


def flag_of(field: str, site_id: str) -> str | None:
    """The flag behind a problem's field in the scaffolded file, e.g.
    ``site_x.vars.site_networks.guest`` → ``--guest``; a device address → ``--management``
    (addresses follow the plan inside it); a hostname → ``--id`` (hostnames derive from it)."""
    group = site_group(site_id)
    rest = field.removeprefix(f"{group}.")
    if rest.startswith("vars."):
        key = rest.removeprefix("vars.").split("[")[0]
        parts = key.split(".")
        for n in range(len(parts), 0, -1):
            flag = FLAG_OF.get(".".join(parts[:n]))
            if flag:
                return flag
        return None
    if rest.startswith("hosts."):
        return "--management" if rest.endswith(".ansible_host") else "--id"
    if field.endswith(".ansible_host"):
        return "--management"
    if field in (group, "site_id") or field.startswith(f"{site_id}-"):
        return "--id"
    return None


def problems_as_flags(
    problems: list[Problem], target: str, site_id: str, values: Mapping[str, object]
) -> list[Problem]:
    """The problems found once the scaffolded file was added, worded for the flags that caused
    them (``--postcode '4840': postcode '4840' is not 5 digits``); ``values`` are the flags'
    values.  A problem in another file (the inventory was valid without the new site) names
    the new site's network or hostnames: it is mapped the same way; anything else is kept."""
    out: list[Problem] = []
    for p in problems:
        if p.file == target:
            flag, message = flag_of(p.field, site_id), p.message
        else:
            flag = _flag_in_message(p, site_id)
            where = f"{p.file}:{p.line}" if p.line else p.file
            message = f"conflicts with {p.value} at {where} ({p.field})"
        if flag is None:
            out.append(p)
            continue
        value = values.get(flag)
        shown = "" if value in (None, "") else f" {value!r}"
        out.append(Problem(f"{flag}{shown}", None, "", value, message))
    return out


def _flag_in_message(p: Problem, site_id: str) -> str | None:
    if f"{site_id}'s management network" in p.message:
        return "--management"
    if f"{site_id}'s guest network" in p.message:
        return "--guest"
    if "duplicate hostname" in p.message and str(p.value).startswith(f"{site_id}-"):
        return "--id"
    return None
