"""The sender: takes queued hand-off rows and delivers them, in order per incident.

:func:`run_once` is one pass — what ``fleet handoff sync --once`` runs, and what a poller's
daemon loop may call after each cycle so one process is enough on a small network.  It
announces the channels it is configured for (from then on changes are queued for them), then
claims queues one at a time (a lease in the store: several senders on one PostgreSQL store
share the work and never deliver the same row twice), and for each delivers its due rows in
order: a transient failure puts the row back with a backoff and leaves the queue for later; a
refusal marks it failed and stops the queue until ``fleet handoff retry N``; a channel failure
(credentials, TLS) stops using that channel for this pass.

Every error text is scrubbed of the configured secrets before it is stored or returned.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from fleet.handoff import content, tickets
from fleet.handoff.config import HandoffConfig
from fleet.handoff.errors import ChannelError, RefusedError, TransientError, scrub
from fleet.handoff.glpi import GlpiApi, connect
from fleet.handoff.mail import SmtpFactory, send_message
from fleet.incidents.lifecycle import IncidentView, get_incident
from fleet.inventory.models import Inventory
from fleet.store.db import Store
from fleet.store.outbox import (
    EMAIL,
    EMAIL_START,
    GLPI,
    LEASE,
    Claim,
    EntryView,
    claim_queue,
    email_thread,
    enable_channels,
    head_entry,
    mark_delivered,
    mark_failed,
    mark_retry,
    release,
    set_queue_ref,
    still_mine,
)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunReport:
    delivered: list[tuple[int, str, str]] = field(default_factory=list)
    """(incident, channel, event kind) delivered by this pass."""
    retried: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(incident, channel, kind, error): tried and put back for later."""
    failed: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(incident, channel, kind, error): refused, waiting for the hotline."""
    channel_errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.channel_errors

    def to_json(self) -> dict[str, Any]:
        return {
            "delivered": [{"incident": i, "channel": c, "kind": k} for i, c, k in self.delivered],
            "retried": [{"incident": i, "channel": c, "kind": k, "error": e} for i, c, k, e in self.retried],
            "failed": [{"incident": i, "channel": c, "kind": k, "error": e} for i, c, k, e in self.failed],
            "channel_errors": dict(self.channel_errors),
        }


@dataclass
class _Pass:
    store: Store
    config: HandoffConfig
    inventory: Inventory | None
    clock: Clock
    owner: str
    lease: timedelta
    glpi_transport: httpx.BaseTransport | None
    smtp_context: ssl.SSLContext | None
    smtp_factory: SmtpFactory
    report: RunReport = field(default_factory=RunReport)
    glpi: GlpiApi | None = None

    def scrub(self, text: str) -> str:
        return scrub(text, self.config.secret_values())

    def api(self) -> GlpiApi:
        if self.glpi is None:
            assert self.config.glpi is not None
            self.glpi = connect(self.config.glpi, self.glpi_transport)
        return self.glpi

    def close(self) -> None:
        if self.glpi is not None:
            self.glpi.close()
            self.glpi = None

    # --------------------------------------------------------------------- per channel ---

    def deliver_glpi(self, claim: Claim, incident: IncidentView, entry: EntryView) -> tuple[str, Claim]:
        key = content.ticket_key(self.config.instance, incident.id)
        ctx = content.Context.of(self.inventory, incident)
        current = claim

        def remember(ticket: int, note: str) -> None:
            nonlocal current
            current = set_queue_ref(self.store, current, str(ticket), self.clock(), note)

        done = tickets.deliver(self.api(), key, incident, entry, ctx, claim.ref, remember)
        return done.detail, current

    def deliver_email(self, incident: IncidentView, entry: EntryView) -> tuple[str, str]:
        smtp = self.config.smtp
        assert smtp is not None
        key = content.ticket_key(self.config.instance, incident.id)
        ctx = content.Context.of(self.inventory, incident)
        if entry.kind == EMAIL_START:
            msg = content.handoff_email(key, incident, entry, ctx, smtp.sender, smtp.domain)
        else:
            thread = email_thread(self.store, incident.id, entry.event_id)
            if thread is None:
                return "no hand-off e-mail to follow up", ""
            msg = content.resolved_email(key, incident, entry, ctx, smtp.sender, smtp.domain, thread)
        if not msg["To"]:
            raise RefusedError("no e-mail address for the SAV supplier (site_sav.email in the inventory)")
        send_message(smtp, msg, context=self.smtp_context, factory=self.smtp_factory)
        mid = str(msg["Message-ID"])
        return mid, f"e-mail sent to {msg['To']} ({mid})"

    # ------------------------------------------------------------------------- queues ----

    def work(self, claim: Claim, channels: set[str]) -> None:
        incident = get_incident(self.store, claim.incident_id)
        while True:
            entry = head_entry(self.store, claim, self.clock())
            if entry is None:
                return
            note: str | None = None
            try:
                if claim.channel == GLPI:
                    ref, claim = self.deliver_glpi(claim, incident, entry)
                else:
                    ref, note = self.deliver_email(incident, entry)
            except ChannelError as exc:
                message = self.scrub(str(exc))
                mark_retry(self.store, entry.id, self.clock(), message)
                self.report.channel_errors[claim.channel] = message
                channels.discard(claim.channel)
                if claim.channel == GLPI:
                    self.close()
                return
            except RefusedError as exc:
                message = self.scrub(str(exc))
                mark_failed(self.store, entry.id, self.clock(), message)
                self.report.failed.append((claim.incident_id, claim.channel, entry.kind, message))
                return
            except Exception as exc:  # transient, or any surprise: the row waits, the run goes on
                text = str(exc) if isinstance(exc, TransientError) else f"{exc.__class__.__name__}: {exc}"
                message = self.scrub(text)
                mark_retry(self.store, entry.id, self.clock(), message)
                self.report.retried.append((claim.incident_id, claim.channel, entry.kind, message))
                return
            mark_delivered(self.store, entry.id, self.clock(), ref=ref[:255] or None, note=note or None)
            self.report.delivered.append((claim.incident_id, claim.channel, entry.kind))
            if not still_mine(self.store, claim, self.clock(), self.lease):
                return


def run_once(
    store: Store,
    config: HandoffConfig,
    inventory: Inventory | None,
    *,
    clock: Clock = system_clock,
    owner: str | None = None,
    lease: timedelta = LEASE,
    glpi_transport: httpx.BaseTransport | None = None,
    smtp_context: ssl.SSLContext | None = None,
    smtp_factory: SmtpFactory = smtplib.SMTP,
    max_queues: int = 10_000,
) -> RunReport:
    """One pass of the sender over every due queue (see the module's docstring)."""
    run = _Pass(store, config, inventory, clock, owner or f"sender-{uuid.uuid4().hex[:16]}", lease,
                glpi_transport, smtp_context, smtp_factory)  # fmt: skip
    channels = set(config.channels)
    if not channels:
        return run.report
    enable_channels(store, sorted(channels), clock())
    try:
        for _ in range(max_queues):
            claim = claim_queue(store, run.owner, sorted(channels), clock(), lease)
            if claim is None:
                break
            try:
                run.work(claim, channels)
            finally:
                release(store, claim)
    finally:
        run.close()
    return run.report


__all__ = ["EMAIL", "GLPI", "RunReport", "run_once", "system_clock"]
