"""Layer 0: the inventory as single source of truth — load, validate, resolve; opening hours."""

from __future__ import annotations

from fleet.inventory.hours import (
    intervals,
    is_open,
    next_closing,
    next_opening,
    open_duration,
)
from fleet.inventory.loader import load_inventory, resolve_vars
from fleet.inventory.models import (
    Device,
    DeviceKind,
    Inventory,
    OpeningHours,
    OpeningRange,
    Site,
    SiteKind,
    SnmpCredentials,
)

__all__ = [
    "Device",
    "DeviceKind",
    "Inventory",
    "OpeningHours",
    "OpeningRange",
    "Site",
    "SiteKind",
    "SnmpCredentials",
    "intervals",
    "is_open",
    "load_inventory",
    "next_closing",
    "next_opening",
    "open_duration",
    "resolve_vars",
]
