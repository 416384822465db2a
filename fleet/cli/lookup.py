"""A site id or hostname typed on the command line that the inventory must hold: an unknown one
is an error with the closest names, never an empty answer ("no incidents" for a typo).  And the
inventory of the hotline's read commands, which must not stop working while a technician fixes
a mistake in it (:func:`inventory_for_reading`)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from fleet.errors import ConfigError, FleetError, InventoryError, SecretError
from fleet.i18n import gettext as _

if TYPE_CHECKING:
    from pathlib import Path

    from fleet.inventory.models import Device, Inventory, Site


def inventory_for_reading(path: Path | None) -> Inventory | None:
    """The inventory, or None with a one-line warning when it is invalid: the incident log and
    the maintenance windows are still shown (times in UTC, no contacts, no name checks)."""
    from fleet.cli.common import console
    from fleet.inventory import load_inventory

    try:
        return load_inventory(path, check_secrets=False)
    except (InventoryError, SecretError) as exc:
        console(stderr=True).print(
            "[yellow]" + _("warning:") + "[/] " + _(
                "the inventory cannot be read ({error}): times in UTC, no contacts, site and "
                "device names not checked; 'fleet inventory check' says what to fix").format(
                error=str(exc).replace("[", r"\[")))
        return None


def _unknown(what: str, name: str, names: list[str], option: str) -> ConfigError:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = _(" (did you mean {names}?)").format(names=", ".join(repr(c) for c in close)) if close else ""
    return ConfigError(f"{option}: " + what.format(name=repr(name)) + hint)


def known_site(inv: Inventory, site_id: str, option: str = "--site") -> Site:
    try:
        return inv.site(site_id)
    except KeyError as exc:
        if isinstance(exc, FleetError):  # the inventory's own wording, when it has one
            raise
        raise _unknown(_("unknown site {name}"), site_id, [s.id for s in inv.sites], option) from None


def known_device(inv: Inventory, hostname: str, option: str = "--device") -> Device:
    try:
        return inv.device(hostname)
    except KeyError as exc:
        if isinstance(exc, FleetError):
            raise
        raise _unknown(_("unknown device {name}"), hostname, [d.hostname for d in inv.devices],
                       option) from None
