"""The opening-hours gate's file, rendered on the controller from the inventory's parsed model.

"Is the site open now?" is answered once, by :mod:`fleet.inventory.hours`.  The gateway cannot
ask the controller every minute, so the controller hands it the answer in advance: the site's
opening intervals (UTC, half-open) over a horizon of :data:`HORIZON_MONTHS` months from the
first day of the current month.  ``relais-portal-hours`` on the gateway
(:mod:`fleet.gateway.portalhours`) only checks whether an instant falls in one of them: it
parses no opening range, knows no timezone and no DST rule.

The horizon starts on the first of the month, so a re-deploy within the month writes the same
file (idempotent); any deploy renews it, and the gateway check
(``fleet/checks/test_gateway.py``) fails when fewer than :data:`MIN_REMAINING_DAYS` days remain,
so the monthly audit sees it months before it runs out.  The role renders this file through its
``relais_portal_hours`` filter (``roles/captive_portal/filter_plugins/relais_hours.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleet.errors import ConfigError
from fleet.inventory import Site, intervals, load_inventory

HORIZON_MONTHS = 13
MIN_REMAINING_DAYS = 60
FORMAT = 2
"""Version of the file's layout (1: the raw semainier, parsed again on the gateway)."""


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def horizon(reference: datetime) -> tuple[datetime, datetime]:
    """[first day of ``reference``'s month, the same day ``HORIZON_MONTHS`` months later), UTC."""
    ref = reference.astimezone(UTC)
    start = datetime(ref.year, ref.month, 1, tzinfo=UTC)
    months = ref.month - 1 + HORIZON_MONTHS
    end = datetime(ref.year + months // 12, months % 12 + 1, 1, tzinfo=UTC)
    return start, end


def render(site: Site, interface: str, always_open: bool, reference: datetime) -> dict[str, Any]:
    """The content of ``/etc/relais/portal-hours.json`` for ``site``."""
    start, end = horizon(reference)
    return {
        "format": FORMAT,
        "site": site.id,
        "timezone": site.timezone,  # for people reading the file; the gateway does not use it
        "interface": interface,
        "always_open": bool(always_open),
        "valid_from": _iso(start),
        "valid_until": _iso(end),
        "open": [[_iso(a), _iso(b)] for a, b in intervals(site, start, end)],
    }


def inventory_root(sources: Sequence[str]) -> Path:
    """The Relais inventory directory among Ansible's inventory sources (the lab adds an overlay
    file after it)."""
    for src in sources:
        path = Path(src)
        if path.is_dir() and (path / "sites").is_dir():
            return path
    raise ConfigError(f"no Relais inventory directory (with sites/) among the inventory "
                      f"sources {list(sources)}")


def render_for(site_id: str, sources: Sequence[str], interface: str, always_open: bool,
               reference: str) -> str:
    """What the role's filter returns: the JSON text for ``site_id``, from the inventory that
    Ansible was given (loaded and validated by :func:`fleet.inventory.load_inventory`)."""
    try:
        ref = datetime.fromisoformat(reference.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"reference time {reference!r}: not an ISO 8601 time") from None
    if ref.tzinfo is None:
        raise ConfigError(f"reference time {reference!r}: give a timezone offset")
    inv = load_inventory(inventory_root(sources), check_secrets=False)
    try:
        site = inv.site(site_id)
    except KeyError:
        raise ConfigError(f"{inv.root}: no site {site_id!r}") from None
    return json.dumps(render(site, interface, always_open, ref), indent=1, sort_keys=True) + "\n"
