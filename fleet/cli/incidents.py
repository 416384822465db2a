"""`fleet incidents list | show | ack | assign | note | resolve | close`: the incident log.

Thin: parse, call :mod:`fleet.incidents`, print.  Every action records who (``--by``, never
empty) and when.  Times are the site's, with its zone label; ``show`` and ``assign`` give who to
call (the SAV supplier's phone and contract, the site's référent).
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from fleet.cli.common import console, opened_store, print_json
from fleet.cli.contacts import print_contacts
from fleet.cli.lookup import inventory_for_reading, known_device, known_site
from fleet.cli.options import ByOpt, ClockOpt, DbOpt, InventoryOpt, JsonOpt
from fleet.cli.render import Cell, Column, paragraph, table, terminal_width
from fleet.cli.timefmt import ago, operator, parse_instant, site_time
from fleet.cli.timefmt import now as _now
from fleet.cli.words import STYLE
from fleet.errors import IncidentError
from fleet.i18n import N_
from fleet.i18n import gettext as _
from fleet.words import word

if TYPE_CHECKING:
    from fleet.inventory.models import Inventory, Site, Supplier

app = typer.Typer(help=N_("The incident log: list, show, acknowledge, assign, annotate, resolve, "
                          "close."), no_args_is_help=True)

IdArg = Annotated[int, typer.Argument(help=N_("Incident number (see 'fleet incidents list')."))]
TextOpt = Annotated[str, typer.Option("--text", "-m", help=N_("A note recorded with the action."))]


def _inventory(path: Path | None) -> Inventory:
    from fleet.inventory import load_inventory

    return load_inventory(path, check_secrets=False)


def _site_of(inv: Inventory | None, site_id: str) -> Site | None:
    return None if inv is None else next((s for s in inv.sites if s.id == site_id), None)


def _tz(inv: Inventory | None, site_id: str) -> tzinfo:
    site = _site_of(inv, site_id)
    return site.tz if site is not None else UTC


@app.command("list", help=N_("Open incidents, most recent first (--all: with the resolved and "
                             "closed ones)."))
def incidents_list(
    all_: Annotated[bool, typer.Option("--all", help=N_("Include resolved and closed incidents."))] = False,
    site: Annotated[str | None, typer.Option("--site", help=N_("Only this site (a site id)."))] = None,
    device: Annotated[str | None, typer.Option("--device", help=N_("Only this device (a hostname)."))] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help=N_("At most this many."))] = 200,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
    clock: ClockOpt = None,
) -> None:
    from fleet.incidents import list_incidents
    from fleet.incidents.status import last_poll

    inv = inventory_for_reading(inventory)
    if site is not None and inv is not None:
        known_site(inv, site)
    if device is not None and inv is not None:
        known_device(inv, device)
    with opened_store(db) as store:
        rows = list_incidents(store, site_id=site, device=device,
                              statuses=None if all_ else ("open", "acknowledged", "in_progress"),
                              limit=limit)
        last = last_poll(store)
        url = store.safe_url
    if json:
        print_json([r.to_json() for r in rows])
        return
    out, width = console(), terminal_width()
    if last is None:
        paragraph(out, Text(_("No poll has written to this store yet ({url}): no incident can have "
                              "been opened. Run 'fleet poll'.").format(url=url), style="bold yellow"),
                  width=width)
        return
    from fleet.cli.status import stale_after

    now = parse_instant(clock, "--clock") if clock else _now()
    if now - last > stale_after():
        paragraph(out, Text(_("STALE: the last poll was {ago}; incidents since then are missing. "
                              "Is the poller running?").format(ago=ago(last, now)),
                            style="bold magenta"), width=width)
    if not rows:
        out.print(_("no open incidents") if not all_ else _("no incidents"))
        return
    columns = [Column("#", "id"), Column(_("site"), "id"), Column(_("device"), "id"),
               Column(_("check"), "short"), Column(_("severity"), "short"), Column(_("status"), "short"),
               Column(_("opened"), "short"), Column(_("title"), "text"), Column(_("assigned to"), "text")]
    cells: list[list[Cell]] = [[str(r.id), r.site_id, r.device, r.check,
              Text(word("severity", r.severity), style=STYLE.get(r.severity, "")),
              Text(word("status", r.status), style=STYLE.get(r.status, "")),
              site_time(r.opened_at, _tz(inv, r.site_id)), r.title, r.assigned_to or ""]
             for r in rows]
    table(out, columns, cells, width=width)


@app.command("show", help=N_("One incident, its whole history, and who to call."))
def incidents_show(
    incident_id: IdArg,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    from fleet.incidents import get_incident

    inv = inventory_for_reading(inventory)
    with opened_store(db) as store:
        inc = get_incident(store, incident_id)
    site = _site_of(inv, inc.site_id)
    if json:
        contacts = None if site is None else {"sav": site.sav.model_dump(),
                                              "referent": site.referent.model_dump()}
        print_json(inc.to_json(with_events=True) | {"contacts": contacts})
        return
    tz = site.tz if site is not None else UTC
    out, width = console(), terminal_width()
    paragraph(out, Text.assemble((_("incident #{id}").format(id=inc.id), "bold"),
                                 f" [{word('severity', inc.severity)}] ", inc.title), width=width)
    facts = [_("{device} at {site}").format(device=inc.device, site=inc.site_id),
             _("check {check}").format(check=inc.check),
             _("reason {reason}").format(reason=word("reason", inc.reason)),
             _("status {status}").format(status=word("status", inc.status))]
    if inc.root_cause:
        facts.append(_("root cause of the site"))
    if inc.assigned_to:
        facts.append(_("assigned to {who}").format(who=inc.assigned_to))
    paragraph(out, ", ".join(facts), width=width)
    if site is not None:
        print_contacts(out, site, width)
    elif inv is not None:
        paragraph(out, _("Site {site} is not in the inventory: no contact to show.").format(
            site=inc.site_id), width=width)
    columns = [Column(_("when"), "short"), Column(_("what"), "short"), Column(_("who"), "short"),
               Column(_("note"), "text")]
    table(out, columns, [[site_time(e.at, tz), word("event", e.kind), e.actor, e.text]
                         for e in inc.events], width=width)


def _done(message: str) -> None:
    console().print(message)


@app.command("ack", help=N_("Acknowledge: the hotline has seen it."))
def incidents_ack(incident_id: IdArg, text: TextOpt = "", by: ByOpt = None, db: DbOpt = None) -> None:
    from fleet.incidents import acknowledge

    who = operator(by)
    with opened_store(db) as store:
        acknowledge(store, incident_id, who=who, at=_now(), text=text)
    _done(_("incident #{id} acknowledged").format(id=incident_id))


@app.command("assign", help=N_("Hand over (by default to the site's SAV supplier, whose contact is "
                               "recorded): in progress."))
def incidents_assign(
    incident_id: IdArg,
    to: Annotated[str | None, typer.Option(
        "--to", help=N_("Assignee (default: the site's SAV supplier, from the inventory)."))] = None,
    text: TextOpt = "",
    by: ByOpt = None,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
) -> None:
    from fleet.incidents import assign, get_incident

    who = operator(by)
    if to is not None and not to.strip():
        raise IncidentError(_("--to '': give a name (or leave --to out for the site's SAV supplier)"))
    inv = _inventory(inventory)
    with opened_store(db) as store:
        inc = get_incident(store, incident_id)
        site = _site_of(inv, inc.site_id)
        target: str | Supplier
        if to is not None:
            target = to
        elif site is not None:
            target = site.sav
        else:
            raise IncidentError(_("incident #{id}: site {site!r} is not in the inventory; use --to "
                                  "NAME").format(id=incident_id, site=inc.site_id))
        assign(store, incident_id, to=target, who=who, at=_now(), text=text)
    name = target if isinstance(target, str) else target.name
    out, width = console(), terminal_width()
    out.print(_("incident #{id} assigned to {name} (in progress)").format(id=incident_id, name=name))
    if site is not None:
        print_contacts(out, site, width)


@app.command("note", help=N_("Add a note (at any time, even after closing)."))
def incidents_note(
    incident_id: IdArg,
    text: Annotated[str, typer.Argument(help=N_("The note."))],
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    from fleet.incidents import note

    who = operator(by)
    with opened_store(db) as store:
        note(store, incident_id, who=who, text=text, at=_now())
    _done(_("note added to incident #{id}").format(id=incident_id))


@app.command("resolve", help=N_("Resolve by hand (the monitor also resolves by itself after a "
                                "stable recovery)."))
def incidents_resolve(incident_id: IdArg, text: TextOpt = "", by: ByOpt = None,
                      db: DbOpt = None) -> None:
    from fleet.incidents import resolve

    who = operator(by)
    with opened_store(db) as store:
        resolve(store, incident_id, who=who, at=_now(), text=text)
    _done(_("incident #{id} resolved").format(id=incident_id))


@app.command("close", help=N_("Close a resolved incident."))
def incidents_close(incident_id: IdArg, text: TextOpt = "", by: ByOpt = None, db: DbOpt = None) -> None:
    from fleet.incidents import close

    who = operator(by)
    with opened_store(db) as store:
        close(store, incident_id, who=who, at=_now(), text=text)
    _done(_("incident #{id} closed").format(id=incident_id))
