"""Load the inventory directory into frozen models.

Every problem of a run is collected (file, line, field, value, message) and raised together as
one :class:`~fleet.errors.InventoryError`; nothing half-valid is returned.

Layout (usable as-is by ``ansible-playbook -i inventory/``)::

    inventory/sites/<site>.yml        one site: group ``site_<id>`` (site vars + its hosts)
                                      and one kind group per device kind listing the hosts
    inventory/group_vars/all/*.yml    defaults for everything; vault.yml is the vault
    inventory/group_vars/<kind>.yml   per device kind
    vault-password                    (beside inventory/) prints the vault password, see
                                      fleet.inventory.secrets

This module keeps the Ansible layout (which files, which groups apply to a host and in which
order) and the checks that span several files (values a host gets through several files,
duplicate names and addresses, overlapping networks).  What one file may hold is said by
pydantic models, errors located by :func:`fleet.inventory.validate.validate_with_lines`: the
shape of a site file, its groups and the vault in :mod:`fleet.inventory.files`, each variable
in :mod:`fleet.inventory.variables`.  It builds no problem for the shape of one file
(``tests/inventory/test_loader.py`` checks).

Variable precedence is Ansible's, implemented once in :func:`precedence` and used by
:func:`resolve_vars` (raw values) and for the typed fields alike:
``all`` < groups of the same depth in alphabetical order < host.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from pydantic import BaseModel, SecretStr

from fleet import settings
from fleet.errors import InventoryError, Problem, SecretError
from fleet.inventory.models import (
    Contact,
    Coordinates,
    Device,
    DeviceKind,
    Inventory,
    NetdevAccess,
    OpeningHours,
    Site,
    SnmpCredentials,
    Source,
    Supplier,
)
from fleet.inventory.files import KINDS, SiteFile, SiteGroups, Vault
from fleet.inventory.network import network_of_site
from fleet.inventory.roles import load_role_specs
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
from fleet.inventory.validate import hint, validate_with_lines
from fleet.inventory.variables import (
    GUEST_ACCOUNT,
    GUEST_ACCOUNT_VARS,
    ContractModels,
    HostVars,
    NetworksVars,
    SiteVars,
    contract_models,
    host_addresses,
    resolve_typed,
)
from fleet.inventory.yamlsrc import LinedDict, line_of, load_yaml, load_yaml_text


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True)
class _Layer:
    """One place variables are written: its file, the mapping as written, and its typed view
    (None when it did not validate: its problems are already reported)."""

    display: str
    raw: Mapping[str, Any]
    typed: BaseModel | None


class _Ctx:
    """Collects problems; holds the contract models of this inventory's roles."""

    def __init__(self, root: Path, models: ContractModels) -> None:
        self.root = root
        self.models = models
        self.problems: list[Problem] = []
        self.timezones = frozenset(available_timezones())

    def add(self, file: str, line: int | None, field: str, value: object, msg: str) -> None:
        self.problems.append(Problem(file, line, field, value, msg))

    def validate(
        self,
        model: type[BaseModel],
        data: Any,
        display: str,
        where: str,
        context: Mapping[str, Any] | None = None,
        line: int | None = None,
    ) -> Any:
        """The validated model, or None with its problems recorded (secrets never shown)."""
        try:
            return validate_with_lines(model, data, display, where=where, context=context,
                                       line=line)
        except InventoryError as exc:
            for p in exc.problems:
                key = p.field.rsplit(".", 1)[-1]
                masked = p.value is not None and bool(SECRET_KEY.search(key)) and p.value != "***"
                self.problems.append(
                    Problem(p.file, p.line, p.field, "***" if masked else p.value, p.message))
            return None


# ------------------------------------------------------------------------- public API ---


def load_inventory(
    path: Path | None = None, *, vault_password: str | None = None, check_secrets: bool = True
) -> Inventory:
    """Load, validate and resolve the inventory; raise InventoryError with every problem."""
    root = Path(settings.get("inventory", path))
    if not root.is_dir():
        raise InventoryError([Problem(_rel(root), None, "", None, _missing_dir(root, path))])
    models = contract_models(load_role_specs(root.resolve().parent / "roles"))
    ctx = _Ctx(root, models)
    group_layers = _load_group_vars(ctx, root)
    secrets, demo = _load_vault(ctx, root, vault_password, check_secrets)
    sites: list[Site] = []
    site_files = sorted([*root.glob("sites/*.yml"), *root.glob("sites/*.yaml")])
    if not site_files:
        ctx.add(_rel(root / "sites"), None, "", None,
                "no site file (inventory/sites/*.yml): scaffold one with "
                "'fleet inventory new-site'")
    for f in site_files:
        site = _load_site(ctx, f, group_layers, secrets)
        if site is not None:
            sites.append(site)
    _check_network(ctx, sites)
    if ctx.problems:
        unique = {(p.file, p.line, p.field, p.message): p for p in reversed(ctx.problems)}
        raise InventoryError(list(reversed(unique.values())))
    group_vars = {g: _merged(layer.raw for layer in layers) for g, layers in group_layers.items()}
    return Inventory(root=str(root), sites=tuple(sites), group_vars=group_vars, demo_vault=demo)


def _missing_dir(root: Path, given: Path | None) -> str:
    if root.exists():
        what = f"{root} is not a directory"
    else:
        what = f"inventory directory not found: {root.resolve()}"
    if given is not None:
        origin = "given with -i/--inventory"
    elif os.environ.get("FLEET_INVENTORY"):
        origin = "from FLEET_INVENTORY"
    else:
        origin = f"the default ./inventory, relative to the current directory {Path.cwd()}"
    return (f"{what} ({origin}); give the inventory with -i DIR or FLEET_INVENTORY=DIR, "
            "or run from the directory that holds inventory/")


def precedence(groups: Iterable[str]) -> list[str]:
    """The order in which a host's groups apply (later wins), as Ansible does for groups of
    the same depth: ``all`` first, then the others in alphabetical order."""
    return ["all", *sorted(set(groups) - {"all"})]


def resolve_vars(
    group_vars: Mapping[str, Mapping[str, Any]],
    groups: Iterable[str],
    host_vars: Mapping[str, Any],
) -> dict[str, Any]:
    """Ansible's precedence, for our flat layout: ``all`` < the host's groups (same depth, in
    alphabetical order, later wins) < the host's own variables.  Group vars given inline in a
    site file count as that group's vars."""
    merged: dict[str, Any] = {}
    for g in precedence(groups):
        merged.update(group_vars.get(g, {}))
    merged.update(host_vars)
    return merged


def _merged(mappings: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in mappings:
        out.update(m)
    return out


# ------------------------------------------------------------------------- group_vars ---


def _load_group_vars(ctx: _Ctx, root: Path) -> dict[str, list[_Layer]]:
    out: dict[str, list[_Layer]] = {}
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
            ctx.add(display, None, "", group,
                    f"group_vars for unknown group {group!r}{hint(group, ('all', *KINDS))}")
            continue
        data = load_yaml(f, display, ctx.problems)
        if data is None:  # empty, or a YAML error (reported)
            continue
        typed = ctx.validate(ctx.models.group, data, display, "", line=1)
        if isinstance(data, Mapping):  # else nothing to merge (its problem is reported)
            out.setdefault(group, []).append(_Layer(display, data, typed))
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
    before = len(ctx.problems)
    data = load_yaml_text(plain, display, ctx.problems)
    if len(ctx.problems) > before:
        return {}, False
    vault: Vault | None = ctx.validate(Vault, data, display, "",
                                       {"required": REQUIRED_SECRETS if check else ()})
    secrets = dict(vault.secrets) if vault is not None else Vault.texts(data)
    return secrets, password == DEMO_VAULT_PASSWORD


# ------------------------------------------------------------------------------ sites ---


def _load_site(
    ctx: _Ctx, f: Path, group_layers: Mapping[str, list[_Layer]], secrets: Mapping[str, str]
) -> Site | None:
    display = _rel(f)
    before = len(ctx.problems)
    data = load_yaml(f, display, ctx.problems)
    if len(ctx.problems) > before:
        return None
    file: SiteFile | None = ctx.validate(SiteFile, data, display, "", line=1)
    if file is None:
        return None
    groups = file.groups
    layout: SiteGroups | None = ctx.validate(SiteGroups, groups, display, "", line=1)
    if layout is None:
        return None
    sg_name = layout.group
    sg, gline = groups[sg_name], line_of(groups, sg_name)
    svars = layout.site.vars or LinedDict.empty(line_of(sg, "vars") or gline)
    hosts = layout.site.hosts or LinedDict.empty(line_of(sg, "hosts") or gline)
    kind_of = layout.kind_of()

    context = {"group": sg_name, "hosts": hosts, "timezones": ctx.timezones, "root": ctx.root,
               "kinds": kind_of}
    site_vars: SiteVars | None = ctx.validate(ctx.models.site, svars, display,
                                              f"{sg_name}.vars.", context)
    nets = site_vars.site_networks if site_vars is not None else _quiet_networks(svars)
    addresses = host_addresses(hosts)
    suspect = (nets is not None and bool(addresses)
               and not any(ip in nets.management for ip in addresses.values()))
    site_layer = _Layer(display, svars, site_vars)

    devices: list[Device] = []
    for host_key, raw_hv in hosts.items():
        hline = line_of(hosts, host_key)
        host = str(host_key)
        hv = raw_hv if raw_hv is not None else LinedDict.empty(hline)
        kind = kind_of[host]
        hcontext = {"kind": kind, "management": nets.management if nets else None,
                    "guest": nets.guest if nets else None, "management_suspect": suspect,
                    "visio_origins": site_vars.site_visio_origins if site_vars else None}
        host_vars: HostVars | None = ctx.validate(ctx.models.host, hv, display,
                                                  f"{sg_name}.hosts.{host}.", hcontext, hline)
        if host_vars is None or site_vars is None:
            continue
        layers = _layers_of(group_layers, kind, sg_name, site_layer)
        dev = _build_device(ctx, display, host, hline, kind, site_vars, host_vars, hv, layers,
                            secrets)
        if dev is not None:
            devices.append(dev)
    if site_vars is None or len(ctx.problems) > before:
        return None
    site = _build_site(site_vars, svars, devices, display, gline)
    all_vars: dict[str, Any] = {}
    for layer in group_layers.get("all", []):
        all_vars.update(layer.raw)
    network, network_problems = network_of_site(ctx.root, site, devices, svars, {"all": all_vars},
                                                secrets)
    ctx.problems += network_problems
    if len(ctx.problems) > before:
        return None
    return site.model_copy(update={"network": network})


def _quiet_networks(svars: Mapping[str, Any]) -> NetworksVars | None:
    """The site's networks when the rest of its vars did not validate (for the host checks);
    their own problems are reported by the site's validation."""
    try:
        return NetworksVars.model_validate(svars.get("site_networks"))
    except ValueError:
        return None


def _layers_of(
    group_layers: Mapping[str, list[_Layer]], kind: str, sg_name: str, site_layer: _Layer
) -> list[_Layer]:
    layers: list[_Layer] = []
    for g in precedence([kind, sg_name]):
        layers += group_layers.get(g, [])
        if g == sg_name:
            layers.append(site_layer)
    return layers


def _build_site(
    v: SiteVars, raw: Mapping[str, Any], devices: list[Device], display: str, gline: int | None
) -> Site:
    c, nets = v.site_coordinates, v.site_networks
    return Site(
        id=v.site_id,
        name=v.site_name,
        kind=v.site_kind,
        address=v.site_address,
        commune=v.site_commune,
        postcode=v.site_postcode,
        coordinates=Coordinates(lat=c.lat, lon=c.lon),
        timezone=v.site_timezone,
        hours=OpeningHours(timezone=v.site_timezone, week=v.site_opening_hours.week(),
                           closures=v.closures()),
        pmi=v.site_pmi,
        management=nets.management,
        guest=nets.guest,
        referent=Contact(**v.site_referent.model_dump()),
        sav=Supplier(**v.site_sav.model_dump()),
        portal_url=v.site_portal_url,
        kiosk_allowlist=v.site_kiosk_allowlist,
        ntp_servers=v.site_ntp_servers,
        notes=v.site_notes,
        power=v.site_power,
        agenda=v.site_agenda,
        visio_origins=v.site_visio_origins,
        devices=tuple(devices),
        vars=dict(raw),
        source=Source(file=display, line=gline),
    )


def _build_device(
    ctx: _Ctx,
    display: str,
    host: str,
    hline: int | None,
    kind: str,
    site_vars: SiteVars,
    host_vars: HostVars,
    hv: Mapping[str, Any],
    layers: list[_Layer],
    secrets: Mapping[str, str],
) -> Device | None:
    typed = resolve_typed([*(layer.typed for layer in layers if layer.typed is not None),
                           host_vars])
    raw = _merged([*(layer.raw for layer in layers), hv])
    engine_read: dict[str, tuple[str, ...]] = {}
    for name in ("content_filter_extra_categories", "content_filter_allow"):
        value = typed.get(name)
        if isinstance(value, str):  # a Jinja expression: Relais cannot evaluate it
            origin = _origin(name, [*layers, _Layer(display, hv, host_vars)])
            ctx.add(origin[0], origin[1], name, value,
                    "Relais reads this variable itself: write the list, not a Jinja expression")
            return None
        engine_read[name] = tuple(str(x) for x in value or ())
    profile = typed.get("content_filter_profile")
    if profile is not None and profile not in ("standard", "pmi"):
        origin = _origin("content_filter_profile", [*layers, _Layer(display, hv, host_vars)])
        ctx.add(origin[0], origin[1], "content_filter_profile", profile,
                "Relais reads this variable itself: write standard or pmi")
        return None
    guest_user = _guest_account(ctx, kind, typed, [*layers, _Layer(display, hv, host_vars)])
    if guest_user is None:
        return None
    netdev = None
    if any(typed.get(k) for k in ("netdev_platform", "netdev_username", "netdev_password")):
        user = _secret(typed.get("netdev_username"), secrets)
        password = _secret(typed.get("netdev_password"), secrets)
        netdev = NetdevAccess(platform=typed.get("netdev_platform"),
                              username=SecretStr(user) if user else None,
                              password=SecretStr(password) if password else None)
    return Device(
        hostname=host,
        kind=DeviceKind(kind),
        ip=host_vars.ansible_host,
        site_id=site_vars.site_id,
        pmr=host_vars.device_pmr,
        model=host_vars.device_model,
        mac=host_vars.device_mac,
        serial=host_vars.device_serial,
        location=host_vars.device_location,
        snmp=_snmp(typed, secrets),
        admin_user=typed.get("ansible_user") or "relais",
        controller_networks=tuple(typed.get("relais_controller_networks") or ()),
        monitor_parent=host_vars.monitor_parent,
        lab_recording=typed.get("lab_recording"),
        content_filter_profile=profile,
        content_filter_extra_categories=engine_read["content_filter_extra_categories"],
        content_filter_allow=engine_read["content_filter_allow"],
        netdev=netdev,
        profile=host_vars.device_profile or "standard",
        guest_user=guest_user,
        vars={k: v for k, v in raw.items() if not k.startswith("vault_")},
        source=Source(file=display, line=hline),
    )


_ACCOUNT_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_JINJA_NAME = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


def _guest_account(
    ctx: _Ctx, kind: str, typed: Mapping[str, Any], layers: list[_Layer]
) -> str | None:
    """The host's guest account: ``hardening_guest_user`` as resolved (else the role's
    default); on a public PC or a borne every other variable naming that account
    (``GUEST_ACCOUNT_VARS``) must name the same one.  None with a problem recorded when not."""
    roles = ctx.models.roles
    names = GUEST_ACCOUNT_VARS.get(kind, (GUEST_ACCOUNT,))
    values: dict[str, tuple[str, bool]] = {}  # name → (account, set in the inventory)

    def value_of(name: str, depth: int = 0) -> tuple[str, bool] | None:
        given = name in typed
        value = typed[name] if given else roles.default(name)
        if value is None:
            return "guest", False  # no roles/ beside this inventory: Ansible's own default
        ref = _JINJA_NAME.fullmatch(str(value).strip())
        if ref and ref.group(1) in names and ref.group(1) != name and depth < len(names):
            resolved = value_of(ref.group(1), depth + 1)
            return None if resolved is None else (resolved[0], given)
        if not isinstance(value, str) or not _ACCOUNT_NAME.fullmatch(value):
            file, line = _origin(name, layers) if given else (f"roles/{roles.role_of(name)}/"
                                                              "defaults/main.yml", None)
            ctx.add(file, line, name, value,
                    "Relais reads this variable itself: write the account name (lowercase "
                    'letters, digits, _ or -), or "{{ ' + GUEST_ACCOUNT + ' }}"')
            return None
        return value, given

    for name in names:
        got = value_of(name)
        if got is None:
            return None
        values[name] = got
    account, account_given = values[GUEST_ACCOUNT]
    for name in names[1:]:
        other, given = values[name]
        if other == account:
            continue
        at = name if given or not account_given else GUEST_ACCOUNT
        file, line = _origin(at, layers)
        if not (given or account_given):  # the roles' own defaults disagree
            file = f"roles/{roles.role_of(name)}/defaults/main.yml"
        ctx.add(file, line, at, other if at == name else account,
                f"a {kind} has one guest account: {name} is {other!r}"
                f"{'' if given else ' (the role default)'} but {GUEST_ACCOUNT} is {account!r}"
                f"{'' if account_given else ' (the role default)'}; set {name} alike, or to "
                f'"{{{{ {GUEST_ACCOUNT} }}}}"')
        return None
    return account


def _origin(name: str, layers: list[_Layer]) -> tuple[str, int | None]:
    """The file and line where the value a host gets for ``name`` is written."""
    for layer in reversed(layers):
        if name in layer.raw:
            return layer.display, line_of(layer.raw, name)
    return "", None


def _secret(value: Any, secrets: Mapping[str, str]) -> str | None:
    if value is None:
        return None
    text = str(value)
    m = VAULT_REF.match(text)
    if m:
        return secrets.get(m.group(1))
    return text


def _snmp(v: Mapping[str, Any], secrets: Mapping[str, str]) -> SnmpCredentials | None:
    version = v.get("snmp_version")
    if not version:
        return None
    port = int(v.get("snmp_port") or 161)
    if version == "2c":
        community = _secret(v.get("snmp_community"), secrets)
        return SnmpCredentials(
            version="2c", community=SecretStr(community) if community else None, port=port
        )
    auth = _secret(v.get("snmp_v3_auth_pass"), secrets)
    priv = _secret(v.get("snmp_v3_priv_pass"), secrets)
    return SnmpCredentials(
        version="3",
        user=_secret(v.get("snmp_v3_user"), secrets),
        auth_protocol=str(v.get("snmp_v3_auth_protocol") or "SHA"),
        auth_key=SecretStr(auth) if auth else None,
        priv_protocol=str(v.get("snmp_v3_priv_protocol") or "AES"),
        priv_key=SecretStr(priv) if priv else None,
        port=port,
    )


# ------------------------------------------------------------------- network-wide checks ---


def _check_network(ctx: _Ctx, sites: list[Site]) -> None:
    seen_site: dict[str, Site] = {}
    seen_host: dict[str, Device] = {}
    seen_ip: dict[str, Device] = {}
    for s in sites:
        if s.id in seen_site:
            ctx.add(s.source.file, s.source.line, "site_id", s.id,
                    f"duplicate site id, also in {seen_site[s.id].source}")
        seen_site[s.id] = s
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
                if o.site_id != s.id and _networks_overlap(seen_site.get(o.site_id), s):
                    continue  # the overlap of the two networks is the one problem reported
                ctx.add(d.source.file, d.source.line, f"{d.hostname}.ansible_host", key,
                        f"duplicate IP address, also used by {o.hostname} at {o.source}")
            else:
                seen_ip[key] = d
    _check_overlaps(ctx, sites)


def _networks_overlap(a: Site | None, b: Site) -> bool:
    return a is not None and a.management.overlaps(b.management)


def _check_overlaps(ctx: _Ctx, sites: list[Site]) -> None:
    """Networks of different sites must not overlap.  Each conflict is reported once, in the
    file that causes it: the network that overlaps the most others is blamed first (one
    network written /8 instead of /24 is one problem, not one per other site); between two
    networks that only overlap each other, the one read second."""
    nets: list[tuple[ipaddress.IPv4Network, Site, str]] = [
        (net, s, kind)
        for s in sites
        for kind, net in (("management", s.management), ("guest", s.guest))
        if net is not None
    ]
    edges: dict[int, set[int]] = {i: set() for i in range(len(nets))}
    for i, (a, sa, _ka) in enumerate(nets):
        for j in range(i + 1, len(nets)):
            b, sb, _kb = nets[j]
            if sa.id != sb.id and a.overlaps(b):
                edges[i].add(j)
                edges[j].add(i)
    while any(edges.values()):
        culprit = max(edges, key=lambda i: (len(edges[i]), i))
        net, site, kind = nets[culprit]
        others = sorted(edges[culprit])
        described = [f"{nets[o][1].id}'s {nets[o][2]} network {nets[o][0]} "
                     f"({nets[o][1].source.file})" for o in others[:3]]
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        nline = line_of(site.vars.get("site_networks"), kind) or site.source.line
        ctx.add(site.source.file, nline, f"{site.group}.vars.site_networks.{kind}", str(net),
                f"overlaps {', '.join(described)}{more}")
        for o in others:
            edges[o].discard(culprit)
        edges[culprit] = set()
