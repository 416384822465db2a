"""The SAV hand-off outbox: what must leave Relais (GLPI, e-mail), queued with the change.

Tables and queries only; delivering is :mod:`fleet.handoff` (layer 5).  Three tables:

``handoff_channels``
    The channels a sender has announced (``glpi``, ``email``).  An incident change is queued
    for a channel only once a sender configured for it has run (``fleet handoff sync``), so
    every writer (pollers on other machines, the hotline's CLI) queues the same thing whatever
    its own settings, and years of history are not pushed into GLPI the day it is configured.

``handoff_queues``
    One row per (incident, channel): the remote reference (the GLPI ticket id) and the sender's
    lease.  A sender claims a queue (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one
    writer at a time) and holds it for :data:`LEASE`: two senders never work on the same
    incident at once, and a killed sender's queues are taken over when its lease runs out.

``handoff_outbox``
    One row per (incident event, channel), written by :func:`enqueue_event` in the transaction
    that records the event (``fleet.incidents.lifecycle._event`` is the only place events are
    written).  Delivered in id order per queue; a failed row blocks its queue until
    :func:`retry_incident` (or :func:`skip_failed` gives it up).  Rows are never deleted (they
    are the hand-off's history).

Exactly-once towards GLPI does not rest on this table alone (a sender may die after GLPI acted
and before the row is marked): :mod:`fleet.handoff.tickets` looks every step up before doing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from fleet.store.db import Store
from fleet.store.models import Base, Incident, IncidentEvent

#: Channels, and the incident event kinds each one carries out of Relais.
GLPI = "glpi"
EMAIL = "email"
CHANNELS = (GLPI, EMAIL)
GLPI_KINDS = frozenset(
    {"opened", "acknowledged", "assigned", "sav_handoff", "note", "resolved", "reopened", "closed", "action"}
)
#: E-mail: the hand-off to the SAV supplier, and the follow-up when it is resolved.
EMAIL_START = "sav_handoff"
EMAIL_FOLLOW = frozenset({"resolved"})
#: Events the hand-off itself writes on the incident (never queued).
HANDOFF_EVENT = "handoff"
HANDOFF_FAILED_EVENT = "handoff_failed"

STATUSES = ("pending", "delivered", "failed", "skipped")
#: Rows still to go out (the first of them heads its queue).
WAITING = ("pending", "failed")
LEASE = timedelta(minutes=5)
_CHANNELS_CACHE = "relais_handoff_channels"


class HandoffChannel(Base):
    __tablename__ = "handoff_channels"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]


class HandoffQueue(Base):
    __tablename__ = "handoff_queues"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    ref: Mapped[str | None] = mapped_column(String(128))
    """The remote object: the GLPI ticket id (as text)."""
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


class OutboxEntry(Base):
    __tablename__ = "handoff_outbox"
    __table_args__ = (
        UniqueConstraint("event_id", "channel"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed', 'skipped')", name="status"),
        Index(None, "incident_id", "channel", "id"),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("incident_events.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    ref: Mapped[str | None] = mapped_column(String(255))
    """What the delivery made: a GLPI followup id, a Message-ID..."""


# ------------------------------------------------------------------- writing (enqueue) -----


def enabled_channels(session: Session) -> frozenset[str]:
    """The channels announced by a sender (cached for the transaction)."""
    cached = session.info.get(_CHANNELS_CACHE)
    if cached is None:
        cached = frozenset(session.scalars(select(HandoffChannel.channel)))
        session.info[_CHANNELS_CACHE] = cached
    return frozenset(cached)


def channels_for(
    kind: str, data: Mapping[str, Any], enabled: Iterable[str], email_started: bool
) -> list[str]:
    """Which channels carry an event of this kind (pure: the routing rule, once)."""
    on = set(enabled)
    out: list[str] = []
    if GLPI in on and kind in GLPI_KINDS:
        out.append(GLPI)
    if EMAIL in on and (
        (kind == EMAIL_START and data.get("email")) or (kind in EMAIL_FOLLOW and email_started)
    ):
        out.append(EMAIL)
    return out


def _ensure_queue(session: Session, incident_id: int, channel: str) -> None:
    if session.get(HandoffQueue, (incident_id, channel)) is not None:
        return
    try:
        with session.begin_nested():
            session.add(HandoffQueue(incident_id=incident_id, channel=channel))
            session.flush()
    except IntegrityError:
        pass  # another transaction created it first: fine, it is the same queue


def enqueue_event(session: Session, incident: Incident, event: IncidentEvent) -> int:
    """Queue ``event`` for every channel that carries it, inside the caller's transaction (the
    one recording the event: both commit or neither).  Returns how many rows were queued."""
    enabled = enabled_channels(session)
    if not enabled:
        return 0
    email_started = EMAIL in enabled and (
        session.get(HandoffQueue, (incident.id, EMAIL)) is not None
    )
    channels = channels_for(event.kind, event.data or {}, enabled, email_started)
    if not channels:
        return 0
    session.flush()  # the event's id
    for channel in channels:
        _ensure_queue(session, incident.id, channel)
        session.add(
            OutboxEntry(
                incident_id=incident.id,
                event_id=event.id,
                channel=channel,
                kind=event.kind,
                created_at=event.at,
                status="pending",
                attempts=0,
                next_attempt_at=event.at,
            )
        )
    session.flush()
    return len(channels)


def enable_channels(store: Store, channels: Iterable[str], at: datetime) -> None:
    """A sender configured for ``channels`` runs: changes are queued for them from now on."""
    with store.write(lock="handoff-channels") as session:
        for channel in channels:
            if channel not in CHANNELS:
                raise ValueError(f"unknown hand-off channel {channel!r}")
            row = session.get(HandoffChannel, channel)
            if row is None:
                session.add(HandoffChannel(channel=channel, enabled_at=at, last_run_at=at))
            else:
                row.last_run_at = at


# ------------------------------------------------------------------ the sender's side -----


@dataclass(frozen=True, slots=True)
class Claim:
    incident_id: int
    channel: str
    owner: str
    ref: str | None


@dataclass(frozen=True, slots=True)
class EntryView:
    """An outbox row with its event, detached from the session."""

    id: int
    incident_id: int
    event_id: int
    channel: str
    kind: str
    created_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    ref: str | None
    event_at: datetime
    actor: str
    text: str
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident": self.incident_id,
            "event": self.event_id,
            "channel": self.channel,
            "kind": self.kind,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": self.next_attempt_at.isoformat() if self.status == "pending" else None,
            "last_error": self.last_error,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "ref": self.ref,
        }


def _view(row: OutboxEntry, event: IncidentEvent) -> EntryView:
    return EntryView(
        id=row.id,
        incident_id=row.incident_id,
        event_id=row.event_id,
        channel=row.channel,
        kind=row.kind,
        created_at=row.created_at,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        ref=row.ref,
        event_at=event.at,
        actor=event.actor,
        text=event.text,
        data=dict(event.data or {}),
    )


def _head_ids() -> Any:
    """Per queue, the first row not yet delivered (the only one that may be sent)."""
    return (
        select(
            OutboxEntry.incident_id.label("incident_id"),
            OutboxEntry.channel.label("channel"),
            func.min(OutboxEntry.id).label("head_id"),
        )
        .where(OutboxEntry.status.in_(WAITING))
        .group_by(OutboxEntry.incident_id, OutboxEntry.channel)
        .subquery()
    )


def claim_queue(
    store: Store,
    owner: str,
    channels: Sequence[str],
    now: datetime,
    lease: timedelta = LEASE,
    exclude: Iterable[tuple[int, str]] = (),
) -> Claim | None:
    """Take the lease of the queue whose first undelivered row is due and oldest.

    A queue whose first undelivered row failed is blocked (nothing after it is sent); one
    leased by a live sender is skipped; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets two
    senders claim different queues at the same moment without waiting for each other."""
    if not channels:
        return None
    head = _head_ids()
    skip = set(exclude)
    with store.write() as session:
        query = (
            select(HandoffQueue)
            .join(
                head,
                and_(
                    head.c.incident_id == HandoffQueue.incident_id,
                    head.c.channel == HandoffQueue.channel,
                ),
            )
            .join(OutboxEntry, OutboxEntry.id == head.c.head_id)
            .where(
                HandoffQueue.channel.in_(tuple(channels)),
                OutboxEntry.status == "pending",
                OutboxEntry.next_attempt_at <= now,
                or_(HandoffQueue.lease_until.is_(None), HandoffQueue.lease_until < now),
            )
            .order_by(head.c.head_id)
            .limit(len(skip) + 1)
        )
        if store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=HandoffQueue)
        for row in session.scalars(query):
            if (row.incident_id, row.channel) in skip:
                continue
            row.lease_owner, row.lease_until = owner, now + lease
            return Claim(row.incident_id, row.channel, owner, row.ref)
    return None


def head_entry(store: Store, claim: Claim, now: datetime) -> EntryView | None:
    """The claimed queue's first undelivered row, if it is pending and due."""
    with store.read() as session:
        row = session.scalars(
            select(OutboxEntry)
            .where(
                OutboxEntry.incident_id == claim.incident_id,
                OutboxEntry.channel == claim.channel,
                OutboxEntry.status.in_(WAITING),
            )
            .order_by(OutboxEntry.id)
            .limit(1)
        ).first()
        if row is None or row.status != "pending" or row.next_attempt_at > now:
            return None
        event = session.get(IncidentEvent, row.event_id)
        assert event is not None  # FK
        return _view(row, event)


def still_mine(store: Store, claim: Claim, now: datetime, lease: timedelta = LEASE) -> bool:
    """Renew the lease; False when another sender has taken the queue over."""
    with store.write() as session:
        result = session.execute(
            update(HandoffQueue)
            .where(
                HandoffQueue.incident_id == claim.incident_id,
                HandoffQueue.channel == claim.channel,
                HandoffQueue.lease_owner == claim.owner,
            )
            .values(lease_until=now + lease)
        )
        return bool(getattr(result, "rowcount", 0))


def release(store: Store, claim: Claim) -> None:
    with store.write() as session:
        session.execute(
            update(HandoffQueue)
            .where(
                HandoffQueue.incident_id == claim.incident_id,
                HandoffQueue.channel == claim.channel,
                HandoffQueue.lease_owner == claim.owner,
            )
            .values(lease_owner=None, lease_until=None)
        )


def _handoff_event(
    session: Session, incident_id: int, at: datetime, kind: str, text: str, data: Mapping[str, Any]
) -> None:
    # Written here rather than through fleet.incidents.lifecycle: these kinds never leave Relais.
    session.add(
        IncidentEvent(
            incident_id=incident_id, at=at, kind=kind, actor="handoff", text=text, data=dict(data)
        )
    )


def set_queue_ref(store: Store, claim: Claim, ref: str, at: datetime, note: str) -> Claim:
    """Remember the remote object (the GLPI ticket) of this queue, with a line in the history."""
    with store.write() as session:
        row = session.get(HandoffQueue, (claim.incident_id, claim.channel))
        if row is not None and row.ref != ref:
            row.ref = ref
            _handoff_event(session, claim.incident_id, at, HANDOFF_EVENT, note,
                           {"channel": claim.channel, "ref": ref})  # fmt: skip
    return Claim(claim.incident_id, claim.channel, claim.owner, ref)


def mark_delivered(
    store: Store, entry_id: int, at: datetime, ref: str | None = None, note: str | None = None
) -> bool:
    """The row was delivered (True), or had been marked already (False: nothing changes)."""
    with store.write() as session:
        row = session.get(OutboxEntry, entry_id, with_for_update=True)
        if row is None or row.status not in WAITING:
            return False
        row.status, row.delivered_at, row.ref = "delivered", at, ref
        row.last_error = None
        if note:
            _handoff_event(session, row.incident_id, at, HANDOFF_EVENT, note,
                           {"channel": row.channel, "ref": ref})  # fmt: skip
        return True


def backoff(attempts: int, base: timedelta = timedelta(seconds=30),
            cap: timedelta = timedelta(hours=1)) -> timedelta:  # fmt: skip
    """Delay before attempt ``attempts + 1``: 30 s, 1 min, 2 min ... at most 1 h."""
    delay: timedelta = base * (2 ** max(0, attempts - 1))
    return min(cap, delay)


def mark_retry(store: Store, entry_id: int, at: datetime, error: str) -> datetime | None:
    """A transient failure: try again later (exponential backoff).  Returns when."""
    with store.write() as session:
        row = session.get(OutboxEntry, entry_id, with_for_update=True)
        if row is None or row.status != "pending":
            return None
        row.attempts += 1
        row.last_error = error[:2000]
        row.next_attempt_at = at + backoff(row.attempts)
        return row.next_attempt_at


def mark_failed(store: Store, entry_id: int, at: datetime, error: str) -> None:
    """A definite refusal: the row stops its queue until the hotline retries it; the reason
    is also written on the incident, where the hotline reads it (``fleet incidents show``)."""
    with store.write() as session:
        row = session.get(OutboxEntry, entry_id, with_for_update=True)
        if row is None or row.status != "pending":
            return
        row.attempts += 1
        row.status, row.last_error = "failed", error[:2000]
        _handoff_event(session, row.incident_id, at, HANDOFF_FAILED_EVENT,
                       f"{row.channel} ({row.kind}): {error[:500]}",
                       {"channel": row.channel, "entry": row.id})  # fmt: skip


def retry_incident(store: Store, incident_id: int, at: datetime) -> int:
    """Failed rows of the incident become pending again and every waiting row is due now;
    returns how many rows were touched."""
    with store.write() as session:
        if session.get(Incident, incident_id) is None:
            raise LookupError(incident_id)
        rows = session.scalars(
            select(OutboxEntry).where(
                OutboxEntry.incident_id == incident_id, OutboxEntry.status.in_(WAITING)
            )
        ).all()
        for row in rows:
            if row.status == "failed":
                row.status, row.attempts = "pending", 0
            row.next_attempt_at = at
        session.execute(
            update(HandoffQueue)
            .where(HandoffQueue.incident_id == incident_id)
            .values(lease_owner=None, lease_until=None)
        )
        return len(rows)


def skip_failed(store: Store, incident_id: int, at: datetime, who: str) -> int:
    """Give up the incident's refused rows (recorded as ``skipped``, with who and when, on the
    row and in the incident's history); the rows after them go on.  Returns how many."""
    with store.write() as session:
        if session.get(Incident, incident_id) is None:
            raise LookupError(incident_id)
        rows = session.scalars(
            select(OutboxEntry).where(OutboxEntry.incident_id == incident_id, OutboxEntry.status == "failed")
        ).all()
        for row in rows:
            row.status, row.delivered_at = "skipped", at
            row.ref = f"skipped by {who}"[:255]
            _handoff_event(session, incident_id, at, HANDOFF_EVENT,
                           f"{row.channel} ({row.kind}) given up by {who}: {row.last_error or ''}"[:1000],
                           {"channel": row.channel, "entry": row.id})  # fmt: skip
        return len(rows)


# ----------------------------------------------------------------------------- reading -----


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    channels: tuple[tuple[str, datetime, datetime | None], ...]
    counts: Mapping[str, Mapping[str, int]]
    """channel -> status -> rows."""
    waiting: tuple[EntryView, ...]
    """Pending and failed rows, oldest first."""
    delivered: tuple[EntryView, ...]
    """The most recent delivered (or skipped) rows, newest first."""
    refs: Mapping[tuple[int, str], str]
    """(incident, channel) -> remote reference (GLPI ticket id)."""


def outbox_status(store: Store, delivered_limit: int = 50) -> OutboxStatus:
    with store.read() as session:
        channels = tuple(
            (c.channel, c.enabled_at, c.last_run_at)
            for c in session.scalars(select(HandoffChannel).order_by(HandoffChannel.channel))
        )
        counts: dict[str, dict[str, int]] = {}
        for channel, status, n in session.execute(
            select(OutboxEntry.channel, OutboxEntry.status, func.count())
            .group_by(OutboxEntry.channel, OutboxEntry.status)
        ):  # fmt: skip
            counts.setdefault(channel, {})[status] = int(n)
        waiting = [
            _view(r, e)
            for r, e in session.execute(
                select(OutboxEntry, IncidentEvent)
                .join(IncidentEvent, IncidentEvent.id == OutboxEntry.event_id)
                .where(OutboxEntry.status.in_(WAITING))
                .order_by(OutboxEntry.id)
            ).tuples()
        ]
        delivered = [
            _view(r, e)
            for r, e in session.execute(
                select(OutboxEntry, IncidentEvent)
                .join(IncidentEvent, IncidentEvent.id == OutboxEntry.event_id)
                .where(OutboxEntry.status.not_in(WAITING))
                .order_by(OutboxEntry.id.desc())
                .limit(delivered_limit)
            ).tuples()
        ]
        refs = {
            (q.incident_id, q.channel): q.ref
            for q in session.scalars(select(HandoffQueue).where(HandoffQueue.ref.is_not(None)))
            if q.ref is not None
        }
        return OutboxStatus(channels, counts, tuple(waiting), tuple(delivered), refs)


def entries_of(store: Store, incident_id: int) -> list[EntryView]:
    """Every outbox row of one incident, in order."""
    with store.read() as session:
        return [
            _view(r, e)
            for r, e in session.execute(
                select(OutboxEntry, IncidentEvent)
                .join(IncidentEvent, IncidentEvent.id == OutboxEntry.event_id)
                .where(OutboxEntry.incident_id == incident_id)
                .order_by(OutboxEntry.id)
            ).tuples()
        ]


def queue_ref(store: Store, incident_id: int, channel: str) -> str | None:
    with store.read() as session:
        row = session.get(HandoffQueue, (incident_id, channel))
        return None if row is None else row.ref


def email_thread(store: Store, incident_id: int, before_event: int) -> EntryView | None:
    """The last e-mail hand-off (``sav_handoff``) of the incident before ``before_event``: the
    message a resolution follow-up answers."""
    with store.read() as session:
        found = session.execute(
            select(OutboxEntry, IncidentEvent)
            .join(IncidentEvent, IncidentEvent.id == OutboxEntry.event_id)
            .where(
                OutboxEntry.incident_id == incident_id,
                OutboxEntry.channel == EMAIL,
                OutboxEntry.kind == EMAIL_START,
                OutboxEntry.event_id < before_event,
            )
            .order_by(OutboxEntry.id.desc())
            .limit(1)
        ).first()
        return None if found is None else _view(found[0], found[1])
