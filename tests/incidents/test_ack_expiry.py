"""An acknowledgement may expire (issue 14): the incident is then open again, with an event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.incidents import IncidentError, acknowledge, expire_acknowledgements, get_incident
from fleet.incidents.lifecycle import open_incident
from fleet.store import Store

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _open(store: Store, device: str) -> int:
    with store.write() as session:
        row = open_incident(session, device=device, site_id="s", check="reachability", reason="timeout",
                            severity="major", title=f"{device} down", at=T0)  # fmt: skip
        assert row is not None
        return row.id


def test_an_expired_acknowledgement_opens_the_incident_again(store: Store) -> None:
    a, b = _open(store, "pc1"), _open(store, "pc2")
    acknowledge(store, a, who="alice", at=T0, until=T0 + timedelta(hours=2))
    acknowledge(store, b, who="alice", at=T0)  # no expiry
    assert get_incident(store, a).acknowledged_until == T0 + timedelta(hours=2)
    assert expire_acknowledgements(store, T0 + timedelta(hours=1, minutes=59)) == []
    assert expire_acknowledgements(store, T0 + timedelta(hours=2)) == [a]
    inc = get_incident(store, a)
    assert inc.status == "open" and inc.acknowledged_until is None
    assert [e.kind for e in inc.events] == ["opened", "acknowledged", "ack_expired"]
    assert get_incident(store, b).status == "acknowledged"
    assert expire_acknowledgements(store, T0 + timedelta(days=9)) == []
    acknowledge(store, a, who="bob", at=T0 + timedelta(hours=3))  # it can be acknowledged again


def test_an_expiry_in_the_past_is_refused(store: Store) -> None:
    a = _open(store, "pc1")
    with pytest.raises(IncidentError, match="not in the future"):
        acknowledge(store, a, who="alice", at=T0, until=T0)
    assert get_incident(store, a).status == "open"
