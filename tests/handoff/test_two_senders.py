"""Two senders at once on one PostgreSQL store: still exactly one delivery per event.

Two sender processes start together on a store holding a dozen incidents (GLPI API v2 and
e-mail).  The GLPI stand-in holds the first token request until both senders have asked for
one, so they provably work at the same time; then every ticket, followup, solution, supplier
assignment and e-mail must exist exactly once, and the stand-in must have received exactly one
create request for each (the queue leases kept the senders apart; the look-ups before each
step are only the second line)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from fleet.handoff.content import marker, ticket_key
from fleet.lab.glpi_standin import GlpiStandIn
from fleet.store import open_store
from fleet.store.outbox import EMAIL, GLPI, enable_channels, entries_of
from fleet.store.testing import PostgresServer
from tests.handoff.samples import INSTANCE, T0, add_note, hand_to_supplier, hours, open_borne, resolve_it
from tests.handoff.smtp_server import SmtpServer

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
INCIDENTS = 12


def _spawn(url: str, glpi: GlpiStandIn, smtp: SmtpServer, owner: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.handoff.sender_worker",
            "--db",
            url,
            "--now",
            (T0 + hours(1)).isoformat(),
            "--glpi",
            glpi.url,
            "--api",
            "v2",
            "--smtp-port",
            str(smtp.port),
            "--smtp-ca",
            str(smtp.cert),
            "--owner",
            owner,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("FLEET_")},
    )


def test_two_senders_on_one_postgresql_deliver_each_event_once(
    pg_server: PostgresServer, pg_template: str, glpi: GlpiStandIn, smtp: SmtpServer
) -> None:
    url = pg_server.create_database(template=pg_template)
    store = open_store(url)
    enable_channels(store, [GLPI, EMAIL], T0)
    incidents = []
    for n in range(INCIDENTS):
        # one incident per (device, check): vary the device name, same site
        inc = open_borne(store, T0 + hours(n / 100), device=f"florac-fs-pc{n + 1}")
        add_note(store, inc, T0 + hours(0.2), text=f"note {n}")
        hand_to_supplier(store, inc, T0 + hours(0.3))
        resolve_it(store, inc, T0 + hours(0.4))
        incidents.append(inc)

    overlap = glpi.fault("POST", r"/api\.php/token$", "barrier", times=2, parties=2)
    procs = [_spawn(url, glpi, smtp, f"sender-{x}") for x in "ab"]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]

    assert overlap.arrived == 2 and not glpi.barrier_broken, "the two senders did not run at the same time"
    assert all(r["delivered"] for r in reports), "one sender did nothing: no concurrency shown"
    assert not any(r["retried"] or r["failed"] or r["channel_errors"] for r in reports), reports

    # every row delivered once, by one of the two
    delivered = Counter((d["incident"], d["channel"], d["kind"]) for r in reports for d in r["delivered"])
    assert set(delivered.values()) == {1}
    assert len(delivered) == INCIDENTS * 6  # glpi: opened, note, sav_handoff, resolved; e-mail: 2
    assert all(e.status == "delivered" for i in incidents for e in entries_of(store, i))

    # GLPI holds each thing once, and was asked to create each once
    assert len(glpi.tickets) == INCIDENTS
    assert glpi.count("POST", r"/Assistance/Ticket$") == INCIDENTS
    assert glpi.count("POST", r"/Timeline/Followup$") == 2 * INCIDENTS
    assert glpi.count("POST", r"/Timeline/Solution$") == INCIDENTS
    assert glpi.count("POST", r"/TeamMember$") == INCIDENTS
    keys = Counter(t["externalid"] for t in glpi.tickets.values())
    assert keys == Counter(ticket_key(INSTANCE, i) for i in incidents)
    for t in glpi.tickets.values():
        inc = int(re.sub(r"^relais-test-", "", t["externalid"]))
        entries = {(e.channel, e.kind): e for e in entries_of(store, inc)}
        key = t["externalid"]
        want = [marker(key, entries[(GLPI, k)].event_id) for k in ("note", "sav_handoff")]
        assert [next(m for m in want if m in f) for f in glpi.followups_of(t["id"])] == want
        assert len(glpi.solutions_of(t["id"])) == 1 and glpi.suppliers_of(t["id"]) == [2]

    # one e-mail per event
    ids = Counter(
        message_from_bytes(m.content, policy=policy.default)["Message-ID"] for m in smtp.handler.messages
    )
    assert len(ids) == 2 * INCIDENTS and set(ids.values()) == {1}
    store.dispose()
