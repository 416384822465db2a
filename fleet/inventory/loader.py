"""Load and validate the inventory directory into frozen models.

Every problem of a run is collected (file, line, field, value, message) and raised together as
one :class:`~fleet.errors.InventoryError`; nothing half-valid is returned.

Layout (usable as-is by ``ansible-playbook -i inventory/``)::

    inventory/sites/<site>.yml        one site: group ``site_<id>`` (site vars + its hosts)
                                      and one kind group per device kind listing the hosts
    inventory/group_vars/all/*.yml    defaults for everything; vault.yml is the vault
    inventory/group_vars/<kind>.yml   per device kind
    vault-password                    (beside inventory/) prints the vault password, see
                                      fleet.inventory.secrets

Variable precedence is Ansible's, implemented once in :func:`resolve_vars`:
``all`` < groups of the same depth in alphabetical order < host.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import SecretStr, ValidationError

from fleet import settings
from fleet.errors import InventoryError, Problem, SecretError
from fleet.inventory.hours import parse_week
from fleet.inventory.models import (
    Closure,
    Contact,
    Coordinates,
    Device,
    DeviceKind,
    Inventory,
    OpeningHours,
    Site,
    SiteKind,
    SnmpCredentials,
    Source,
    Supplier,
    site_group,
)
from fleet.inventory.network import network_of_site
from fleet.inventory.secrets import (
    DEMO_VAULT_PASSWORD,
    REQUIRED_SECRETS,
    SECRET_KEY,
    VAULT_REF,
    VAULT_RELPATH,
    decrypt_vault,
    default_password_file,
    password_from,
)
from fleet.inventory.yamlsrc import LinedDict, VaultTagged, line_of, load_yaml, load_yaml_text

KINDS = tuple(k.value for k in DeviceKind)
SITE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$")
HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

SITE_REQUIRED = (
    "site_id",
    "site_name",
    "site_kind",
    "site_address",
    "site_commune",
    "site_postcode",
    "site_coordinates",
    "site_timezone",
    "site_opening_hours",
    "site_networks",
    "site_referent",
    "site_sav",
)
SITE_OPTIONAL = ("site_closures", "site_pmi", "site_portal_url", "site_notes")
DEVICE_KEYS = (
    "ansible_host",
    "device_pmr",
    "device_model",
    "device_mac",
    "device_serial",
    "device_location",
)
ANSIBLE_KEYS = (
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "ansible_become",
    "ansible_become_user",
    "ansible_become_method",
    "ansible_python_interpreter",
    "ansible_connection",
    "ansible_ssh_common_args",
    "ansible_ssh_private_key_file",
    "ansible_network_os",
)
SNMP_KEYS = (
    "snmp_version",
    "snmp_port",
    "snmp_community",
    "snmp_v3_user",
    "snmp_v3_auth_protocol",
    "snmp_v3_auth_pass",
    "snmp_v3_priv_protocol",
    "snmp_v3_priv_pass",
)
# Free-form prefixes: lab_* (lab simulation hints), relais_* (network-wide settings).
FREE_PREFIXES = ("lab_", "relais_", "netdev_")


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _hint(word: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


class _Ctx:
    """Collects problems and knows the allowed variable names."""

    def __init__(self, root: Path, role_prefixes: tuple[str, ...]) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.role_prefixes = role_prefixes

    def add(self, file: str, line: int | None, field: str, value: object, msg: str) -> None:
        self.problems.append(Problem(file, line, field, value, msg))

    def var_allowed(self, key: str, scope: str) -> bool:
        if key.startswith("ansible_"):
            return key in ANSIBLE_KEYS
        if key.startswith("snmp_"):
            return key in SNMP_KEYS
        if scope == "host" and key.startswith("device_"):
            return key in DEVICE_KEYS
        if scope == "site" and key.startswith("site_"):
            return key in SITE_REQUIRED + SITE_OPTIONAL
        if key.startswith("vault_"):
            return scope == "vault"
        return key.startswith(FREE_PREFIXES + self.role_prefixes)

    def known_vars(self, scope: str) -> list[str]:
        names = list(ANSIBLE_KEYS + SNMP_KEYS)
        if scope == "host":
            names += DEVICE_KEYS
        if scope == "site":
            names += SITE_REQUIRED + SITE_OPTIONAL
        return names

    def check_vars(self, file: str, mapping: Mapping[str, Any], scope: str, where: str) -> None:
        for key, value in mapping.items():
            line = line_of(mapping, key)
            if not self.var_allowed(key, scope):
                hint = _hint(key, self.known_vars(scope))
                if not hint and scope != "host" and key.startswith("device_"):
                    hint = " (device_* variables belong to a host)"
                if not hint and key.startswith("vault_"):
                    hint = " (vault_* variables live only in the vault)"
                self.add(file, line, f"{where}{key}", value, f"unknown key {key!r}{hint}")
                continue
            if (
                SECRET_KEY.search(key)
                and isinstance(value, str)
                and value
                and not isinstance(value, VaultTagged)
                and not VAULT_REF.match(value)
            ):
                self.add(
                    file,
                    line,
                    f"{where}{key}",
                    "***",
                    "secret in clear: put it in the vault and write "
                    f"'{{{{ vault_{key} }}}}' here",
                )


# ------------------------------------------------------------------------- public API ---


def load_inventory(
    path: Path | None = None, *, vault_password: str | None = None, check_secrets: bool = True
) -> Inventory:
    """Load, validate and resolve the inventory; raise InventoryError with every problem."""
    root = Path(settings.get("inventory", path))
    if not root.is_dir():
        raise InventoryError([Problem(_rel(root), None, "", None, "inventory directory not found")])
    roles_dir = root.resolve().parent / "roles"
    role_prefixes = tuple(
        sorted(p.name + "_" for p in roles_dir.iterdir() if p.is_dir())
        if roles_dir.is_dir()
        else ()
    )
    ctx = _Ctx(root, role_prefixes)
    group_vars = _load_group_vars(ctx, root)
    secrets, demo = _load_vault(ctx, root, vault_password, check_secrets)
    sites: list[Site] = []
    site_files = sorted([*root.glob("sites/*.yml"), *root.glob("sites/*.yaml")])
    if not site_files:
        ctx.add(_rel(root / "sites"), None, "", None, "no site file (inventory/sites/*.yml)")
    for f in site_files:
        site = _load_site(ctx, f, group_vars, secrets)
        if site is not None:
            sites.append(site)
    _check_network(ctx, sites)
    if ctx.problems:
        raise InventoryError(ctx.problems)
    return Inventory(
        root=str(root), sites=tuple(sites), group_vars=group_vars, demo_vault=demo
    )


def resolve_vars(
    group_vars: Mapping[str, Mapping[str, Any]],
    groups: Iterable[str],
    host_vars: Mapping[str, Any],
) -> dict[str, Any]:
    """Ansible's precedence, for our flat layout: ``all`` < the host's groups (same depth, in
    alphabetical order, later wins) < the host's own variables.  Group vars given inline in a
    site file count as that group's vars."""
    merged: dict[str, Any] = dict(group_vars.get("all", {}))
    for g in sorted(set(groups)):
        merged.update(group_vars.get(g, {}))
    merged.update(host_vars)
    return merged


# ------------------------------------------------------------------------- group_vars ---


def _load_group_vars(ctx: _Ctx, root: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    gv = root / "group_vars"
    if not gv.is_dir():
        return out
    entries: list[tuple[str, Path]] = []
    for p in sorted(gv.iterdir()):
        if p.is_dir():
            entries += [(p.name, f) for f in sorted(p.glob("*.y*ml")) if f.name != "vault.yml"]
        elif p.suffix in (".yml", ".yaml"):
            entries.append((p.stem, p))
    for group, f in entries:
        display = _rel(f)
        if group != "all" and group not in KINDS and not group.startswith("site_"):
            ctx.add(
                display,
                None,
                "",
                group,
                f"group_vars for unknown group {group!r}{_hint(group, ('all', *KINDS))}",
            )
            continue
        data = load_yaml(f, display, ctx.problems)
        if data is None:
            continue
        if not isinstance(data, dict):
            ctx.add(display, 1, "", None, "group_vars file must be a mapping of variables")
            continue
        ctx.check_vars(display, data, "group", "")
        out.setdefault(group, {}).update(data)
    return out


def _load_vault(
    ctx: _Ctx, root: Path, password: str | None, check: bool
) -> tuple[dict[str, str], bool]:
    vault_path = root / VAULT_RELPATH
    display = _rel(vault_path)
    if not vault_path.is_file():
        if check:
            ctx.add(display, None, "", None, "vault file not found (secrets are required)")
        return {}, False
    try:
        if password is None:
            pw_file = settings.get("vault_password_file")
            password = password_from(Path(pw_file) if pw_file else default_password_file(root))
        plain = decrypt_vault(vault_path, password)
    except SecretError as exc:
        ctx.add(display, None, "", None, str(exc).removeprefix(f"{vault_path}: "))
        return {}, False
    data = load_yaml_text(plain, display, ctx.problems)
    if data is None:
        return {}, False
    if not isinstance(data, dict):
        ctx.add(display, None, "", None, "vault must be a mapping of vault_* variables")
        return {}, False
    secrets: dict[str, str] = {}
    for key, value in data.items():
        if not key.startswith("vault_"):
            ctx.add(display, line_of(data, key), key, "***", "vault variables must start with vault_")
        secrets[key] = "" if value is None else str(value)
    if check:
        for spec in REQUIRED_SECRETS:
            if not secrets.get(spec.name):
                ctx.add(
                    display,
                    None,
                    spec.name,
                    None,
                    f"required secret missing from the vault: {spec.description}",
                )
    return secrets, password == DEMO_VAULT_PASSWORD


# ------------------------------------------------------------------------------ sites ---


def _groups_of(ctx: _Ctx, display: str, data: Any) -> Mapping[str, Any] | None:
    if not isinstance(data, dict):
        ctx.add(display, 1, "", None, "site file must be an Ansible YAML inventory (a mapping)")
        return None
    if set(data) == {"all"} and isinstance(data["all"], dict):
        top = data["all"]
        extra = set(top) - {"children"}
        for key in sorted(extra):
            ctx.add(display, line_of(top, key), f"all.{key}", None,
                    "only 'children' is expected under 'all' in a site file")
        children = top.get("children")
        if not isinstance(children, dict):
            ctx.add(display, line_of(top), "all.children", None, "missing groups")
            return None
        return children
    return data


def _load_site(
    ctx: _Ctx, f: Path, group_vars: Mapping[str, Mapping[str, Any]], secrets: Mapping[str, str]
) -> Site | None:
    display = _rel(f)
    before = len(ctx.problems)
    data = load_yaml(f, display, ctx.problems)
    if data is None:
        if len(ctx.problems) == before:
            ctx.add(display, None, "", None, "empty site file")
        return None
    groups = _groups_of(ctx, display, data)
    if groups is None:
        return None
    site_groups = [g for g in groups if str(g).startswith("site_")]
    if len(site_groups) != 1:
        ctx.add(display, line_of(groups), "", site_groups,
                "a site file holds exactly one site group named site_<id>")
        return None
    sg_name = site_groups[0]
    sg = groups[sg_name]
    if not isinstance(sg, dict):
        ctx.add(display, line_of(groups, sg_name), sg_name, None, "site group must be a mapping")
        return None
    for key in sg:
        if key not in ("vars", "hosts"):
            ctx.add(display, line_of(sg, key), f"{sg_name}.{key}", None,
                    f"unexpected key {key!r} in site group (expected vars, hosts)")
    svars = sg.get("vars") or LinedDict()
    if not isinstance(svars, dict):
        ctx.add(display, line_of(sg, "vars"), f"{sg_name}.vars", None, "must be a mapping")
        return None
    ctx.check_vars(display, svars, "site", f"{sg_name}.vars.")

    # kind groups: membership only
    kind_of: dict[str, tuple[str, int | None]] = {}
    for gname, gbody in groups.items():
        if gname == sg_name:
            continue
        gline = line_of(groups, gname)
        if gname not in KINDS:
            ctx.add(display, gline, gname, gname,
                    f"unknown device kind {gname!r}{_hint(str(gname), KINDS)}; "
                    f"kinds are: {', '.join(KINDS)}")
            continue
        if not isinstance(gbody, dict) or not isinstance(gbody.get("hosts"), dict):
            ctx.add(display, gline, gname, None, "kind group must list its hosts under 'hosts'")
            continue
        for key in gbody:
            if key != "hosts":
                ctx.add(display, line_of(gbody, key), f"{gname}.{key}", None,
                        f"kind groups are shared by every site: put per-kind variables in "
                        f"inventory/group_vars/{gname}.yml and per-site ones in {sg_name}.vars")
        for host, hv in gbody["hosts"].items():
            hline = line_of(gbody["hosts"], host)
            if hv:
                ctx.add(display, hline, f"{gname}.hosts.{host}", None,
                        f"host variables belong under {sg_name}.hosts.{host}, not in the kind group")
            if host in kind_of:
                ctx.add(display, hline, f"{gname}.hosts.{host}", host,
                        f"host is in two kind groups ({kind_of[host][0]} and {gname})")
            kind_of[str(host)] = (str(gname), hline)

    site = _build_site(ctx, display, sg_name, svars, line_of(groups, sg_name))
    hosts = sg.get("hosts") or LinedDict()
    if not isinstance(hosts, dict):
        ctx.add(display, line_of(sg, "hosts"), f"{sg_name}.hosts", None, "must be a mapping")
        return None
    devices: list[Device] = []
    for host_key, raw_hv in hosts.items():
        hline = line_of(hosts, host_key)
        host = str(host_key)
        hv = raw_hv if raw_hv is not None else LinedDict()
        if not isinstance(hv, dict):
            ctx.add(display, hline, f"{sg_name}.hosts.{host}", hv, "host vars must be a mapping")
            continue
        if host not in kind_of:
            ctx.add(display, hline, f"{sg_name}.hosts.{host}", host,
                    f"host is in no kind group; add it under one of: {', '.join(KINDS)}")
            continue
        dev = _build_device(
            ctx, display, sg_name, host, hv, hline, kind_of[host][0], site, svars,
            group_vars, secrets,
        )
        if dev is not None:
            devices.append(dev)
    for host, (gname, hline) in kind_of.items():
        if host not in hosts:
            ctx.add(display, hline, f"{gname}.hosts.{host}", host,
                    f"host listed in kind group {gname} but not in site group {sg_name}")
    network, network_problems = network_of_site(ctx.root, site, devices, svars, group_vars, secrets)
    ctx.problems += network_problems
    if site is None or len(ctx.problems) > before:
        return None
    return site.model_copy(update={"devices": tuple(devices), "network": network})


def _req(ctx: _Ctx, display: str, where: str, m: Mapping[str, Any], key: str, line: int | None) -> Any:
    if key not in m or m[key] in (None, ""):
        ctx.add(display, line, f"{where}{key}", None, "required key missing")
        return None
    return m[key]


def _contact(ctx: _Ctx, display: str, field: str, raw: Any, line: int | None, model: type[Any]) -> Any:
    if not isinstance(raw, dict):
        ctx.add(display, line, field, raw, "must be a mapping (name, phone, email)")
        return None
    allowed = set(model.model_fields)
    for key in raw:
        if key not in allowed:
            ctx.add(display, line_of(raw, key), f"{field}.{key}", raw[key],
                    f"unknown key {key!r}{_hint(key, allowed)}")
    try:
        return model(**{k: str(v) for k, v in raw.items() if k in allowed})
    except ValidationError as exc:
        ctx.add(display, line, field, None, _pyd(exc))
        return None


def _pyd(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


_TZ_CACHE: list[set[str]] = []


def _timezones() -> set[str]:
    if not _TZ_CACHE:
        _TZ_CACHE.append(available_timezones())
    return _TZ_CACHE[0]


def _build_site(
    ctx: _Ctx, display: str, sg_name: str, v: Mapping[str, Any], gline: int | None
) -> Site | None:
    where = f"{sg_name}.vars."
    vline = line_of(v) or gline
    before = len(ctx.problems)
    for key in SITE_REQUIRED:
        _req(ctx, display, where, v, key, vline)
    if len(ctx.problems) > before:
        return None

    def L(key: str) -> int | None:
        return line_of(v, key)

    site_id = str(v["site_id"])
    if not SITE_ID.match(site_id):
        ctx.add(display, L("site_id"), where + "site_id", site_id,
                "site id must be lowercase letters, digits and '-' (2–32 characters)")
    elif site_group(site_id) != sg_name:
        ctx.add(display, L("site_id"), where + "site_id", site_id,
                f"site group must be named {site_group(site_id)!r} for this site id")
    try:
        kind = SiteKind(str(v["site_kind"]))
    except ValueError:
        kinds = [k.value for k in SiteKind]
        ctx.add(display, L("site_kind"), where + "site_kind", v["site_kind"],
                f"unknown site kind{_hint(str(v['site_kind']), kinds)}; kinds are: {', '.join(kinds)}")
        kind = None
    tzname = str(v["site_timezone"])
    try:
        if tzname not in _timezones():
            raise ZoneInfoNotFoundError(tzname)
        ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError):
        ctx.add(display, L("site_timezone"), where + "site_timezone", tzname,
                f"invalid timezone{_hint(tzname, _timezones())} (IANA name, e.g. Europe/Paris)")
        tzname = ""
    coords = v["site_coordinates"]
    coordinates = None
    if isinstance(coords, dict) and set(coords) == {"lat", "lon"}:
        try:
            coordinates = Coordinates(lat=float(coords["lat"]), lon=float(coords["lon"]))
        except (ValidationError, TypeError, ValueError):
            ctx.add(display, L("site_coordinates"), where + "site_coordinates", dict(coords),
                    "latitude must be within ±90 and longitude within ±180")
    else:
        ctx.add(display, L("site_coordinates"), where + "site_coordinates", coords,
                "must be a mapping {lat: .., lon: ..}")
    week = parse_week(v["site_opening_hours"], display, L("site_opening_hours"),
                      ctx.problems, where + "site_opening_hours")
    closures = _closures(ctx, display, where, v.get("site_closures"), L("site_closures"))
    nets = v["site_networks"]
    management = guest = None
    if not isinstance(nets, dict):
        ctx.add(display, L("site_networks"), where + "site_networks", nets,
                "must be a mapping {management: CIDR, guest: CIDR}")
    else:
        for key in nets:
            if key not in ("management", "guest"):
                ctx.add(display, line_of(nets, key), f"{where}site_networks.{key}", nets[key],
                        f"unknown network {key!r}{_hint(key, ('management', 'guest'))}")
        management = _subnet(ctx, display, where + "site_networks.management",
                             nets.get("management"), line_of(nets, "management"), required=True)
        guest = _subnet(ctx, display, where + "site_networks.guest", nets.get("guest"),
                        line_of(nets, "guest"), required=False)
        if management and guest and management.overlaps(guest):
            ctx.add(display, line_of(nets, "guest"), where + "site_networks.guest", str(guest),
                    f"guest network overlaps the management network {management}")
    referent = _contact(ctx, display, where + "site_referent", v["site_referent"],
                        L("site_referent"), Contact)
    sav = _contact(ctx, display, where + "site_sav", v["site_sav"], L("site_sav"), Supplier)
    pmi = v.get("site_pmi", False)
    if not isinstance(pmi, bool):
        ctx.add(display, L("site_pmi"), where + "site_pmi", pmi, "must be true or false")
        pmi = False
    if len(ctx.problems) > before or kind is None or coordinates is None or management is None:
        return None
    assert referent is not None and sav is not None
    return Site(
        id=site_id,
        name=str(v["site_name"]),
        kind=kind,
        address=str(v["site_address"]),
        commune=str(v["site_commune"]),
        postcode=str(v["site_postcode"]),
        coordinates=coordinates,
        timezone=tzname,
        hours=OpeningHours(timezone=tzname, week=week, closures=closures),
        pmi=pmi,
        management=management,
        guest=guest,
        referent=referent,
        sav=sav,
        vars=dict(v),
        source=Source(file=display, line=gline),
    )


def _closures(
    ctx: _Ctx, display: str, where: str, raw: Any, line: int | None
) -> tuple[Closure, ...]:
    if raw in (None, []):
        return ()
    field = where + "site_closures"
    if not isinstance(raw, list):
        ctx.add(display, line, field, raw, "must be a list of {date} or {from, to, reason}")
        return ()
    out: list[Closure] = []
    for i, item in enumerate(raw):
        iline = line_of(item) or line
        if not isinstance(item, dict):
            ctx.add(display, iline, f"{field}[{i}]", item, "must be {date: YYYY-MM-DD} or {from, to}")
            continue
        unknown = set(item) - {"date", "from", "to", "reason"}
        for key in sorted(unknown):
            ctx.add(display, line_of(item, key), f"{field}[{i}].{key}", item[key],
                    f"unknown key {key!r}{_hint(key, ('date', 'from', 'to', 'reason'))}")
        start = item.get("date", item.get("from"))
        end = item.get("date", item.get("to", start))
        try:
            d1 = start if isinstance(start, date) else date.fromisoformat(str(start))
            d2 = end if isinstance(end, date) else date.fromisoformat(str(end))
        except ValueError:
            ctx.add(display, iline, f"{field}[{i}]", start, "dates must be YYYY-MM-DD")
            continue
        if d2 < d1:
            ctx.add(display, iline, f"{field}[{i}]", f"{d1}..{d2}", "closure ends before it starts")
            continue
        out.append(Closure(start=d1.isoformat(), end=d2.isoformat(),
                           reason=str(item.get("reason", ""))))
    return tuple(out)


def _subnet(
    ctx: _Ctx, display: str, field: str, raw: Any, line: int | None, required: bool
) -> ipaddress.IPv4Network | None:
    if raw in (None, ""):
        if required:
            ctx.add(display, line, field, None, "required key missing")
        return None
    try:
        net = ipaddress.IPv4Network(str(raw), strict=True)
    except ValueError as exc:
        ctx.add(display, line, field, raw, f"not an IPv4 network in CIDR form: {exc}")
        return None
    if not net.is_private:
        ctx.add(display, line, field, raw, "must be a private network (RFC 1918)")
        return None
    if net.prefixlen > 29:
        ctx.add(display, line, field, raw, "network too small (at most /29)")
        return None
    return net


def _build_device(
    ctx: _Ctx,
    display: str,
    sg_name: str,
    host: str,
    hv: Mapping[str, Any],
    hline: int | None,
    kind_name: str,
    site: Site | None,
    svars: Mapping[str, Any],
    group_vars: Mapping[str, Mapping[str, Any]],
    secrets: Mapping[str, str],
) -> Device | None:
    where = f"{sg_name}.hosts.{host}."
    before = len(ctx.problems)
    if not HOSTNAME.match(host):
        ctx.add(display, hline, f"{sg_name}.hosts.{host}", host,
                "hostname must be lowercase letters, digits and '-' (a DNS label)")
    ctx.check_vars(display, hv, "host", where)
    raw_ip = hv.get("ansible_host")
    ip = None
    if raw_ip in (None, ""):
        ctx.add(display, hline, where + "ansible_host", None,
                "required key missing (the device's IPv4 address)")
    else:
        try:
            ip = ipaddress.IPv4Address(str(raw_ip))
        except ValueError:
            ctx.add(display, line_of(hv, "ansible_host"), where + "ansible_host", raw_ip,
                    f"{raw_ip!r} is not an IPv4 address")
    if ip is not None and site is not None:
        net = site.management
        if ip not in net:
            ctx.add(display, line_of(hv, "ansible_host"), where + "ansible_host", str(ip),
                    f"{ip} is outside the site's management network {net}")
        elif ip in (net.network_address, net.broadcast_address):
            ctx.add(display, line_of(hv, "ansible_host"), where + "ansible_host", str(ip),
                    f"{ip} is the network or broadcast address of {net}")
    kind = DeviceKind(kind_name)
    pmr = hv.get("device_pmr", False)
    if not isinstance(pmr, bool):
        ctx.add(display, line_of(hv, "device_pmr"), where + "device_pmr", pmr, "must be true or false")
        pmr = False
    elif pmr and kind not in (DeviceKind.PUBLIC_PC, DeviceKind.BORNE):
        ctx.add(display, line_of(hv, "device_pmr"), where + "device_pmr", pmr,
                f"only public PCs and bornes can be accessible stations, not a {kind.value}")
    mac = hv.get("device_mac")
    if mac is not None and not MAC.match(str(mac).lower()):
        ctx.add(display, line_of(hv, "device_mac"), where + "device_mac", mac,
                "not a MAC address (aa:bb:cc:dd:ee:ff)")
    if len(ctx.problems) > before or ip is None:
        return None
    merged = resolve_vars(
        {**group_vars, sg_name: {**group_vars.get(sg_name, {}), **svars}},
        ["all", kind_name, sg_name],
        hv,
    )
    snmp = _snmp(ctx, display, where, merged, secrets, hline)
    return Device(
        hostname=host,
        kind=kind,
        ip=ip,
        site_id=str(svars.get("site_id", sg_name)),
        pmr=pmr,
        model=None if hv.get("device_model") is None else str(hv["device_model"]),
        mac=None if mac is None else str(mac).lower(),
        snmp=snmp,
        vars={k: v for k, v in merged.items() if not k.startswith("vault_")},
        source=Source(file=display, line=hline),
    )


def _secret(value: Any, secrets: Mapping[str, str]) -> str | None:
    if value is None:
        return None
    text = str(value)
    m = VAULT_REF.match(text)
    if m:
        return secrets.get(m.group(1))
    return text


def _snmp(
    ctx: _Ctx,
    display: str,
    where: str,
    v: Mapping[str, Any],
    secrets: Mapping[str, str],
    line: int | None,
) -> SnmpCredentials | None:
    version = str(v.get("snmp_version", "") or "")
    if not version:
        return None
    if version not in ("2c", "3"):
        ctx.add(display, line, where + "snmp_version", version, "SNMP version must be '2c' or '3'")
        return None
    try:
        port = int(v.get("snmp_port", 161))
    except (TypeError, ValueError):
        ctx.add(display, line, where + "snmp_port", v.get("snmp_port"), "must be a port number")
        return None
    if version == "2c":
        community = _secret(v.get("snmp_community"), secrets)
        return SnmpCredentials(
            version="2c", community=SecretStr(community) if community else None, port=port
        )
    auth = _secret(v.get("snmp_v3_auth_pass"), secrets)
    priv = _secret(v.get("snmp_v3_priv_pass"), secrets)
    auth_proto = str(v.get("snmp_v3_auth_protocol", "SHA")).upper()
    priv_proto = str(v.get("snmp_v3_priv_protocol", "AES")).upper()
    if auth_proto not in ("SHA", "SHA256", "SHA512"):
        ctx.add(display, line, where + "snmp_v3_auth_protocol", auth_proto,
                "only SHA, SHA256 or SHA512 authentication is allowed")
    if priv_proto not in ("AES", "AES192", "AES256"):
        ctx.add(display, line, where + "snmp_v3_priv_protocol", priv_proto,
                "only AES privacy is allowed (authPriv)")
    return SnmpCredentials(
        version="3",
        user=_secret(v.get("snmp_v3_user"), secrets),
        auth_protocol=auth_proto,
        auth_key=SecretStr(auth) if auth else None,
        priv_protocol=priv_proto,
        priv_key=SecretStr(priv) if priv else None,
        port=port,
    )


# ------------------------------------------------------------------- network-wide checks ---


def _check_network(ctx: _Ctx, sites: list[Site]) -> None:
    seen_site: dict[str, Site] = {}
    seen_host: dict[str, Device] = {}
    seen_ip: dict[str, Device] = {}
    nets: list[tuple[ipaddress.IPv4Network, Site, str]] = []
    for s in sites:
        if s.id in seen_site:
            ctx.add(s.source.file, s.source.line, "site_id", s.id,
                    f"duplicate site id, also in {seen_site[s.id].source}")
        seen_site[s.id] = s
        for kind, net in (("management", s.management), ("guest", s.guest)):
            if net is None:
                continue
            for other_net, other, other_kind in nets:
                if net.overlaps(other_net):
                    nline = line_of(s.vars.get("site_networks"), kind) or s.source.line
                    ctx.add(s.source.file, nline, f"{s.group}.vars.site_networks.{kind}", str(net),
                            f"overlaps {other.id}'s {other_kind} network {other_net} "
                            f"({other.source.file})")
            nets.append((net, s, kind))
        for d in s.devices:
            if d.hostname in seen_host:
                o = seen_host[d.hostname]
                ctx.add(d.source.file, d.source.line, d.hostname, d.hostname,
                        f"duplicate hostname, also defined at {o.source}")
            else:
                seen_host[d.hostname] = d
            key = str(d.ip)
            if key in seen_ip:
                o = seen_ip[key]
                ctx.add(d.source.file, d.source.line, f"{d.hostname}.ansible_host", key,
                        f"duplicate IP address, also used by {o.hostname} at {o.source}")
            else:
                seen_ip[key] = d
            if s.guest is not None and d.ip in s.guest:
                ctx.add(d.source.file, d.source.line, f"{d.hostname}.ansible_host", key,
                        "device address is in the guest network")
