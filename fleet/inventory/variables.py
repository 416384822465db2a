"""The inventory contract: every variable an inventory file may hold, typed and checked.

One pydantic model per place a variable can be written, mirroring the YAML, so that
:func:`fleet.inventory.validate.validate_with_lines` reports each error at its own line:

* :class:`SiteVars` — a site group's ``vars`` (every ``site_*`` key and the common ones);
* :class:`HostVars` — a host's own variables (``ansible_host``, ``device_*``,
  ``monitor_parent`` and the common ones);
* :class:`GroupVars` — a ``group_vars`` file (the common ones only);
* the common ones, :class:`CommonVars`: ``ansible_*`` connection settings, ``snmp_*``,
  ``relais_*`` network-wide settings, ``netdev_*``, ``lab_recording``, and every variable a
  role declares in its ``meta/argument_specs.yml`` (:mod:`fleet.inventory.roles`), typed as
  declared.

Anything else is an unknown key, with a suggestion.  :func:`contract_models` builds the three
models for a ``roles/`` directory (the role variables are fields, so a misspelt role variable
is reported like any other).  :data:`TYPED` says which model field carries each variable the
engine or the roles read (``tests/inventory/test_contract.py`` derives those names from the
roles and checks this table).

The checks that used to be written by hand in the loader live here as validators; the loader
keeps the Ansible layout (groups, kind groups) and the checks across files.
"""

from __future__ import annotations

from types import MappingProxyType

import ipaddress
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from itertools import pairwise
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
    field_validator,
    model_validator,
)

from fleet.inventory.hours import DAY_NAMES_FR, parse_range
from fleet.inventory.models import (
    WEEKDAYS,
    Closure,
    DeviceProfile,
    OpeningRange,
    SiteKind,
    site_group,
)
from fleet.inventory.power import SitePower
from fleet.inventory.roles import RoleSpecs
from fleet.inventory.secrets import SECRET_KEY, VAULT_REF
from fleet.errors import FieldError
from fleet.inventory.validate import describe, hint
from fleet.inventory.yamlsrc import VaultTagged

SITE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$")
HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
POSTCODE = re.compile(r"^[0-9]{5}$")


# ------------------------------------------------------------------------ value types ----


def _text(value: object) -> str:
    """A YAML text; a number, boolean or date that YAML made of an unquoted value is refused
    with the reason (``01000`` is read as the number 512, ``no`` as false)."""
    if isinstance(value, str):
        return str(value)
    why = ""
    if isinstance(value, bool):
        why = " (YAML reads yes/no/on/off/true/false unquoted as a boolean)"
    elif isinstance(value, int | float):
        why = " (unquoted, YAML reads it as a number: 01000 becomes 512, 0466 becomes 310)"
    elif isinstance(value, date):
        why = " (unquoted, YAML reads YYYY-MM-DD as a date)"
    raise ValueError(f"must be a text in quotes, not {describe(value)}{why}")


def _nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if any(c in value for c in "\x00\r\n"):
        raise ValueError("must be one line of text")
    return value


def _site_id(value: str) -> str:
    if not SITE_ID.match(value):
        raise ValueError("site id must be lowercase letters, digits and '-' (2–32 characters)")
    return value


def check_hostname(value: str) -> str:
    if not HOSTNAME.match(value):
        raise ValueError("hostname must be lowercase letters, digits and '-' (a DNS label)")
    return value


def _postcode(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f"postcode must be a text in quotes like \"48400\", not the number {value} "
            "(unquoted, YAML reads 01000 as 512 and drops leading zeros)")
    text = _text(value)
    if not POSTCODE.match(text):
        raise ValueError(f"postcode {text!r} is not 5 digits (quoted, e.g. \"01000\")")
    return text


def _timezone(value: str, info: ValidationInfo) -> str:
    """An IANA timezone name.  The loader passes ``timezones`` (the known names, read once per
    load) in the validation context; without it they are read here."""
    zones = (info.context or {}).get("timezones") or available_timezones()
    try:
        if value not in zones:
            raise ZoneInfoNotFoundError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"invalid timezone{hint(value, zones)} "
                         "(IANA name, e.g. Europe/Paris)") from None
    return value


def _network(value: object) -> ipaddress.IPv4Network:
    if isinstance(value, ipaddress.IPv4Network):
        return value
    text = _text(value)
    try:
        return ipaddress.IPv4Network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"not an IPv4 network in CIDR form: {exc}") from None


def _private_network(value: object) -> ipaddress.IPv4Network:
    net = _network(value)
    if not net.is_private:
        raise ValueError("must be a private network (RFC 1918)")
    if net.prefixlen > 29:
        raise ValueError("network too small (at most /29)")
    return net


def _ipv4(value: object) -> ipaddress.IPv4Address:
    if isinstance(value, ipaddress.IPv4Address):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"{value!r} is not an IPv4 address")
    text = _text(value)
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv4 address") from None


def _mac(value: str) -> str:
    if not MAC.match(value.lower()):
        raise ValueError("not a MAC address (aa:bb:cc:dd:ee:ff)")
    return value.lower()


def _url(value: str) -> str:
    if not re.match(r"^https?://[^\s/:]+(:\d+)?(/\S*)?$", value):
        raise ValueError("must be a web address starting with https:// (or http://)")
    return value


def _origin(value: str) -> str:
    """A web origin: scheme and host (and port), no path: ``https://visio.caf.fr``."""
    if not re.match(r"^https://[a-z0-9.-]+(:\d+)?/?$", value.lower()):
        raise ValueError("must be a web origin like https://visio.example.fr (https, no path)")
    return value.lower().rstrip("/")


def _agenda(value: str, info: ValidationInfo) -> str:
    """``site_agenda``: an ``http(s)://`` feed address, or an ``.ics`` file relative to the
    inventory directory (which must exist when the loader gives the directory)."""
    if re.match(r"^[a-z]+://", value):
        return _url(value)
    if value.startswith("/") or ".." in value.split("/") or not value.endswith(".ics"):
        raise ValueError("must be a feed address (https://…) or an .ics file relative to the "
                         "inventory directory, e.g. group_vars/site_florac_fs/semainier.ics")
    root = (info.context or {}).get("root")
    if root is not None and not (root / value).is_file():
        raise ValueError(f"agenda file not found: {value} (relative to the inventory "
                         f"directory {root})")
    return value


def _as_list(value: object) -> object:
    """A single text where a list is expected becomes a one-item list."""
    return [value] if isinstance(value, str) else value


def _number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, not {describe(value)}")
    return value


Text = Annotated[str, BeforeValidator(_text)]
Name = Annotated[str, BeforeValidator(_text), AfterValidator(_nonempty)]
SiteId = Annotated[str, BeforeValidator(_text), AfterValidator(_site_id)]
Hostname = Annotated[str, BeforeValidator(_text), AfterValidator(check_hostname)]
Postcode = Annotated[str, BeforeValidator(_postcode)]
Timezone = Annotated[str, BeforeValidator(_text), AfterValidator(_timezone)]
Network = Annotated[ipaddress.IPv4Network, BeforeValidator(_network)]
PrivateNetwork = Annotated[ipaddress.IPv4Network, BeforeValidator(_private_network)]
IPv4 = Annotated[ipaddress.IPv4Address, BeforeValidator(_ipv4)]
Mac = Annotated[str, BeforeValidator(_text), AfterValidator(_mac)]
Url = Annotated[str, BeforeValidator(_text), AfterValidator(_url)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
NonEmptyTexts = Annotated[tuple[Name, ...], Field(min_length=1)]
Origin = Annotated[str, BeforeValidator(_text), AfterValidator(_origin)]
Agenda = Annotated[str, BeforeValidator(_text), AfterValidator(_agenda)]


class Vars(BaseModel):
    """Base of the input models: frozen, unknown keys refused (with a suggestion)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    HINTS: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def unknown_key_hint(cls, key: str) -> str:
        """A hint for an unknown key that has no close match (where does it belong?)."""
        return ""


# --------------------------------------------------------------------- site structure ----


def _day_items(value: object) -> object:
    if value is None or value == "closed":
        return []
    return [value] if isinstance(value, str) else value


def _range(value: object) -> OpeningRange:
    if isinstance(value, OpeningRange):
        return value
    return parse_range(value)


def _no_overlap(ranges: tuple[OpeningRange, ...]) -> tuple[OpeningRange, ...]:
    ordered = tuple(sorted(ranges, key=lambda r: r.start))
    for prev, cur in pairwise(ordered):
        if cur.start < prev.end:
            raise ValueError(f"opening ranges {prev} and {cur} overlap")
    return ordered


DayRanges = Annotated[
    tuple[Annotated[OpeningRange, BeforeValidator(_range)], ...],
    BeforeValidator(_day_items),
    AfterValidator(_no_overlap),
]


class WeekVars(Vars):
    """``site_opening_hours``: weekday (mon..sun) → quoted ranges ``"HH:MM-HH:MM"``."""

    HINTS: ClassVar[Mapping[str, str]] = dict(zip(DAY_NAMES_FR, WEEKDAYS, strict=True))

    mon: DayRanges = ()
    tue: DayRanges = ()
    wed: DayRanges = ()
    thu: DayRanges = ()
    fri: DayRanges = ()
    sat: DayRanges = ()
    sun: DayRanges = ()

    @model_validator(mode="before")
    @classmethod
    def _lowercase_days(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and all(isinstance(k, str) for k in data):
            lowered = {str(k).lower(): k for k in data}
            if len(lowered) == len(data) and any(k != v for k, v in lowered.items()):
                return _renamed(data, {v: k for k, v in lowered.items()})
        return data

    @model_validator(mode="after")
    def _midnight(self) -> WeekVars:
        errors = []
        for i, day in enumerate(WEEKDAYS):
            nxt = WEEKDAYS[(i + 1) % 7]
            following = getattr(self, nxt)
            for r in getattr(self, day):
                if r.end > 1440 and following and following[0].start < r.end - 1440:
                    errors.append(((day,), f"range {r} crosses midnight into {nxt} and "
                                           f"overlaps {nxt}'s {following[0]}", str(r)))
        if errors:
            raise FieldError.many(errors)
        return self

    def week(self) -> dict[str, tuple[OpeningRange, ...]]:
        return {d: getattr(self, d) for d in WEEKDAYS}


def _renamed(data: Mapping[Any, Any], names: Mapping[Any, str]) -> Any:
    """The mapping with keys renamed, keeping the line of each key (a LinedDict stays one)."""
    from fleet.inventory.yamlsrc import LinedDict

    out = LinedDict.empty(getattr(data, "line", 0))
    for key, value in data.items():
        new = names.get(key, key)
        out[new] = value
        if isinstance(data, LinedDict):
            out.key_lines[new] = data.line_of(key)
    return out


def _closure_date(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"must be a date YYYY-MM-DD without a time, not {value}")
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be a date YYYY-MM-DD, not {describe(value)}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
            raise ValueError(f"impossible date {value.strip()!r} ({exc})") from None
        raise ValueError(f"{value!r} is not a date YYYY-MM-DD") from None


ClosureDate = Annotated[date, BeforeValidator(_closure_date)]


class ClosureVars(Vars):
    """One item of ``site_closures``: ``{date: …}`` or ``{from: …, to: …}``, with a reason."""

    date_: ClosureDate | None = Field(None, alias="date")
    from_: ClosureDate | None = Field(None, alias="from")
    to: ClosureDate | None = None
    reason: Text = ""

    @model_validator(mode="after")
    def _span(self) -> ClosureVars:
        if self.date_ is not None and (self.from_ is not None or self.to is not None):
            raise FieldError(("date",), "write either date, or from and to — not both")
        if self.date_ is None and self.from_ is None:
            raise ValueError("needs date: YYYY-MM-DD, or from: and to:")
        if self.from_ is not None and self.to is not None and self.to < self.from_:
            raise FieldError(("to",), f"closure ends ({self.to}) before it starts "
                                      f"({self.from_})", str(self.to))
        return self

    def closure(self) -> Closure:
        start = self.date_ or self.from_
        assert start is not None
        end = self.date_ or self.to or start
        return Closure(start=start.isoformat(), end=end.isoformat(), reason=self.reason)


class NetworksVars(Vars):
    """``site_networks``: the management network (devices) and the guest network (wifi)."""

    management: PrivateNetwork
    guest: PrivateNetwork | None = None

    @model_validator(mode="after")
    def _apart(self) -> NetworksVars:
        if self.guest is not None and self.management.overlaps(self.guest):
            raise FieldError(("guest",), f"guest network overlaps the management network "
                                         f"{self.management}", str(self.guest))
        return self


def _between(low: float, high: float, what: str) -> AfterValidator:
    def check(value: float) -> float:
        if not low <= value <= high or value != value:  # value != value: NaN
            raise ValueError(f"{what} must be between {low:g} and {high:g} (WGS84 degrees)")
        return value

    return AfterValidator(check)


class CoordinatesVars(Vars):
    lat: Annotated[float, BeforeValidator(_number), _between(-90, 90, "latitude")]
    lon: Annotated[float, BeforeValidator(_number), _between(-180, 180, "longitude")]


class ContactVars(Vars):
    name: Name
    phone: Text = ""
    email: Text = ""


class SupplierVars(ContactVars):
    contract: Text = ""


# ------------------------------------------------------------------ kiosk_procedures ----

PROCEDURE_ICONS: tuple[str, ...] = (
    "voiture", "famille", "sante", "impots", "emploi", "retraite", "logement", "identite",
    "droits", "courrier", "aide", "agriculture",
)
"""Icons of the borne's start page tiles (``roles/kiosk_startpage/files/icons/<name>.svg``)."""
TILE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


def _tile_id(value: str) -> str:
    if not TILE_ID.match(value):
        raise ValueError("tile id must be lowercase letters, digits and '-' (it names the "
                         "tile's counter)")
    return value


def _short(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"too long for a tile ({len(value)} characters, at most {limit}): "
                             "plain, short words read at arm's length")
        return value

    return AfterValidator(check)


class ProcedureVars(Vars):
    """One tile of the borne's start page (``kiosk_procedures``)."""

    id: Annotated[str, BeforeValidator(_text), AfterValidator(_tile_id)]
    title: Annotated[Name, _short(40)]
    help: Annotated[Text, _short(90)] = ""
    url: Url
    icon: Literal[PROCEDURE_ICONS] = "aide"  # type: ignore[valid-type]


def _jinja_or(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """A Jinja expression is Ansible's business; anything else is validated."""
    if isinstance(value, str) and "{{" in value:
        return value
    return handler(value)


def _unique_tiles(tiles: tuple[ProcedureVars, ...]) -> tuple[ProcedureVars, ...]:
    seen: set[str] = set()
    for i, tile in enumerate(tiles):
        if tile.id in seen:
            raise FieldError((i, "id"), f"duplicate tile id {tile.id!r} (each tile has its own "
                                        "counter)", tile.id)
        seen.add(tile.id)
    return tiles


Procedures = Annotated[tuple[ProcedureVars, ...], AfterValidator(_unique_tiles)]
ENGINE_TYPED: Mapping[str, Any] = MappingProxyType({
    "kiosk_procedures": Annotated[Procedures, WrapValidator(_jinja_or)],
})
"""Role variables the engine types itself, beyond their argument specs (a tile's fields)."""


# ----------------------------------------------------------------------- common vars ----


def _vault_ref_only(value: object, info: ValidationInfo) -> object:
    """A key that looks like a secret refers to the vault; a literal is refused (never shown)."""
    if (isinstance(value, str) and value and not isinstance(value, VaultTagged)
            and not VAULT_REF.match(value)):
        key = info.field_name or "x"
        raise FieldError((), "secret in clear: put it in the vault and write "
                             f"'{{{{ vault_{key} }}}}' here", "***")
    return value


Secret = Annotated[str, BeforeValidator(_text), AfterValidator(_vault_ref_only)] | None


def _snmp_version(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _auth(value: str) -> str:
    if value not in ("SHA", "SHA256", "SHA512"):
        raise ValueError("only SHA, SHA256 or SHA512 authentication is allowed")
    return value


def _priv(value: str) -> str:
    if value not in ("AES", "AES192", "AES256"):
        raise ValueError("only AES privacy is allowed (authPriv)")
    return value


ENGINE_PREFIXES = ("ansible_", "snmp_", "relais_", "netdev_", "lab_", "monitor_")
"""Prefixes whose variables the engine itself declares (closed sets, below)."""


class CommonVars(Vars):
    """Variables allowed anywhere: ``group_vars``, a site's vars, a host's vars."""

    WHOLE: ClassVar[str] = "variables"
    """What the whole mapping is, for the error when it is not one."""

    @model_validator(mode="before")
    @classmethod
    def _whole(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.WHOLE} must be a mapping of variables (key: value lines), "
                             f"not {describe(data)}")
        return data

    ansible_port: Port | None = None
    ansible_user: Name | None = None
    ansible_become: StrictBool | None = None
    ansible_become_user: Name | None = None
    ansible_become_method: Name | None = None
    ansible_python_interpreter: Name | None = None
    ansible_connection: Name | None = None
    ansible_ssh_common_args: Text | None = None
    ansible_ssh_private_key_file: Name | None = None
    ansible_network_os: Name | None = None

    snmp_version: Annotated[Literal["2c", "3"], BeforeValidator(_snmp_version)] | None = None
    snmp_port: Port | None = None
    snmp_community: Secret = None
    snmp_v3_user: Annotated[Text, AfterValidator(_nonempty)] | None = None
    snmp_v3_auth_protocol: Annotated[str, BeforeValidator(_text), BeforeValidator(_upper),
                                     AfterValidator(_auth)] | None = None
    snmp_v3_auth_pass: Secret = None
    snmp_v3_priv_protocol: Annotated[str, BeforeValidator(_text), BeforeValidator(_upper),
                                     AfterValidator(_priv)] | None = None
    snmp_v3_priv_pass: Secret = None

    relais_controller_networks: Annotated[tuple[Network, ...],
                                          BeforeValidator(_as_list)] | None = None
    relais_portal_secret: Secret = None
    relais_grub_password_pbkdf2: Secret = None

    netdev_platform: Name | None = None
    netdev_username: Name | None = None
    netdev_password: Secret = None

    lab_recording: Name | None = None

    @classmethod
    def unknown_key_hint(cls, key: str) -> str:
        if key.startswith("device_"):
            return " (device_* variables belong to a host)"
        if key.startswith("vault_"):
            return " (vault_* variables live only in the vault)"
        if key.startswith("site_"):
            return " (site_* variables belong in a site group's vars)"
        if key.startswith("monitor_"):
            return " (monitor_* variables belong to a host)"
        if key.startswith("ansible_host"):
            return " (ansible_host belongs to a host)"
        return ""


class GroupVars(CommonVars):
    """A ``group_vars`` file."""

    WHOLE: ClassVar[str] = "group_vars file"

    # the intended network of the sites (inventory/group_vars/all/netdev.yml): checked, with
    # the file and line of each value, by fleet/inventory/network.py when the site is built
    netdev_defaults: Any = None
    netdev_site_kinds: Any = None


class SiteVars(CommonVars):
    """A site group's ``vars``: the site itself."""

    WHOLE: ClassVar[str] = "site vars"

    site_id: SiteId
    site_name: Name
    site_kind: SiteKind
    site_address: Name
    site_commune: Name
    site_postcode: Postcode
    site_coordinates: CoordinatesVars
    site_timezone: Timezone
    site_opening_hours: WeekVars
    site_networks: NetworksVars
    site_referent: ContactVars
    site_sav: SupplierVars
    site_closures: Annotated[tuple[ClosureVars, ...], BeforeValidator(
        lambda v: [] if v is None else v)] = ()
    site_pmi: StrictBool = False
    site_portal_url: Url | None = None
    site_kiosk_allowlist: NonEmptyTexts | None = None
    site_ntp_servers: NonEmptyTexts | None = None
    site_notes: Text = ""
    site_power: SitePower | None = None
    netdev_site: Any = None
    """Checked by fleet/inventory/network.py (the site's VLANs, ports, services)."""
    site_agenda: Agenda | None = None
    site_visio_origins: Annotated[tuple[Origin, ...], BeforeValidator(_as_list)] = ()

    @field_validator("site_kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> object:
        kinds = [k.value for k in SiteKind]
        if value not in kinds:
            raise ValueError(f"unknown site kind{hint(str(value), kinds)}; "
                             f"kinds are: {', '.join(kinds)}")
        return value

    @field_validator("site_id")
    @classmethod
    def _group(cls, value: str, info: ValidationInfo) -> str:
        group = (info.context or {}).get("group")
        if group is not None and site_group(value) != group:
            raise ValueError(f"site group must be named {site_group(value)!r} for this site id")
        return value

    @field_validator("site_networks")
    @classmethod
    def _devices_fit(cls, nets: NetworksVars, info: ValidationInfo) -> NetworksVars:
        ctx = info.context or {}
        kinds: Mapping[str, str] = ctx.get("kinds", {})
        gateways = sorted(h for h, k in kinds.items() if k == "gateway")
        errors: list[tuple[tuple[str | int, ...], str, object]] = []
        if gateways and nets.guest is None:
            errors.append((("guest",), f"the site has a gateway ({', '.join(gateways)}): "
                                       "it needs a guest network (guest: CIDR) for its public "
                                       "wifi", None))
        addresses = host_addresses(ctx.get("hosts", {}))
        if addresses and not any(ip in nets.management for ip in addresses.values()):
            errors.append((("management",),
                           f"none of the site's {len(addresses)} device addresses is in the "
                           f"management network {nets.management} (e.g. "
                           f"{next(iter(addresses))} {next(iter(addresses.values()))}): is "
                           "the network wrong, or every address?", str(nets.management)))
        if errors:
            raise FieldError.many(errors)
        return nets

    @classmethod
    def unknown_key_hint(cls, key: str) -> str:
        return "" if key.startswith("site_") else super().unknown_key_hint(key)

    def closures(self) -> tuple[Closure, ...]:
        return tuple(c.closure() for c in self.site_closures)


def host_addresses(hosts: Mapping[str, Any]) -> dict[str, ipaddress.IPv4Address]:
    """hostname → ansible_host, for the hosts whose address is a valid IPv4 address."""
    out: dict[str, ipaddress.IPv4Address] = {}
    for host, hv in hosts.items():
        raw = hv.get("ansible_host") if isinstance(hv, Mapping) else None
        if isinstance(raw, str):
            try:
                out[str(host)] = ipaddress.IPv4Address(raw)
            except ValueError:
                continue
    return out


class HostVars(CommonVars):
    """A host's own variables (under ``site_<id>.hosts.<hostname>``).

    Context (from the loader): ``kind`` of the host, the site's ``management`` and ``guest``
    networks, and ``management_suspect`` when no device of the site fits its management
    network (then that is reported once, on the network, not on every device)."""

    WHOLE: ClassVar[str] = "host vars"

    ansible_host: IPv4
    device_pmr: StrictBool = False
    device_model: Name | None = None
    device_mac: Mac | None = None
    device_serial: Name | None = None
    device_location: Name | None = None
    monitor_parent: Annotated[tuple[Hostname, ...], BeforeValidator(_as_list)] = ()
    netdev_ports: Any = None
    """A switch's own ports: checked by fleet/inventory/network.py."""
    device_profile: DeviceProfile | None = None

    @field_validator("ansible_host")
    @classmethod
    def _in_site(cls, ip: ipaddress.IPv4Address, info: ValidationInfo) -> ipaddress.IPv4Address:
        ctx = info.context or {}
        net: ipaddress.IPv4Network | None = ctx.get("management")
        guest: ipaddress.IPv4Network | None = ctx.get("guest")
        if net is not None and not ctx.get("management_suspect"):
            if ip not in net:
                raise ValueError(f"{ip} is outside the site's management network {net}")
            if ip in (net.network_address, net.broadcast_address):
                raise ValueError(f"{ip} is the network or broadcast address of {net}")
        if guest is not None and ip in guest:
            raise ValueError(f"{ip} is in the site's guest network {guest}: devices live in "
                             "the management network")
        return ip

    @field_validator("device_pmr")
    @classmethod
    def _pmr_kind(cls, pmr: bool, info: ValidationInfo) -> bool:
        kind = (info.context or {}).get("kind")
        if pmr and kind is not None and kind not in ("public_pc", "borne"):
            raise ValueError(f"only public PCs and bornes can be accessible stations, "
                             f"not a {kind}")
        return pmr

    @field_validator("device_profile")
    @classmethod
    def _profile_kind(cls, profile: str | None, info: ValidationInfo) -> str | None:
        ctx = info.context or {}
        kind = ctx.get("kind")
        if profile is not None and kind is not None and kind != "borne":
            raise ValueError(f"only a borne has a profile (standard or visio), not a {kind}")
        if profile == "visio" and ctx.get("visio_origins") == ():
            raise ValueError("a visio borne needs the site's visio origins: list them in "
                             "site_visio_origins (e.g. [https://visio.caf.fr])")
        return profile

    @classmethod
    def unknown_key_hint(cls, key: str) -> str:
        if key.startswith(("device_", "monitor_", "ansible_host")):
            return ""
        return super().unknown_key_hint(key)


# ------------------------------------------------------------- with the roles' variables ----


class ContractModels(BaseModel):
    """The three input models for one ``roles/`` directory (its variables are fields)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    group: type[GroupVars]
    site: type[SiteVars]
    host: type[HostVars]
    roles: RoleSpecs


def contract_models(roles: RoleSpecs) -> ContractModels:
    """:class:`GroupVars`, :class:`SiteVars` and :class:`HostVars` extended with every
    variable the roles declare, each checked against its declared type."""
    fields: dict[str, Any] = {}
    for name in roles.names():
        var = roles.get(name)
        assert var is not None
        if name in ENGINE_TYPED:
            fields[name] = (ENGINE_TYPED[name] | None, None)
            continue
        checks: list[Any] = [BeforeValidator(var.check)]
        if SECRET_KEY.search(name):
            checks.append(AfterValidator(_vault_ref_only))
        fields[name] = (Annotated[Any, *checks], None)

    def extend(base: type[Vars]) -> Any:
        return create_model(base.__name__, __base__=base, **fields) if fields else base

    return ContractModels(group=extend(GroupVars), site=extend(SiteVars),
                          host=extend(HostVars), roles=roles)


def declared(model: type[BaseModel]) -> list[str]:
    """Every variable name a model accepts."""
    return [f.alias or n for n, f in model.model_fields.items()]


def set_values(model: BaseModel) -> dict[str, Any]:
    """The variables a validated layer actually set (by name), with their typed values."""
    fields = type(model).model_fields
    return {(fields[n].alias or n): getattr(model, n)
            for n in model.model_fields_set}


def resolve_typed(layers: Iterable[BaseModel]) -> dict[str, Any]:
    """Typed values of validated layers, in precedence order (later wins), as Ansible does."""
    out: dict[str, Any] = {}
    for layer in layers:
        out.update(set_values(layer))
    return out


TYPED: Mapping[str, str] = MappingProxyType({
    # site_* → Site
    "site_id": "Site.id", "site_name": "Site.name", "site_kind": "Site.kind",
    "site_address": "Site.address", "site_commune": "Site.commune",
    "site_postcode": "Site.postcode", "site_coordinates": "Site.coordinates",
    "site_timezone": "Site.timezone", "site_opening_hours": "Site.hours",
    "site_closures": "Site.hours", "site_networks": "Site.management",
    "site_referent": "Site.referent", "site_sav": "Site.sav", "site_pmi": "Site.pmi",
    "site_portal_url": "Site.portal_url", "site_kiosk_allowlist": "Site.kiosk_allowlist",
    "site_ntp_servers": "Site.ntp_servers", "site_notes": "Site.notes", "site_power": "Site.power",
    "netdev_site": "Site.network", "netdev_defaults": "Site.network",
    "netdev_site_kinds": "Site.network", "netdev_ports": "Site.network",
    # host → Device
    "ansible_host": "Device.ip", "ansible_user": "Device.admin_user",
    "device_pmr": "Device.pmr", "device_model": "Device.model", "device_mac": "Device.mac",
    "device_serial": "Device.serial", "device_location": "Device.location",
    "monitor_parent": "Device.monitor_parent", "lab_recording": "Device.lab_recording",
    "relais_controller_networks": "Device.controller_networks",
    "snmp_version": "Device.snmp", "snmp_port": "Device.snmp",
    "snmp_community": "Device.snmp", "snmp_v3_user": "Device.snmp",
    "snmp_v3_auth_protocol": "Device.snmp", "snmp_v3_auth_pass": "Device.snmp",
    "snmp_v3_priv_protocol": "Device.snmp", "snmp_v3_priv_pass": "Device.snmp",
    "netdev_platform": "Device.netdev", "netdev_username": "Device.netdev",
    "netdev_password": "Device.netdev",
    "content_filter_profile": "Device.content_filter_profile",
    "content_filter_extra_categories": "Device.content_filter_extra_categories",
    "content_filter_allow": "Device.content_filter_allow",
    "device_profile": "Device.profile",
    "site_agenda": "Site.agenda", "site_visio_origins": "Site.visio_origins",
    # role variables the engine reads: the guest account (GUEST_ACCOUNT_VARS)
    "hardening_guest_user": "Device.guest_user", "session_wipe_user": "Device.guest_user",
    "session_question_user": "Device.guest_user", "public_pc_guest_user": "Device.guest_user",
    "kiosk_user": "Device.guest_user",
})
"""Which typed field carries each variable the engine reads.  Role variables that only their
role reads are typed by the role's argument specs (checked, not copied to the models)."""

GUEST_ACCOUNT = "hardening_guest_user"
"""The variable naming a host's shared guest account: the ``hardening`` role creates it."""
GUEST_ACCOUNT_VARS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "public_pc": (GUEST_ACCOUNT, "session_wipe_user", "session_question_user",
                  "public_pc_guest_user"),
    "borne": (GUEST_ACCOUNT, "session_wipe_user", "session_question_user", "kiosk_user"),
})
"""Per device kind, every role variable that names the guest account on such a host (the
account created, wiped, asked the end-of-session question, logged in automatically, running
the kiosk): one account, so the loader refuses a host where they differ and the engine reads
the one value, ``Device.guest_user``."""

__all__ = [
    "GUEST_ACCOUNT", "GUEST_ACCOUNT_VARS", "ENGINE_TYPED", "PROCEDURE_ICONS", "TYPED", "ProcedureVars", "CommonVars", "ContractModels", "GroupVars", "HostVars", "SiteVars",
    "check_hostname", "contract_models", "declared", "host_addresses", "resolve_typed", "set_values",
]
