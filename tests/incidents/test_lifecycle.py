"""Incident lifecycle and hotline operations, on every store backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.incidents import (
    IncidentError,
    acknowledge,
    add_window,
    assign,
    close,
    get_incident,
    list_incidents,
    note,
    open_incident,
    record_action,
    resolve,
)
from fleet.inventory.models import Supplier
from fleet.store import Store

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SAV = Supplier(name="Lozère Numérique SAV", phone="+33 4 66 00 99 00", contract="SAV-48")


def _open(store: Store, device: str = "florac-fs-borne1", check: str = "kiosk") -> int:
    with store.write() as session:
        row = open_incident(
            session, device=device, site_id="florac-fs", check=check, reason="not_running",
            severity="critical", title=f"{device}: kiosk browser not running", at=T0,
        )  # fmt: skip
        assert row is not None
        return row.id


def test_full_lifecycle_records_every_transition(store: Store) -> None:
    iid = _open(store)
    acknowledge(store, iid, who="hotline-anna", at=T0 + timedelta(minutes=2), text="on it")
    note(store, iid, who="hotline-anna", text="called the animateur", at=T0 + timedelta(minutes=3))
    assign(store, iid, to=SAV, who="hotline-anna", at=T0 + timedelta(minutes=5))
    record_action(store, iid, who="hotline-anna", action="restart_kiosk", outcome="ok",
                  at=T0 + timedelta(minutes=6))  # fmt: skip
    resolve(store, iid, who="hotline-anna", at=T0 + timedelta(minutes=9), text="restarted")
    close(store, iid, who="hotline-anna", at=T0 + timedelta(days=1))
    inc = get_incident(store, iid)
    assert inc.status == "closed"
    assert inc.acknowledged_by == "hotline-anna"
    assert inc.assigned_to == "Lozère Numérique SAV"
    assert inc.resolved_by == "hotline-anna" and inc.closed_at == T0 + timedelta(days=1)
    kinds = [e.kind for e in inc.events]
    assert kinds == ["opened", "acknowledged", "note", "sav_handoff", "action", "resolved", "closed"]
    handoff = inc.events[3]
    assert handoff.data["contract"] == "SAV-48" and handoff.data["phone"].startswith("+33")
    assert inc.events[5].data == {"auto": False}
    assert all(e.at.tzinfo is not None for e in inc.events)
    data = inc.to_json(with_events=True)
    assert data["status"] == "closed" and len(data["events"]) == 7


@pytest.mark.parametrize(
    ("steps", "bad", "message"),
    [
        ([], "close", "is open: cannot close"),
        (["ack"], "ack", "is acknowledged: cannot acknowledge"),
        (["resolve"], "assign", "is resolved: cannot assign"),
        (["resolve", "close"], "resolve", "is closed: cannot resolve"),
    ],
)
def test_impossible_transitions_are_refused_and_change_nothing(
    store: Store, steps: list[str], bad: str, message: str
) -> None:
    iid = _open(store)
    ops = {
        "ack": lambda: acknowledge(store, iid, who="a", at=T0),
        "assign": lambda: assign(store, iid, to="tech-bob", who="a", at=T0),
        "resolve": lambda: resolve(store, iid, who="a", at=T0),
        "close": lambda: close(store, iid, who="a", at=T0),
    }
    for step in steps:
        ops[step]()
    before = get_incident(store, iid)
    with pytest.raises(IncidentError, match=message):
        ops[bad]()
    assert get_incident(store, iid) == before


def test_unknown_incident_and_missing_operator(store: Store) -> None:
    with pytest.raises(IncidentError, match="#42 does not exist"):
        acknowledge(store, 42, who="a", at=T0)
    iid = _open(store)
    with pytest.raises(IncidentError, match="operator name is required"):
        acknowledge(store, iid, who="  ", at=T0)
    with pytest.raises(IncidentError, match="text is empty"):
        note(store, iid, who="a", text=" ", at=T0)


def test_listing_filters(store: Store) -> None:
    a = _open(store, "florac-fs-borne1", "kiosk")
    b = _open(store, "florac-fs-pc1", "reachability")
    resolve(store, b, who="x", at=T0 + timedelta(minutes=1))
    assert [i.id for i in list_incidents(store)] == [a]
    assert {i.id for i in list_incidents(store, statuses=None)} == {a, b}
    assert [i.id for i in list_incidents(store, device="florac-fs-pc1", statuses=None)] == [b]
    assert list_incidents(store, site_id="mende-pref", statuses=None) == []


def test_maintenance_input_errors(store: Store) -> None:
    with pytest.raises(IncidentError, match="exactly one"):
        add_window(store, start=T0, end=T0 + timedelta(hours=1), who="a", why="b", now=T0)
    with pytest.raises(IncidentError, match="is not after start"):
        add_window(store, site_id="s", start=T0, end=T0, who="a", why="b", now=T0)
    with pytest.raises(IncidentError, match="why is required"):
        add_window(store, device="d", start=T0, end=T0 + timedelta(hours=1), who="a", why="",
                   now=T0)  # fmt: skip
