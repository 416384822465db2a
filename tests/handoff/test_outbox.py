"""The outbox in the store, on SQLite and PostgreSQL: queued in the same transaction as the
change, routed per channel, delivered in order per incident, backoff, leases, retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fleet.incidents.lifecycle import acknowledge, close, get_incident, open_incident
from fleet.monitor.cycle import apply_samples
from fleet.monitor.rules_file import load_rules
from fleet.store import Store
from fleet.store.outbox import (
    EMAIL,
    GLPI,
    OutboxEntry,
    backoff,
    channels_for,
    claim_queue,
    enable_channels,
    entries_of,
    head_entry,
    mark_delivered,
    mark_failed,
    mark_retry,
    release,
    retry_incident,
)
from tests.handoff.samples import (
    SITE_ID,
    T0,
    add_note,
    florac,
    hand_to_supplier,
    hours,
    open_borne,
    resolve_it,
)
from tests.incidents.samples import REPO, site_samples


def _count(store: Store) -> int:
    with store.read() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxEntry)) or 0)


def test_nothing_is_queued_before_a_sender_announced_a_channel(store: Store) -> None:
    incident = open_borne(store)
    add_note(store, incident, T0 + hours(1))
    assert _count(store) == 0
    enable_channels(store, [GLPI], T0 + hours(2))
    add_note(store, incident, T0 + hours(3))
    assert [e.kind for e in entries_of(store, incident)] == ["note"]  # control: now it is


def test_the_change_and_its_queued_row_commit_together_or_not_at_all(store: Store) -> None:
    enable_channels(store, [GLPI], T0)
    with pytest.raises(RuntimeError), store.write() as session:
        open_incident(
            session,
            device="pc1",
            site_id=SITE_ID,
            check="reachability",
            reason="no_answer",
            severity="major",
            title="t",
            at=T0,
        )
        session.flush()
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 1
        raise RuntimeError("crash before commit")
    assert _count(store) == 0
    open_borne(store)  # control: committed, both are there
    assert _count(store) == 1


def test_a_monitor_cycle_queues_what_it_opens_and_resolves(store: Store) -> None:
    enable_channels(store, [GLPI], T0)
    site = florac()
    rules = load_rules(REPO / "monitoring" / "rules.yml")
    borne = next(d for d in site.devices if d.kind.value == "borne")
    for minute in range(4):
        apply_samples(
            store,
            [site],
            site_samples(site.devices, T0 + timedelta(minutes=minute), {borne.hostname}),
            rules,
            T0 + timedelta(minutes=minute),
        )
    for minute in range(4, 7):
        apply_samples(
            store,
            [site],
            site_samples(site.devices, T0 + timedelta(minutes=minute)),
            rules,
            T0 + timedelta(minutes=minute),
        )
    with store.read() as s:
        kinds = [(r.channel, r.kind) for r in s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))]
    assert kinds == [(GLPI, "opened"), (GLPI, "resolved")]


def test_routing_is_data_glpi_gets_every_change_email_only_the_supplier_s() -> None:
    both = (GLPI, EMAIL)
    assert channels_for("opened", {}, both, False) == [GLPI]
    assert channels_for("sav_handoff", {"email": "x@y"}, both, False) == [GLPI, EMAIL]
    assert channels_for("sav_handoff", {"email": ""}, both, False) == [GLPI]
    assert channels_for("resolved", {}, both, False) == [GLPI]
    assert channels_for("resolved", {}, both, True) == [GLPI, EMAIL]
    assert channels_for("reason_changed", {}, both, True) == []
    assert channels_for("note", {}, (EMAIL,), True) == []


def test_rows_go_in_order_and_a_failed_one_blocks_its_queue_until_retried(store: Store) -> None:
    enable_channels(store, [GLPI, EMAIL], T0)
    incident = open_borne(store)
    add_note(store, incident, T0 + hours(0.1))
    hand_to_supplier(store, incident, T0 + hours(0.2))
    now = T0 + hours(1)
    claim = claim_queue(store, "a", [GLPI], now)
    assert claim is not None and claim.channel == GLPI
    first = head_entry(store, claim, now)
    assert first is not None and first.kind == "opened"
    mark_failed(store, first.id, now, "HTTP 400 bad input")
    assert head_entry(store, claim, now) is None  # nothing after a failed row
    release(store, claim)
    other = claim_queue(store, "a", [GLPI, EMAIL], now)
    assert other is not None and other.channel == EMAIL  # the blocked queue is not offered
    release(store, other)
    history = get_incident(store, incident).events
    assert [(e.kind, e.text) for e in history if e.kind == "handoff_failed"] == [
        ("handoff_failed", "glpi (opened): HTTP 400 bad input")
    ]
    assert retry_incident(store, incident, now) == 4
    claim = claim_queue(store, "a", [GLPI], now)
    assert claim is not None
    kinds = []
    while (entry := head_entry(store, claim, now)) is not None:
        kinds.append(entry.kind)
        assert mark_delivered(store, entry.id, now, ref="x")
        assert not mark_delivered(store, entry.id, now, ref="x")  # marking twice changes nothing
    assert kinds == ["opened", "note", "sav_handoff"]


def test_backoff_doubles_up_to_an_hour_and_holds_the_queue_meanwhile(store: Store) -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(30) == timedelta(hours=1)
    enable_channels(store, [GLPI], T0)
    incident = open_borne(store)
    claim = claim_queue(store, "a", [GLPI], T0)
    assert claim is not None
    entry = head_entry(store, claim, T0)
    assert entry is not None
    when = mark_retry(store, entry.id, T0, "HTTP 503")
    assert when == T0 + timedelta(seconds=30)
    release(store, claim)
    assert claim_queue(store, "a", [GLPI], T0 + timedelta(seconds=29)) is None
    assert claim_queue(store, "a", [GLPI], T0 + timedelta(seconds=30)) is not None
    [row] = entries_of(store, incident)
    assert (row.attempts, row.last_error) == (1, "HTTP 503")


def test_a_leased_queue_is_not_offered_to_another_sender_until_the_lease_runs_out(store: Store) -> None:
    enable_channels(store, [GLPI], T0)
    open_borne(store)
    a = claim_queue(store, "a", [GLPI], T0, lease=timedelta(minutes=5))
    assert a is not None
    assert claim_queue(store, "b", [GLPI], T0 + timedelta(minutes=4)) is None
    b = claim_queue(store, "b", [GLPI], T0 + timedelta(minutes=6))  # a died: b takes over
    assert b is not None and b.owner == "b"


def test_email_follow_up_only_after_a_hand_off_by_e_mail(store: Store) -> None:
    enable_channels(store, [GLPI, EMAIL], T0)
    incident = open_borne(store)
    acknowledge(store, incident, who="anne", at=T0 + hours(0.1))
    resolve_it(store, incident, T0 + hours(0.2))
    close(store, incident, who="anne", at=T0 + hours(0.3))
    assert [(e.channel, e.kind) for e in entries_of(store, incident)] == [
        (GLPI, "opened"),
        (GLPI, "acknowledged"),
        (GLPI, "resolved"),
        (GLPI, "closed"),
    ]
    other = open_borne(store, T0 + hours(1))
    hand_to_supplier(store, other, T0 + hours(1.1))
    resolve_it(store, other, T0 + hours(1.2))
    assert [(e.channel, e.kind) for e in entries_of(store, other)] == [
        (GLPI, "opened"),
        (GLPI, "sav_handoff"),
        (EMAIL, "sav_handoff"),
        (GLPI, "resolved"),
        (EMAIL, "resolved"),
    ]


def test_retry_of_an_unknown_incident_is_an_error(store: Store) -> None:
    with pytest.raises(LookupError):
        retry_incident(store, 999, T0)
