"""Opening an incident relies on the database, not on a lock: many writers racing to open the
same (device, check) on separate connections, with nothing else serialising them, get exactly
one incident; the losers are told (None) and their transactions carry on."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from fleet.incidents.lifecycle import open_incident
from fleet.store import Store
from fleet.store.models import DeviceEvent, Incident

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WRITERS = 8


def test_racing_writers_open_exactly_one_incident(store: Store) -> None:
    barrier = threading.Barrier(WRITERS)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        try:
            # No advisory lock (lock=None): only the partial unique index stands in the way.
            with store.write() as session:
                barrier.wait(timeout=30)
                session.add(DeviceEvent(device="pc1", site_id="s", at=T0, kind=f"w{n}", detail=""))
                row = open_incident(
                    session, device="pc1", site_id="s", check="reachability", reason="no_answer",
                    severity="major", title="pc1 does not answer", at=T0,
                )  # fmt: skip
            with lock:
                results.append(row is not None)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    if store.dialect == "sqlite":
        # SQLite serialises writers at BEGIN IMMEDIATE: a barrier inside the transaction would
        # deadlock; the later writers still run the INSERT and hit the index.
        barrier = threading.Barrier(1)
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results) == [False] * (WRITERS - 1) + [True]
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        # Every loser's transaction committed the rest of its work.
        assert session.scalar(select(func.count()).select_from(DeviceEvent)) == WRITERS
