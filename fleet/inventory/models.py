"""Typed, frozen models of the inventory.  Built once at the edge by :mod:`fleet.inventory.loader`
from the variables checked by :mod:`fleet.inventory.variables`; the rest of the engine reads
their typed fields and never the raw variables (``vars`` is kept for Ansible parity only)."""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from fleet.errors import NotFoundError
from fleet.inventory.power import SitePower
from fleet.inventory.network import SiteNetwork


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class SiteKind(StrEnum):
    PREFECTURE = "prefecture"
    SOUS_PREFECTURE = "sous_prefecture"
    FRANCE_SERVICES = "france_services"
    MAIRIE = "mairie"
    CYBER_BASE = "cyber_base"
    CENTRE_SOCIAL = "centre_social"
    MEDIATHEQUE = "mediatheque"


class DeviceKind(StrEnum):
    PUBLIC_PC = "public_pc"
    BORNE = "borne"
    GATEWAY = "gateway"
    PRINTER = "printer"
    SWITCH = "switch"
    AP = "ap"
    UPS = "ups"
    SCREEN = "screen"
    """A hall screen: Chromium full screen on the site's public page, no input (issue 17)."""

    @property
    def is_host(self) -> bool:
        """A Debian host Relais manages over SSH (as opposed to an appliance watched by SNMP)."""
        return self in {DeviceKind.PUBLIC_PC, DeviceKind.BORNE, DeviceKind.GATEWAY,
                        DeviceKind.SCREEN}


WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Source(Frozen):
    """Where something was declared: file (relative to the inventory's parent) and line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class OpeningRange(Frozen):
    """One opening range, in minutes after local midnight of its weekday.

    ``end`` may exceed 1440 when the range crosses midnight (written ``20:00-01:00+1``)."""

    start: int = Field(ge=0, lt=1440)
    end: int = Field(gt=0, le=2880)

    def __str__(self) -> str:
        def hm(m: int) -> str:
            return f"{(m // 60) % 24 if m != 1440 else 24:02d}:{m % 60:02d}"

        suffix = "+1" if self.end > 1440 else ""
        return f"{hm(self.start)}-{hm(self.end)}{suffix}"


class Closure(Frozen):
    """Exceptional closure, inclusive local dates (a range starting on such a date is cancelled)."""

    start: str  # ISO date, local
    end: str
    reason: str = ""


class OpeningHours(Frozen):
    """The site's weekly schedule (semainier) in its own timezone, with exceptional closures."""

    timezone: str
    week: Mapping[str, tuple[OpeningRange, ...]]
    closures: tuple[Closure, ...] = ()

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Coordinates(Frozen):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Contact(Frozen):
    name: str
    phone: str = ""
    email: str = ""


class Supplier(Frozen):
    """The after-sales (SAV) supplier an incident is handed to."""

    name: str
    phone: str = ""
    email: str = ""
    contract: str = ""


class SnmpCredentials(Frozen):
    """How the poller talks to a device.  Secrets stay SecretStr (never printed, never logged)."""

    version: str  # "2c" or "3"
    community: SecretStr | None = None
    user: str | None = None
    auth_protocol: str = "SHA"
    auth_key: SecretStr | None = None
    priv_protocol: str = "AES"
    priv_key: SecretStr | None = None
    port: int = 161

    @property
    def key(self) -> tuple[str, ...]:
        """Identity of the credential set: one poller engine is shared per key.  Secrets enter
        it only as a digest, so a key may be logged or shown without revealing them."""

        def digest(*secrets: SecretStr | None) -> str:
            h = hashlib.sha256()
            for s in secrets:
                h.update(b"\0" + (s.get_secret_value().encode() if s else b""))
            return h.hexdigest()[:16]

        if self.version == "3":
            return ("3", self.user or "", self.auth_protocol, self.priv_protocol,
                    digest(self.auth_key, self.priv_key))
        return ("2c", digest(self.community))


class NetdevAccess(Frozen):
    """How a network device with a vendor CLI is reached (``netdev_*``, secrets from the vault)."""

    platform: str | None = None
    username: SecretStr | None = None
    password: SecretStr | None = None


FilterProfile = Literal["standard", "pmi"]
DeviceProfile = Literal["standard", "visio"]
"""``device_profile`` of a borne: ``visio`` is the visio-guichet (camera and microphone for the
site's visio origins only)."""


class Device(Frozen):
    """One device.  Each typed field says which inventory variable it comes from; the value is
    the one Ansible resolves for the host (all < kind group < site group < host)."""

    hostname: str
    kind: DeviceKind
    ip: IPv4Address
    """``ansible_host``."""
    site_id: str
    pmr: bool = False
    """``device_pmr``: the accessible station (PCs and bornes only)."""
    model: str | None = None
    """``device_model``."""
    mac: str | None = None
    """``device_mac``, lowercase."""
    serial: str | None = None
    """``device_serial``."""
    location: str | None = None
    """``device_location``: where it stands in the site."""
    snmp: SnmpCredentials | None = None
    """``snmp_*`` (secrets resolved from the vault)."""
    admin_user: str = "relais"
    """``ansible_user``: the administration account Relais connects as over SSH."""
    controller_networks: tuple[IPv4Network, ...] = ()
    """``relais_controller_networks``: where the poller and the technicians connect from."""
    monitor_parent: tuple[str, ...] = ()
    """``monitor_parent``: hostnames this device depends on (empty: the rules' default)."""
    lab_recording: str | None = None
    """``lab_recording``: the SNMP recording that simulates this appliance in the lab."""
    content_filter_profile: FilterProfile | None = None
    """``content_filter_profile`` when set in the inventory (an override); None: the role's
    default, ``pmi`` on a site with ``site_pmi`` and ``standard`` elsewhere."""
    content_filter_extra_categories: tuple[str, ...] = ()
    """``content_filter_extra_categories``: categories blocked on top of the profile."""
    content_filter_allow: tuple[str, ...] = ()
    """``content_filter_allow``: names never blocked (with their subdomains)."""
    netdev: NetdevAccess | None = None
    """``netdev_platform`` / ``netdev_username`` / ``netdev_password`` (switches)."""
    profile: DeviceProfile = "standard"
    """``device_profile``: a borne's variant (``visio``: the visio-guichet)."""
    guest_user: str = "guest"
    """``hardening_guest_user`` (else the hardening role's default): the shared account of a
    public PC or a borne — the one the session wipe, the end-of-session question, the PC's
    auto-login and the kiosk use too (the loader refuses a host where those variables name
    another account, see ``variables.GUEST_ACCOUNT_VARS``).  On other hosts: the account that
    must not exist there."""
    vars: Mapping[str, Any] = Field(default_factory=dict)
    """Every Ansible variable of the host as resolved, for Ansible parity and debugging only:
    the engine reads the typed fields above (``tests/inventory/test_contract.py`` checks)."""
    source: Source


class Site(Frozen):
    id: str
    name: str
    kind: SiteKind
    address: str
    commune: str
    postcode: str
    coordinates: Coordinates
    timezone: str
    hours: OpeningHours
    pmi: bool = False
    management: IPv4Network
    guest: IPv4Network | None = None
    referent: Contact
    sav: Supplier
    portal_url: str | None = None
    """``site_portal_url``: the start page of the PCs and the borne (None: the roles' default)."""
    kiosk_allowlist: tuple[str, ...] | None = None
    """``site_kiosk_allowlist``: the borne's allowed sites (None: the kiosk role's default)."""
    ntp_servers: tuple[str, ...] | None = None
    """``site_ntp_servers``: time servers (None: the hardening role's default pool)."""
    notes: str = ""
    """``site_notes``: free text for the hotline (access, keys, parking)."""
    power: SitePower | None = None  # site_power: fleet/inventory/power.py
    agenda: str | None = None
    """``site_agenda``: the site's iCalendar (ICS) feed, an ``https://`` address or a file
    relative to the inventory directory (the hall screen's semainier); None: no agenda."""
    visio_origins: tuple[str, ...] = ()
    """``site_visio_origins``: the origins (``https://host``) where a visio borne may use its
    camera and microphone."""
    devices: tuple[Device, ...] = ()
    vars: Mapping[str, Any] = Field(default_factory=dict)
    """The site group's variables as written, for Ansible parity only (read the typed fields)."""
    source: Source
    network: SiteNetwork | None = None
    """The intended network (VLANs, ports, SSIDs...), see :mod:`fleet.inventory.network`."""

    @property
    def group(self) -> str:
        """The Ansible group holding this site's hosts."""
        return site_group(self.id)

    @property
    def tz(self) -> ZoneInfo:
        return self.hours.tz

    @property
    def gateway(self) -> Device | None:
        return next((d for d in self.devices if d.kind is DeviceKind.GATEWAY), None)

    @property
    def guest_gateway_ip(self) -> IPv4Address | None:
        """The gateway's address on the guest network: the first host of the guest subnet."""
        return next(self.guest.hosts()) if self.guest is not None else None

    def devices_of(self, kind: DeviceKind) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.kind is kind)


class SearchResult(Frozen):
    """What :meth:`Inventory.search` found: sites, then devices, best match first."""

    sites: tuple[Site, ...] = ()
    devices: tuple[Device, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sites or self.devices)


class Inventory(Frozen):
    root: str
    sites: tuple[Site, ...]
    group_vars: Mapping[str, Mapping[str, Any]] = Field(default_factory=dict)
    demo_vault: bool = False
    """True when the vault was opened with the public demo password (lab and demo only)."""

    @property
    def devices(self) -> tuple[Device, ...]:
        return tuple(d for s in self.sites for d in s.devices)

    def site(self, site_id: str) -> Site:
        """The site with this id; else :class:`~fleet.errors.NotFoundError` worded once for
        every command: ``unknown site 'florac-f' (did you mean 'florac-fs'?)``."""
        for s in self.sites:
            if s.id == site_id:
                return s
        found = self.search(site_id).sites
        close = difflib.get_close_matches(site_id, [s.id for s in self.sites], n=3, cutoff=0.6)
        suggestions = tuple(dict.fromkeys([*close, *(s.id for s in found)]))[:3]
        raise NotFoundError(f"unknown site {site_id!r}{_did_you_mean(suggestions)}",
                            site_id, suggestions)

    def device(self, hostname: str) -> Device:
        """The device with this hostname; else :class:`~fleet.errors.NotFoundError`."""
        for d in self.devices:
            if d.hostname == hostname:
                return d
        names = [d.hostname for d in self.devices]
        close = difflib.get_close_matches(hostname, names, n=3, cutoff=0.6)
        suggestions = tuple(dict.fromkeys([*close, *(d.hostname for d in
                                                     self.search(hostname).devices)]))[:3]
        raise NotFoundError(f"unknown device {hostname!r}{_did_you_mean(suggestions)}",
                            hostname, suggestions)

    def site_of(self, device: Device) -> Site:
        return self.site(device.site_id)

    def search(self, text: str) -> SearchResult:
        """Sites by id, name, commune or postcode; devices by hostname, serial or MAC.

        Case, accents and punctuation do not matter (``Noumea`` finds Nouméa, ``st germain``
        finds ``mairie-st-germain-calberte``); every word of ``text`` must appear.  Exact
        matches of an id or hostname come first."""
        words = fold(text).split()
        if not words:
            return SearchResult()

        def hit(*fields: str | None) -> bool:
            hay = " ".join(fold(f) for f in fields if f)
            return all(w in hay for w in words)

        exact = fold(text).replace(" ", "")
        sites = [s for s in self.sites if hit(s.id, s.name, s.commune, s.postcode)]
        devices = [d for d in self.devices if hit(d.hostname, d.serial, d.mac)]
        sites.sort(key=lambda s: fold(s.id).replace(" ", "") != exact)
        devices.sort(key=lambda d: fold(d.hostname).replace(" ", "") != exact)
        return SearchResult(sites=tuple(sites), devices=tuple(devices))


def _did_you_mean(suggestions: Iterable[str]) -> str:
    names = [repr(s) for s in suggestions]
    if not names:
        return ""
    return f" (did you mean {' or '.join(names) if len(names) < 3 else ', '.join(names)}?)"


_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae"})


def fold(text: str) -> str:
    """Text for matching: lowercase, no accents, punctuation as spaces (``Nouméa`` → ``noumea``,
    ``Saint-Germain-de-Calberte`` → ``saint germain de calberte``)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain).split())


def site_group(site_id: str) -> str:
    return "site_" + site_id.replace("-", "_")
