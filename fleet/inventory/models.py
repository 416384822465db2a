"""Typed, frozen models of the inventory.  Built once at the edge by :mod:`fleet.inventory.loader`;
the rest of the engine never touches raw dicts."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr

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

    @property
    def is_host(self) -> bool:
        """A Debian host Relais manages over SSH (as opposed to an appliance watched by SNMP)."""
        return self in {DeviceKind.PUBLIC_PC, DeviceKind.BORNE, DeviceKind.GATEWAY}


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


class Device(Frozen):
    hostname: str
    kind: DeviceKind
    ip: IPv4Address
    site_id: str
    pmr: bool = False
    model: str | None = None
    mac: str | None = None
    snmp: SnmpCredentials | None = None
    vars: Mapping[str, Any] = Field(default_factory=dict)
    """Every Ansible variable of the host as resolved (all < kind group < site group < host)."""
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
    devices: tuple[Device, ...] = ()
    vars: Mapping[str, Any] = Field(default_factory=dict)
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
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)

    def device(self, hostname: str) -> Device:
        for d in self.devices:
            if d.hostname == hostname:
                return d
        raise KeyError(hostname)

    def site_of(self, device: Device) -> Site:
        return self.site(device.site_id)


def site_group(site_id: str) -> str:
    return "site_" + site_id.replace("-", "_")
