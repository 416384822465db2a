"""Incident lifecycle: open -> acknowledged -> in_progress (SAV) -> resolved -> closed.

Every transition is recorded as an :class:`~fleet.store.models.IncidentEvent`.  Opening relies
on the database: a partial unique index allows one incident per (device, check) whose status is
not resolved/closed, so :func:`open_incident` just INSERTs inside a savepoint, and when the
INSERT hits the index another poller (or an earlier run of this one) won: it returns None and
the caller's transaction goes on.

Functions taking a ``Session`` run inside the caller's transaction (the monitor cycle);
functions taking a ``Store`` are the hotline's and commit their own.  Every function takes the
instant (``at``): no clock is read here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from fleet.errors import IncidentError
from fleet.inventory.models import Supplier
from fleet.store.db import Store
from fleet.store.models import OPEN_STATUSES, Incident, IncidentEvent
from fleet.store.outbox import enqueue_event

SYSTEM_ACTOR = "monitor"


@dataclass(frozen=True, slots=True)
class EventView:
    at: datetime
    kind: str
    actor: str
    text: str
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "text": self.text,
            "data": dict(self.data),
        }


@dataclass(frozen=True, slots=True)
class IncidentView:
    """A read-only copy of an incident, safe to use after its session is gone."""

    id: int
    device: str
    site_id: str
    check: str
    status: str
    reason: str
    severity: str
    title: str
    root_cause: bool
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assigned_to: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    closed_at: datetime | None
    events: tuple[EventView, ...] = ()
    acknowledged_until: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def to_json(self, with_events: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "device": self.device,
            "site": self.site_id,
            "check": self.check,
            "status": self.status,
            "reason": self.reason,
            "severity": self.severity,
            "title": self.title,
            "root_cause": self.root_cause,
            "opened_at": self.opened_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "acknowledged_at": _iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_until": _iso(self.acknowledged_until),
            "assigned_to": self.assigned_to,
            "resolved_at": _iso(self.resolved_at),
            "resolved_by": self.resolved_by,
            "closed_at": _iso(self.closed_at),
        }
        if with_events:
            data["events"] = [e.to_json() for e in self.events]
        return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def view(row: Incident, with_events: bool = False) -> IncidentView:
    events = (
        tuple(EventView(e.at, e.kind, e.actor, e.text, dict(e.data)) for e in row.events)
        if with_events
        else ()
    )
    return IncidentView(
        id=row.id,
        device=row.device,
        site_id=row.site_id,
        check=row.check,
        status=row.status,
        reason=row.reason,
        severity=row.severity,
        title=row.title,
        root_cause=row.root_cause,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        assigned_to=row.assigned_to,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        closed_at=row.closed_at,
        events=events,
        acknowledged_until=row.acknowledged_until,
    )


# --------------------------------------------------------------- inside a transaction -----


def _event(
    session: Session,
    incident: Incident,
    *,
    at: datetime,
    kind: str,
    actor: str,
    text: str = "",
    data: Mapping[str, Any] | None = None,
) -> None:
    event = IncidentEvent(
        incident_id=incident.id, at=at, kind=kind, actor=actor, text=text, data=dict(data or {})
    )
    session.add(event)
    incident.updated_at = at
    # SAV hand-off (issue 13): what must leave Relais is queued in this same transaction.
    enqueue_event(session, incident, event)


def open_incidents_of(session: Session, device: str) -> dict[str, Incident]:
    """The device's open incidents, by check."""
    rows = session.scalars(
        select(Incident).where(Incident.device == device, Incident.status.in_(OPEN_STATUSES))
    )
    return {r.check: r for r in rows}


def open_incident(
    session: Session,
    *,
    device: str,
    site_id: str,
    check: str,
    reason: str,
    severity: str,
    title: str,
    at: datetime,
    root_cause: bool = False,
    actor: str = SYSTEM_ACTOR,
    detail: str = "",
) -> Incident | None:
    """INSERT a new open incident; None when one is already open for (device, check)."""
    row = Incident(
        device=device,
        site_id=site_id,
        check=check,
        status="open",
        reason=reason,
        severity=severity,
        title=title,
        root_cause=root_cause,
        opened_at=at,
        updated_at=at,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # The partial unique index said no: someone else opened it first.  The savepoint
        # rollback undid only this INSERT; the caller's transaction is intact.
        return None
    _event(
        session,
        row,
        at=at,
        kind="opened",
        actor=actor,
        text=detail or title,
        data={"reason": reason, "severity": severity, "root_cause": root_cause},
    )
    return row


def update_reason(session: Session, incident: Incident, *, reason: str, title: str, at: datetime) -> None:
    if incident.reason == reason and incident.title == title:
        return
    old = incident.reason
    incident.reason, incident.title = reason, title
    _event(
        session,
        incident,
        at=at,
        kind="reason_changed",
        actor=SYSTEM_ACTOR,
        text=title,
        data={"from": old, "to": reason},
    )


def resolve_in(
    session: Session, incident: Incident, *, at: datetime, by: str, text: str = "", auto: bool
) -> None:
    if incident.status not in OPEN_STATUSES:
        raise IncidentError(f"incident #{incident.id} is {incident.status}: cannot resolve it")
    incident.status = "resolved"
    incident.resolved_at = at
    incident.resolved_by = by
    _event(session, incident, at=at, kind="resolved", actor=by, text=text, data={"auto": auto})


# --------------------------------------------------------------- hotline operations -------


def _load(session: Session, incident_id: int) -> Incident:
    row = session.get(Incident, incident_id, with_for_update=True)
    if row is None:
        raise IncidentError(f"incident #{incident_id} does not exist")
    return row


def _need(row: Incident, allowed: Sequence[str], what: str) -> None:
    if row.status not in allowed:
        raise IncidentError(
            f"incident #{row.id} is {row.status}: cannot {what} it (only when {' or '.join(allowed)})"
        )


def _actor(who: str) -> str:
    who = who.strip()
    if not who:
        raise IncidentError("who: an operator name is required (--by NAME or $USER)")
    return who


def acknowledge(
    store: Store,
    incident_id: int,
    *,
    who: str,
    at: datetime,
    text: str = "",
    until: datetime | None = None,
) -> None:
    """The hotline has seen it: open -> acknowledged.  With ``until``, the acknowledgement
    expires then and the incident is open again (:func:`expire_acknowledgements`)."""
    who = _actor(who)
    if until is not None and until <= at:
        raise IncidentError(f"acknowledge: the expiry {until.isoformat()} is not in the future")
    with store.write() as session:
        row = _load(session, incident_id)
        _need(row, ("open",), "acknowledge")
        row.status = "acknowledged"
        row.acknowledged_at, row.acknowledged_by = at, who
        row.acknowledged_until = until
        data = {"until": until.isoformat()} if until is not None else {}
        _event(session, row, at=at, kind="acknowledged", actor=who, text=text, data=data)


def expire_acknowledgements(store: Store, at: datetime) -> list[int]:
    """Acknowledgements whose expiry has passed: the incident is open again (an event
    ``ack_expired`` says so).  Returns the incidents reopened.  Called periodically (the
    dashboard's housekeeping; the poller may call it each cycle)."""
    with store.write() as session:
        rows = session.scalars(
            select(Incident).where(
                Incident.status == "acknowledged",
                Incident.acknowledged_until.is_not(None),
                Incident.acknowledged_until <= at,
            ).with_for_update()
        ).all()
        for row in rows:
            until = row.acknowledged_until
            row.status = "open"
            row.acknowledged_until = None
            _event(session, row, at=at, kind="ack_expired", actor=SYSTEM_ACTOR,
                   text="acknowledgement expired", data={"until": until.isoformat() if until else None})
        return [r.id for r in rows]


def assign(
    store: Store,
    incident_id: int,
    *,
    to: str | Supplier,
    who: str,
    at: datetime,
    text: str = "",
) -> None:
    """Hand it to someone (by default the site's SAV supplier): -> in_progress."""
    who = _actor(who)
    data: dict[str, Any] = {}
    if isinstance(to, Supplier):
        data = {"supplier": to.name, "phone": to.phone, "email": to.email, "contract": to.contract}
        name, kind = to.name, "sav_handoff"
    else:
        name, kind = to.strip(), "assigned"
        if not name:
            raise IncidentError("assign: the assignee is empty")
    with store.write() as session:
        row = _load(session, incident_id)
        _need(row, OPEN_STATUSES, "assign")
        previous = row.assigned_to
        row.status = "in_progress"
        row.assigned_to = name
        if row.acknowledged_at is None:
            row.acknowledged_at, row.acknowledged_by = at, who
        _event(
            session,
            row,
            at=at,
            kind=kind,
            actor=who,
            text=text or f"assigned to {name}",
            data={**data, "assignee": name, "previous": previous},
        )


def note(store: Store, incident_id: int, *, who: str, text: str, at: datetime) -> None:
    """Annotate (any status, even closed: the history may need a late note)."""
    who = _actor(who)
    if not text.strip():
        raise IncidentError("note: the text is empty")
    with store.write() as session:
        row = _load(session, incident_id)
        _event(session, row, at=at, kind="note", actor=who, text=text.strip())


def record_action(
    store: Store,
    incident_id: int,
    *,
    who: str,
    action: str,
    outcome: str,
    at: datetime,
    data: Mapping[str, Any] | None = None,
    text: str = "",
) -> None:
    """A remote action taken for this incident (restart kiosk, wipe, reboot...) and its result."""
    who = _actor(who)
    with store.write() as session:
        row = _load(session, incident_id)
        _event(
            session,
            row,
            at=at,
            kind="action",
            actor=who,
            text=text or f"{action}: {outcome}",
            data={"action": action, "outcome": outcome, **dict(data or {})},
        )


def resolve(store: Store, incident_id: int, *, who: str, at: datetime, text: str = "") -> None:
    """Resolved by hand.  If the problem is still there, the monitor does not reopen it until
    the check has recovered once (see ``CheckState.alerted``)."""
    who = _actor(who)
    with store.write() as session:
        row = _load(session, incident_id)
        resolve_in(session, row, at=at, by=who, text=text, auto=False)


def close(store: Store, incident_id: int, *, who: str, at: datetime, text: str = "") -> None:
    """Close a resolved incident (the end of its life)."""
    who = _actor(who)
    with store.write() as session:
        row = _load(session, incident_id)
        _need(row, ("resolved",), "close")
        row.status = "closed"
        row.closed_at = at
        _event(session, row, at=at, kind="closed", actor=who, text=text)


# --------------------------------------------------------------------------- reading ------


def get_incident(store: Store, incident_id: int) -> IncidentView:
    with store.read() as session:
        row = session.get(Incident, incident_id, options=[selectinload(Incident.events)])
        if row is None:
            raise IncidentError(f"incident #{incident_id} does not exist")
        return view(row, with_events=True)


def list_incidents(
    store: Store,
    *,
    site_id: str | None = None,
    device: str | None = None,
    statuses: Sequence[str] | None = OPEN_STATUSES,
    since: datetime | None = None,
    limit: int = 500,
) -> list[IncidentView]:
    """Most recent first.  ``statuses`` None: every status."""
    with store.read() as session:
        query = select(Incident).order_by(Incident.opened_at.desc(), Incident.id.desc())
        if site_id is not None:
            query = query.where(Incident.site_id == site_id)
        if device is not None:
            query = query.where(Incident.device == device)
        if statuses is not None:
            query = query.where(Incident.status.in_(tuple(statuses)))
        if since is not None:
            query = query.where(Incident.opened_at >= since)
        return [view(r) for r in session.scalars(query.limit(limit))]


def page_incidents(
    store: Store,
    *,
    site_id: str | None = None,
    devices: Sequence[str] | None = None,
    severities: Sequence[str] | None = None,
    statuses: Sequence[str] | None = OPEN_STATUSES,
    opened_after: datetime | None = None,
    opened_before: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[IncidentView], int | None]:
    """One page of incidents, newest first, and the id to continue from (None: last page).

    Keyset pagination on the id (never OFFSET): every page costs the same however deep, so
    the hotline's list stays fast on a store with a million events.  ``devices``: only these
    hostnames (the dashboard's "kind" filter); ``statuses`` None: every status."""
    with store.read() as session:
        query = select(Incident).order_by(Incident.id.desc())
        if site_id is not None:
            query = query.where(Incident.site_id == site_id)
        if devices is not None:
            query = query.where(Incident.device.in_(tuple(devices)))
        if severities is not None:
            query = query.where(Incident.severity.in_(tuple(severities)))
        if statuses is not None:
            query = query.where(Incident.status.in_(tuple(statuses)))
        if opened_after is not None:
            query = query.where(Incident.opened_at >= opened_after)
        if opened_before is not None:
            query = query.where(Incident.opened_at < opened_before)
        if before_id is not None:
            query = query.where(Incident.id < before_id)
        rows = [view(r) for r in session.scalars(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def count_open(store: Store) -> dict[str, int]:
    """Open incidents by severity (the dashboard's header, ``/metrics``)."""
    with store.read() as session:
        rows = session.execute(
            select(Incident.severity, func.count())
            .where(Incident.status.in_(OPEN_STATUSES))
            .group_by(Incident.severity)
        ).all()
        return {str(sev): int(n) for sev, n in rows}
