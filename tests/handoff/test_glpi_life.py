"""One incident's life handed to GLPI through every fault at once, on API v1 and API v2:
a sender SIGKILLed right after its create request reached GLPI, a request that timed out after
GLPI had acted on it, two 500s, an expired session — and still exactly one ticket, the
followups in order once each, the supplier assigned once, solved once.

The faults are placed by the GLPI stand-in at exact requests (no timing): the killed sender is
killed while the stand-in holds its create request, after the ticket exists."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.handoff import run_once
from fleet.handoff.content import marker, ticket_key
from fleet.incidents.lifecycle import get_incident
from fleet.lab.glpi_standin import GlpiStandIn
from fleet.store import Store, open_store
from fleet.store.outbox import GLPI, enable_channels, entries_of
from tests.handoff.samples import (
    INSTANCE,
    SECRETS,
    SERIAL,
    SUPPLIER,
    T0,
    add_note,
    clock_at,
    config,
    glpi_config,
    hand_to_supplier,
    hours,
    inventory,
    open_borne,
    resolve_it,
)

REPO = Path(__file__).resolve().parents[2]

CREATE = {"v1": r"/apirest\.php/Ticket$", "v2": r"/api\.php/v2/Assistance/Ticket$"}
FOLLOWUP = {"v1": r"/apirest\.php/ITILFollowup$", "v2": r"/Timeline/Followup$"}
SUPPLIER_POST = {"v1": r"/apirest\.php/Supplier_Ticket$", "v2": r"/TeamMember$"}
SOLUTION = {"v1": r"/apirest\.php/ITILSolution$", "v2": r"/Timeline/Solution$"}
AUTH = {"v1": r"/apirest\.php/initSession$", "v2": r"/api\.php/token$"}
AUTH_METHOD = {"v1": "GET", "v2": "POST"}


def spawn_sender(url: str, glpi_url: str, api: str, now: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.handoff.sender_worker",
            "--db",
            url,
            "--now",
            now,
            "--glpi",
            glpi_url,
            "--api",
            api,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("FLEET_")},
    )


def drain(store: Store, cfg_api: str, url: str, start_hours: int, passes: int = 12) -> list[object]:
    """Run sender passes an hour apart (beyond any backoff or lease) until nothing waits."""
    reports = []
    cfg = config(glpi=glpi_config(url, cfg_api))
    for k in range(passes):
        report = run_once(store, cfg, inventory(), clock=clock_at(T0 + hours(start_hours + k)))
        reports.append(report)
        if all(e.status == "delivered" for inc in _incidents(store) for e in entries_of(store, inc)):
            break
    return reports


def _incidents(store: Store) -> list[int]:
    from sqlalchemy import select

    from fleet.store.models import Incident

    with store.read() as s:
        return list(s.scalars(select(Incident.id)))


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_an_incident_life_reaches_glpi_exactly_once_through_every_fault(
    api: str, glpi: GlpiStandIn, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/fleet.sqlite"
    store = open_store(url)
    enable_channels(store, [GLPI], T0)  # a sender ran before: changes are queued for GLPI
    incident = open_borne(store, T0)
    add_note(store, incident, T0 + hours(0.1))

    # 1. A sender is killed right after its create request reached GLPI (the ticket exists,
    #    the sender never heard back nor recorded anything).
    blocked = glpi.fault("POST", CREATE[api], "apply_then_block")
    proc = spawn_sender(url, glpi.url, api, (T0 + hours(0.2)).isoformat())
    try:
        assert blocked.reached.wait(60), f"the sender never created the ticket: {proc.stderr}"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        blocked.release.set()
    assert proc.returncode == -signal.SIGKILL
    assert len(glpi.tickets) == 1
    assert not any(e.status == "delivered" for e in entries_of(store, incident))

    # 2. The incident goes on; GLPI misbehaves at exact points.
    hand_to_supplier(store, incident, T0 + hours(0.3))
    resolve_it(store, incident, T0 + hours(0.4))
    timeout = glpi.fault("POST", FOLLOWUP[api], "apply_then_hang")  # acted, answer lost
    errors = glpi.fault("POST", SUPPLIER_POST[api], "500", times=2)
    expired = glpi.fault("POST", SOLUTION[api], "expire")
    auths_before = glpi.count(AUTH_METHOD[api], AUTH[api])

    # 3. Later senders (the killed one's lease has run out) finish the job.
    reports = drain(store, api, glpi.url, start_hours=1)

    # every fault did happen (else this test would prove nothing)
    assert (blocked.hits, timeout.hits, errors.hits, expired.hits) == (1, 1, 2, 1)
    retried = [r for rep in reports for r in rep.retried]  # type: ignore[attr-defined]
    assert any("no answer within" in e for *_, e in retried), retried
    assert sum("HTTP 500" in e for *_, e in retried) == 2, retried
    assert glpi.count(AUTH_METHOD[api], AUTH[api]) > auths_before  # re-authenticated once
    assert not any(rep.channel_errors for rep in reports)  # type: ignore[attr-defined]

    # exactly one ticket, carrying our key; the killed sender's create was the only one
    key = ticket_key(INSTANCE, incident)
    [ticket] = glpi.tickets.values()
    assert ticket["externalid"] == key and f"[{key}]" in ticket["name"]
    assert glpi.count("POST", CREATE[api]) == 1
    assert (ticket["urgency"], ticket["impact"]) == (4, 3)  # major
    assert SERIAL in ticket["content"] and "florac-fs-borne1" in ticket["content"]

    # the followups in order, once each: the note, then the hand-off to the supplier
    followups = glpi.followups_of(ticket["id"])
    entries = {e.kind: e for e in entries_of(store, incident)}
    expected = [marker(key, entries["note"].event_id), marker(key, entries["sav_handoff"].event_id)]
    assert [next(m for m in expected if m in f) for f in followups] == expected
    assert "Écran noir signalé" in followups[0] and SUPPLIER in followups[1]

    # the supplier assigned once, solved once
    assert glpi.suppliers_of(ticket["id"]) == [2]
    solutions = glpi.solutions_of(ticket["id"])
    assert len(solutions) == 1 and marker(key, entries["resolved"].event_id) in solutions[0]
    assert ticket["status"] == 5
    if api == "v1":  # the asset, found by its serial, linked once
        assert [(i["itemtype"], i["items_id"]) for i in glpi.item_tickets] == [("Computer", 2)]

    # the outbox says so too, and the incident's history tells the hotline where its ticket is
    assert all(e.status == "delivered" for e in entries.values())
    assert entries["opened"].attempts == 0 and entries["sav_handoff"].attempts == 2
    assert entries["note"].attempts == 1
    history = [(e.kind, e.text) for e in get_incident(store, incident).events]
    assert ("handoff", f"GLPI ticket {ticket['id']} found by its key {key}") in history

    # nothing secret went to GLPI
    sent = repr(glpi.tickets) + repr(glpi.followups) + repr(glpi.solutions)
    assert not [s for s in SECRETS if s in sent]
    assert any(s in repr(inventory()) for s in SECRETS)  # the sample does hold one: control
    store.dispose()
