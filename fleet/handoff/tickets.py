"""Delivering one incident event to GLPI, idempotently, whatever the API version.

Every step looks before it acts, so a step re-run after a crash, a timeout whose request did
reach GLPI, or a lost answer never does it twice:

* the ticket: the queue's remembered ticket id, else a search by our key (``external_id`` on
  API v2, ``[relais-<instance>-<id>]`` in the name on API v1), else it is created;
* followups and the solution carry a mark ``[key/eN]`` (N: the Relais event id) and are
  added only when no existing one carries it;
* the supplier is assigned only when not already among the ticket's assigned suppliers, the
  asset linked only when not already linked; statuses are set only when different.

Events: ``opened`` creates the ticket (and links the asset, API v1); ``acknowledged``,
``assigned``, ``note``, ``reopened``, ``closed`` add a followup (``reopened`` also sets the
status back to processing, ``closed`` to closed); ``sav_handoff`` assigns the site's supplier
(``Supplier_Ticket`` type 2 / ``TeamMember`` role assigned) and adds a followup; ``resolved``
adds a solution and sets status 5 (solved).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fleet.handoff.content import (
    KIND_TO_ITEMTYPE,
    Context,
    followup_content,
    marker,
    serial_of,
    ticket_content,
    ticket_name,
    urgency_impact,
)
from fleet.handoff.errors import RefusedError
from fleet.handoff.glpi import GlpiApi, NewTicket
from fleet.handoff.models import STATUS_ASSIGNED, STATUS_CLOSED, STATUS_SOLVED
from fleet.incidents.lifecycle import IncidentView
from fleet.store.outbox import EntryView

FOLLOWUP_KINDS = frozenset({"acknowledged", "assigned", "sav_handoff", "note", "reopened", "closed",
                            "action"})


@dataclass(frozen=True, slots=True)
class Delivered:
    ticket: int
    detail: str
    """What was done, e.g. ``followup 12`` or ``already there``: stored as the row's ref."""


def ensure_ticket(
    api: GlpiApi,
    key: str,
    incident: IncidentView,
    ctx: Context,
    known: str | None,
    remember: Callable[[int, str], None],
) -> int:
    """The incident's ticket: remembered, found by key, or created.  ``remember(id, how)`` is
    called as soon as the id is known, before anything else is sent."""
    if known is not None and known.isdigit():
        return int(known)
    found = api.find_ticket(key)
    if found is not None:
        remember(found.id, f"GLPI ticket {found.id} found by its key {key}")
        return found.id
    urgency, impact = urgency_impact(incident.severity, incident.root_cause)
    new = NewTicket(
        key=key,
        name=ticket_name(key, incident),
        content=ticket_content(key, incident, ctx),
        urgency=urgency,
        impact=impact,
    )
    ticket = api.create_ticket(new)
    remember(ticket, f"GLPI ticket {ticket} created")
    link_asset(api, ticket, ctx)
    return ticket


def link_asset(api: GlpiApi, ticket: int, ctx: Context) -> str:
    """Link the device's asset (found by serial, else by name) to the ticket, once."""
    if not api.supports_items or ctx.device is None:
        return "no asset link"
    itemtype = KIND_TO_ITEMTYPE.get(ctx.device.kind.value)
    if itemtype is None:
        return "no asset link"
    asset = api.find_asset(itemtype, ctx.device.hostname, serial_of(ctx.device))
    if asset is None:
        return f"{itemtype} {ctx.device.hostname} not in GLPI"
    if (itemtype, asset) in api.ticket_items(ticket):
        return f"{itemtype} {asset} already linked"
    api.link_item(ticket, itemtype, asset)
    return f"{itemtype} {asset} linked"


def ensure_followup(api: GlpiApi, ticket: int, key: str, entry: EntryView, ctx: Context) -> str:
    mark = marker(key, entry.event_id)
    if any(mark in c for c in api.followups(ticket)):
        return "followup already there"
    return f"followup {api.add_followup(ticket, followup_content(key, entry, ctx))}"


def ensure_supplier(api: GlpiApi, ticket: int, name: str, incident_id: int) -> str:
    supplier = api.find_supplier(name)
    if supplier is None:
        raise RefusedError(
            f"supplier {name!r} not found in GLPI (Management > Suppliers): create it with this exact "
            f"name or fix site_sav in the inventory, then `fleet handoff retry {incident_id}`"
        )
    if supplier in api.ticket_suppliers(ticket):
        return f"supplier {supplier} already assigned"
    api.assign_supplier(ticket, supplier)
    return f"supplier {supplier} assigned"


def ensure_status(api: GlpiApi, ticket: int, status: int, *, only_if_below: bool = False) -> str:
    current = api.get_ticket(ticket).status
    if current == status or (only_if_below and current > status):
        return f"status {current}"
    api.set_status(ticket, status)
    return f"status {current}->{status}"


def deliver(
    api: GlpiApi,
    key: str,
    incident: IncidentView,
    entry: EntryView,
    ctx: Context,
    known_ticket: str | None,
    remember: Callable[[int, str], None],
) -> Delivered:
    """Hand one event to GLPI (see the module's docstring for what each kind does)."""
    ticket = ensure_ticket(api, key, incident, ctx, known_ticket, remember)
    done: list[str] = []
    if entry.kind == "opened":
        done.append(link_asset(api, ticket, ctx))
    if entry.kind == "sav_handoff":
        done.append(ensure_supplier(api, ticket, str(entry.data.get("supplier", "")), incident.id))
    if entry.kind in FOLLOWUP_KINDS:
        done.append(ensure_followup(api, ticket, key, entry, ctx))
    if entry.kind == "reopened":
        done.append(ensure_status(api, ticket, STATUS_ASSIGNED))
    if entry.kind == "resolved":
        mark = marker(key, entry.event_id)
        if any(mark in c for c in api.solutions(ticket)):
            done.append("solution already there")
        else:
            done.append(f"solution {api.add_solution(ticket, followup_content(key, entry, ctx))}")
        done.append(ensure_status(api, ticket, STATUS_SOLVED, only_if_below=True))
    if entry.kind == "closed":
        done.append(ensure_status(api, ticket, STATUS_CLOSED))
    return Delivered(ticket, f"ticket {ticket}: " + ("; ".join(done) or "ok"))
