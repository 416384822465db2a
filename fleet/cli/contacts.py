"""Who the hotline calls for a site: its SAV supplier (phone, contract) and its référent (the
person on site), from the inventory — on ``status SITE``, ``status DEVICE``, ``incidents show``
and ``incidents assign``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from fleet.cli.render import paragraph
from fleet.i18n import gettext as _

if TYPE_CHECKING:
    from rich.console import Console

    from fleet.inventory.models import Contact, Site, Supplier


def sav_line(sav: Supplier) -> Text:
    parts = [sav.name]
    if sav.phone:
        parts.append(_("phone {phone}").format(phone=sav.phone))
    if sav.contract:
        parts.append(_("contract {contract}").format(contract=sav.contract))
    if sav.email:
        parts.append(sav.email)
    return Text.assemble((_("SAV:") + " ", "bold"), " — ".join(parts))


def referent_line(referent: Contact) -> Text:
    parts = [referent.name]
    if referent.phone:
        parts.append(_("phone {phone}").format(phone=referent.phone))
    if referent.email:
        parts.append(referent.email)
    return Text.assemble((_("On site:") + " ", "bold"), " — ".join(parts))


def print_contacts(out: Console, site: Site, width: int | None) -> None:
    paragraph(out, sav_line(site.sav), width=width)
    paragraph(out, referent_line(site.referent), width=width)
