"""Layer 0: the inventory as single source of truth — load, validate, resolve; opening hours.

Modules: :mod:`~fleet.inventory.loader` (the Ansible layout, checks across files),
:mod:`~fleet.inventory.variables` (the contract: every variable, typed and checked),
:mod:`~fleet.inventory.models` (the typed, frozen result), :mod:`~fleet.inventory.validate`
(pydantic errors → ``file:line``, for any YAML file), :mod:`~fleet.inventory.yamlsrc` (YAML
with lines), :mod:`~fleet.inventory.roles` (the roles' declared variables),
:mod:`~fleet.inventory.hours` ("open now", once), :mod:`~fleet.inventory.secrets` (the vault),
:mod:`~fleet.inventory.scaffold` (``fleet inventory new-site``).
"""

from __future__ import annotations

from fleet.inventory.hours import (
    OpenNow,
    format_site_time,
    intervals,
    is_open,
    next_closing,
    next_opening,
    open_duration,
    open_now,
    site_instant,
    site_time,
    zone_label,
)
from fleet.inventory.loader import load_inventory, resolve_vars
from fleet.inventory.models import (
    Device,
    DeviceKind,
    Inventory,
    NetdevAccess,
    OpeningHours,
    OpeningRange,
    SearchResult,
    Site,
    SiteKind,
    SnmpCredentials,
    fold,
)
from fleet.inventory.validate import validate_with_lines

__all__ = [
    "Device",
    "DeviceKind",
    "Inventory",
    "NetdevAccess",
    "OpenNow",
    "OpeningHours",
    "OpeningRange",
    "SearchResult",
    "Site",
    "SiteKind",
    "SnmpCredentials",
    "fold",
    "format_site_time",
    "intervals",
    "is_open",
    "load_inventory",
    "next_closing",
    "next_opening",
    "open_duration",
    "open_now",
    "resolve_vars",
    "site_instant",
    "site_time",
    "validate_with_lines",
    "zone_label",
]
