"""What the hand-off says, in French: ticket, followups, solution and the supplier's e-mails.

Everything here is pure: an incident (as the store has it), the event being handed off and
what the inventory knows of the site and device (:class:`Context`) go in, text comes out.  The
same input always gives the same bytes, so a message re-sent after a crash is identical to the
first one (same Message-ID, same Date).  Only non-secret inventory fields are read (site,
address, opening hours, referent, SAV supplier, device name, kind, model, serial, location).

Severity → GLPI urgency and impact is data (:data:`SEVERITY_TO_GLPI`), not code.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from types import MappingProxyType
from typing import Any

from fleet.i18n import load as load_language
from fleet.i18n import use_language
from fleet.incidents.lifecycle import IncidentView
from fleet.inventory.models import WEEKDAYS, Device, Inventory, Site
from fleet.store.outbox import EntryView
from fleet.words import word

#: severity -> (urgency, impact), GLPI's 1 (very low) ... 5 (very high).
SEVERITY_TO_GLPI: Mapping[str, tuple[int, int]] = MappingProxyType({
    "info": (2, 2),
    "minor": (3, 2),
    "major": (4, 3),
    "critical": (5, 4),
})
#: A site's root cause (the whole site is cut off) weighs one step more on impact.
ROOT_CAUSE_IMPACT_STEP = 1

#: Device kind -> GLPI itemtype of the asset to link to the ticket (API v1).
KIND_TO_ITEMTYPE: Mapping[str, str] = MappingProxyType({
    "public_pc": "Computer",
    "borne": "Computer",
    "gateway": "Computer",
    "printer": "Printer",
    "switch": "NetworkEquipment",
    "ap": "NetworkEquipment",
    "ups": "Peripheral",
})

SEVERITY_FR = MappingProxyType({"info": "information", "minor": "mineure", "major": "majeure",
                                "critical": "critique"})
DAYS_FR = MappingProxyType(dict(zip(WEEKDAYS, ("lundi", "mardi", "mercredi", "jeudi", "vendredi",
                                               "samedi", "dimanche"),
                   strict=True)))  # fmt: skip


NO_SERIAL = "non renseigné dans l'inventaire"


def urgency_impact(severity: str, root_cause: bool) -> tuple[int, int]:
    urgency, impact = SEVERITY_TO_GLPI.get(severity, SEVERITY_TO_GLPI["major"])
    if root_cause:
        impact = min(5, impact + ROOT_CAUSE_IMPACT_STEP)
    return urgency, impact


@dataclass(frozen=True, slots=True)
class Context:
    """What the inventory knows about the incident's site and device (None: not found)."""

    site: Site | None
    device: Device | None

    @classmethod
    def of(cls, inventory: Inventory | None, incident: IncidentView) -> Context:
        if inventory is None:
            return cls(None, None)
        try:
            site: Site | None = inventory.site(incident.site_id)
        except KeyError:
            site = None
        device = None
        if site is not None:
            device = next((d for d in site.devices if d.hostname == incident.device), None)
        return cls(site, device)

    def local(self, at: datetime) -> str:
        if self.site is not None:
            return at.astimezone(self.site.tz).strftime("%d/%m/%Y à %H:%M")
        return at.strftime("%d/%m/%Y à %H:%M UTC")


def serial_of(device: Device | None) -> str | None:
    """The device's serial number (``device_serial`` in the inventory)."""
    return (device.serial or None) if device is not None else None


def ticket_key(instance: str, incident_id: int) -> str:
    """Our incident's key in GLPI (``external_id``, and in the ticket's name between brackets)."""
    return f"relais-{instance}-{incident_id}"


def marker(key: str, event_id: int) -> str:
    """The mark a followup/solution carries, so a re-sent one is recognised: ``[key/eN]``."""
    return f"[{key}/e{event_id}]"


def message_id(key: str, event_id: int, domain: str) -> str:
    return f"<{key}.e{event_id}@{domain}>"


def opening_hours(site: Site) -> list[str]:
    """The weekly schedule in French, one line per day: ``lundi : 09:00-12:00, 13:30-17:00``."""
    lines = []
    for day in WEEKDAYS:
        ranges = site.hours.week.get(day, ())
        lines.append(f"{DAYS_FR[day]} : {', '.join(str(r) for r in ranges) if ranges else 'fermé'}")
    return lines


def facts(incident: IncidentView, ctx: Context) -> list[tuple[str, str]]:
    """The incident's facts as (label, value), in the order a technician reads them."""
    site, device = ctx.site, ctx.device
    kind = device.kind.value if device is not None else None
    # the words the hotline reads (fleet.words), in French whatever the language of the run
    with use_language(load_language("fr")):
        kind_word, reason_word = word("kind", kind), word("reason", incident.reason)
    rows: list[tuple[str, str]] = []
    if site is not None:
        rows.append(("Site", f"{site.name} ({site.id})"))
        rows.append(("Adresse", f"{site.address}, {site.postcode} {site.commune}"))
    else:
        rows.append(("Site", f"{incident.site_id} (absent de l'inventaire)"))
    what = incident.device + (f" — {kind_word}" if kind else "")
    if device is not None and device.model:
        what += f", modèle {device.model}"
    rows.append(("Équipement", what))
    rows.append(("N° de série", serial_of(device) or NO_SERIAL))
    location = (device.location or None) if device is not None else None
    if location:
        rows.append(("Emplacement", location))
    rows.append(("Problème", incident.title))
    rows.append(("Contrôle", f"{incident.check} (raison : {reason_word})"))
    rows.append(("Gravité", SEVERITY_FR.get(incident.severity, incident.severity)
                 + (" — tout le site est coupé" if incident.root_cause else "")))  # fmt: skip
    rows.append(("Depuis le", ctx.local(incident.opened_at)))
    if site is not None:
        r = site.referent
        rows.append(("Référent sur place", ", ".join(x for x in (r.name, r.phone, r.email) if x)))
    return rows


def _html(paragraphs: list[str]) -> str:
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


# ------------------------------------------------------------------------------ GLPI -------


def ticket_name(key: str, incident: IncidentView) -> str:
    return f"[{key}] {incident.device} : {incident.title}"[:255]


def ticket_content(key: str, incident: IncidentView, ctx: Context) -> str:
    head = f"Incident Relais n° {incident.id}, détecté par la supervision."
    body = "\n".join(f"{label} : {value}" for label, value in facts(incident, ctx))
    hours = ("Horaires d'ouverture du site :\n" + "\n".join(opening_hours(ctx.site))) if ctx.site else ""
    sav = ""
    if ctx.site is not None:
        s = ctx.site.sav
        contract = f"contrat {s.contract}" if s.contract else ""
        sav = "SAV du site : " + ", ".join(x for x in (s.name, s.phone, s.email, contract) if x)
    return _html([p for p in (head, body, hours, sav, f"Réf. Relais : [{key}]") if p])


def _who(entry: EntryView) -> str:
    return entry.actor if entry.actor not in ("", "monitor") else "la supervision"


def event_sentence(entry: EntryView, ctx: Context) -> str:
    """One French sentence for an event handed off as a followup."""
    data: Mapping[str, Any] = entry.data
    when = ctx.local(entry.event_at)
    if entry.kind == "acknowledged":
        line = f"Pris en compte par {_who(entry)} le {when}."
    elif entry.kind == "sav_handoff":
        parts = [str(data.get(k)) for k in ("phone", "email") if data.get(k)]
        if data.get("contract"):
            parts.append(f"contrat {data['contract']}")
        extra = f" ({', '.join(parts)})" if parts else ""
        line = f"Confié au SAV {data.get('supplier', '?')}{extra} par {_who(entry)} le {when}."
    elif entry.kind == "assigned":
        line = f"Confié à {data.get('assignee', '?')} par {_who(entry)} le {when}."
    elif entry.kind == "note":
        return f"Note de {_who(entry)} le {when} :\n{entry.text}"
    elif entry.kind == "reopened":
        line = f"Rouvert par {_who(entry)} le {when}."
    elif entry.kind == "closed":
        line = f"Clos dans Relais par {_who(entry)} le {when}."
    elif entry.kind == "action":  # a remote action (fleet act, fleet diag), issue 12
        return f"Action à distance par {_who(entry)} le {when} :\n{entry.text}"
    elif entry.kind == "resolved":
        if data.get("auto"):
            line = f"Résolu le {when} : la supervision constate le retour à la normale."
        else:
            line = f"Résolu par {_who(entry)} le {when}."
    else:
        line = f"{entry.kind} par {_who(entry)} le {when}."
    text = entry.text.strip()
    default = f"assigned to {data.get('assignee', '')}"
    if text and text != default and not (entry.kind == "resolved" and data.get("auto")):
        line += f"\n{text}"
    elif text and entry.kind == "resolved" and data.get("auto"):
        line += f"\n({text})"
    return line


def followup_content(key: str, entry: EntryView, ctx: Context) -> str:
    return _html([event_sentence(entry, ctx), f"Réf. Relais : {marker(key, entry.event_id)}"])


# ------------------------------------------------------------------------------ e-mail -----


def supplier_address(ctx: Context, handoff: Mapping[str, Any]) -> str:
    """Where the supplier's e-mail goes: the site's SAV address in the inventory as it is now
    when it is still the supplier the incident was handed to (so fixing a wrong address in the
    inventory and retrying works), else the address recorded at hand-off time."""
    if ctx.site is not None and ctx.site.sav.name == handoff.get("supplier") and ctx.site.sav.email:
        return ctx.site.sav.email
    return str(handoff.get("email", ""))


def _mail(sender: str, to: str, subject: str, mid: str, at: datetime, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = mid
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = "fr"
    msg.set_content(body, charset="utf-8")
    return msg


def _subject(incident: IncidentView, ctx: Context) -> str:
    where = ctx.site.name if ctx.site is not None else incident.site_id
    return f"[Relais] Incident n° {incident.id} — {where} — {incident.device}"


def handoff_email(
    key: str, incident: IncidentView, entry: EntryView, ctx: Context, sender: str, domain: str
) -> EmailMessage:
    """The hand-off to the site's SAV supplier (event ``sav_handoff``)."""
    data = entry.data
    contract = f" au titre du contrat {data['contract']}" if data.get("contract") else ""
    lines = [
        "Bonjour,",
        "",
        f"Le réseau Relais vous confie l'incident ci-dessous{contract}.",
        "",
        *(f"{label} : {value}" for label, value in facts(incident, ctx)),
    ]
    if ctx.site is not None:
        lines += ["", "Horaires d'ouverture du site (intervention sur place pendant ces heures) :",
                  *(f"  {x}" for x in opening_hours(ctx.site))]  # fmt: skip
    if entry.text.strip() and entry.text.strip() != f"assigned to {data.get('assignee', '')}":
        lines += ["", f"Message de la hotline : {entry.text.strip()}"]
    lines += [
        "",
        f"Merci de rappeler la référence {key} dans vos réponses (répondre à ce message suffit).",
        "",
        "Cordialement,",
        f"La hotline Relais ({_who(entry)})",
    ]
    mid = message_id(key, entry.event_id, domain)
    return _mail(sender, supplier_address(ctx, data), _subject(incident, ctx), mid, entry.event_at,
                 "\n".join(lines) + "\n")  # fmt: skip


def resolved_email(
    key: str,
    incident: IncidentView,
    entry: EntryView,
    ctx: Context,
    sender: str,
    domain: str,
    thread: EntryView,
) -> EmailMessage:
    """The follow-up when the incident handed to the supplier is resolved."""
    lines = [
        "Bonjour,",
        "",
        f"L'incident n° {incident.id} que nous vous avions confié est résolu.",
        "",
        event_sentence(entry, ctx),
        "",
        f"Site : {ctx.site.name if ctx.site else incident.site_id}",
        f"Équipement : {incident.device}",
        f"N° de série : {serial_of(ctx.device) or NO_SERIAL}",
        "",
        "Si une intervention était prévue, merci de nous dire si elle reste utile.",
        f"Référence : {key}",
        "",
        "Cordialement,",
        "La hotline Relais",
    ]
    mid = message_id(key, entry.event_id, domain)
    first = message_id(key, thread.event_id, domain)
    msg = _mail(sender, supplier_address(ctx, thread.data), "Re: " + _subject(incident, ctx) + " — résolu",
                mid, entry.event_at, "\n".join(lines) + "\n")  # fmt: skip
    msg["In-Reply-To"] = first
    msg["References"] = first
    return msg
