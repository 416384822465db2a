"""One contract, every backend (NAPALM-style): the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from fleet.errors import StoreError
from fleet.incidents.lifecycle import open_incident, resolve_in
from fleet.incidents.maintenance import active_windows, add_window, end_window, list_windows
from fleet.monitor.cycle import prune
from fleet.store import Store, finish_deploy, get_deploy, open_store, record_deploy, start_deploy
from fleet.store.deploys import HostResult, deploys_touching, inventory_snapshot, list_deploys
from fleet.store.models import Base, DeviceEvent, Incident, SampleRow

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TABLES = {
    "observations", "samples", "state_changes", "incidents", "incident_events",
    "maintenance_windows", "device_events", "deploys", "deploy_hosts", "inventory_snapshots",
}  # fmt: skip


def test_migrations_create_every_table_and_match_the_models(store: Store) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert names >= TABLES
    assert "alembic_version" in names
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_reopening_is_idempotent(store: Store) -> None:
    again = open_store(store.url)
    with again.read() as session:
        version = session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    from alembic.script import ScriptDirectory

    from fleet.store.db import alembic_config

    assert version == ScriptDirectory.from_config(alembic_config(store.engine)).get_current_head()
    again.dispose()


def test_times_are_aware_utc_whatever_zone_they_were_given_in(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    local = datetime(2026, 11, 23, 10, 30, tzinfo=paris)
    with store.write() as session:
        session.add(DeviceEvent(device="pc1", site_id="s", at=local, kind="reboot", detail=""))
    with store.read() as session:
        at = session.scalars(select(DeviceEvent.at)).one()
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0)
    assert at == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_naive_times_are_refused_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(StoreError, match="naive"), store.write() as session:
        session.add(DeviceEvent(device="pc1", site_id="s", at=datetime(2026, 1, 1), kind="x"))
        session.flush()
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(DeviceEvent)) == 0


def _raw_incident(device: str = "pc1", check: str = "reachability", status: str = "open") -> Incident:
    return Incident(
        device=device, site_id="s", check=check, status=status, reason="no_answer",
        severity="major", title="t", root_cause=False, opened_at=T0, updated_at=T0,
    )  # fmt: skip


def test_database_refuses_a_second_open_incident_for_the_same_device_and_check(
    store: Store,
) -> None:
    with store.write() as session:
        session.add(_raw_incident())
    with pytest.raises(StoreError, match="IntegrityError"), store.write() as session:
        session.add(_raw_incident(status="acknowledged"))
    # Other checks, other devices, and closed/resolved history are fine.
    with store.write() as session:
        session.add(_raw_incident(check="cpu"))
        session.add(_raw_incident(device="pc2"))
        session.add(_raw_incident(status="resolved"))
        session.add(_raw_incident(status="closed"))
        session.add(_raw_incident(status="closed"))
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 6


def test_open_incident_reports_the_lost_race_and_keeps_the_transaction(store: Store) -> None:
    with store.write() as session:
        first = open_incident(
            session, device="pc1", site_id="s", check="reachability", reason="no_answer",
            severity="major", title="down", at=T0,
        )  # fmt: skip
        assert first is not None
    with store.write() as session:
        session.add(DeviceEvent(device="pc1", site_id="s", at=T0, kind="marker", detail=""))
        second = open_incident(
            session, device="pc1", site_id="s", check="reachability", reason="no_answer",
            severity="major", title="down", at=T0 + timedelta(minutes=1),
        )  # fmt: skip
        assert second is None
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        # The rest of the transaction survived the failed INSERT (savepoint).
        assert session.scalar(select(func.count()).select_from(DeviceEvent)) == 1
    with store.write() as session:
        row = session.get(Incident, first.id)
        assert row is not None
        resolve_in(session, row, at=T0 + timedelta(minutes=5), by="monitor", auto=True)
        third = open_incident(
            session, device="pc1", site_id="s", check="reachability", reason="no_answer",
            severity="major", title="down again", at=T0 + timedelta(minutes=9),
        )  # fmt: skip
        assert third is not None


def test_raw_sql_cannot_bypass_the_constraint(store: Store) -> None:
    insert = text(
        'INSERT INTO incidents (device, site_id, "check", status, reason, severity, title, '
        "root_cause, opened_at, updated_at) VALUES ('d', 's', 'c', 'in_progress', 'r', 'minor', "
        "'t', false, :at, :at)"
    )
    at = T0 if store.dialect == "postgresql" else T0.replace(tzinfo=None)
    with store.engine.begin() as conn:
        conn.execute(insert, {"at": at})
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert, {"at": at})


def test_status_values_are_checked_by_the_database(store: Store) -> None:
    with pytest.raises(StoreError), store.write() as session:
        session.add(_raw_incident(status="sleeping"))


def test_deploy_records_round_trip(store: Store) -> None:
    snapshot = {"site": "florac-fs", "devices": ["florac-fs-pc1", "florac-fs-pc2"]}
    deploy_id = start_deploy(
        store, site_id="florac-fs", started_at=T0, user="alice", repo_commit="abc123",
        check_mode=False, tags=["kiosk", "session_wipe"], limit="florac-fs-pc*",
        inventory=snapshot,
    )  # fmt: skip
    running = get_deploy(store, deploy_id)
    assert running.outcome == "running" and running.finished_at is None
    finish_deploy(
        store, deploy_id, finished_at=T0 + timedelta(minutes=3), outcome="partial",
        hosts=[HostResult("florac-fs-pc1", ok=40, changed=3),
               HostResult("florac-fs-pc2", ok=2, failed=1, message="apt lock held")],
    )  # fmt: skip
    rec = get_deploy(store, deploy_id)
    assert rec.outcome == "partial"
    assert rec.tags == ("kiosk", "session_wipe")
    assert [(h.hostname, h.changed, h.failed) for h in rec.hosts] == [
        ("florac-fs-pc1", 3, 0), ("florac-fs-pc2", 0, 1),
    ]  # fmt: skip
    assert rec.hosts[1].message == "apt lock held"
    assert inventory_snapshot(store, deploy_id) == snapshot
    assert rec.to_json()["hosts"][0]["ok"] == 40
    other = record_deploy(
        store, site_id="mende-pref", started_at=T0, finished_at=T0 + timedelta(minutes=1),
        user="bob", outcome="ok", check_mode=True,
    )  # fmt: skip
    assert [d.id for d in list_deploys(store)] == [other, deploy_id]
    assert [d.id for d in list_deploys(store, site_id="florac-fs")] == [deploy_id]


def test_deploy_api_refuses_bad_input(store: Store) -> None:
    with pytest.raises(StoreError, match="naive"):
        start_deploy(store, site_id="s", started_at=datetime(2026, 1, 1), user="a")
    deploy_id = start_deploy(store, site_id="s", started_at=T0, user="a")
    with pytest.raises(StoreError, match="outcome 'great'"):
        finish_deploy(store, deploy_id, finished_at=T0, outcome="great")
    with pytest.raises(StoreError, match="#999 does not exist"):
        finish_deploy(store, 999, finished_at=T0, outcome="ok")
    assert get_deploy(store, deploy_id).outcome == "running"


def test_deploys_touching_a_host_and_a_time_span(store: Store) -> None:
    start_deploy(store, site_id="florac-fs", started_at=T0, user="a", limit="florac-fs-borne1")
    done = record_deploy(
        store, site_id="florac-fs", started_at=T0 - timedelta(hours=2),
        finished_at=T0 - timedelta(hours=1), user="b", outcome="ok",
    )  # fmt: skip
    with store.read() as session:
        hit = deploys_touching(session, "florac-fs", "florac-fs-borne1", T0, T0 + timedelta(minutes=5))
        assert [d.user for d in hit] == ["a"]
        assert deploys_touching(session, "florac-fs", "florac-fs-pc1", T0, T0 + timedelta(minutes=5)) == []
        old = deploys_touching(session, "florac-fs", "florac-fs-pc1", T0 - timedelta(hours=1, minutes=30), T0)
        assert [d.id for d in old] == [done]
        assert deploys_touching(session, "mende-pref", "x", T0 - timedelta(days=1), T0) == []


def test_maintenance_windows(store: Store) -> None:
    w = add_window(
        store, site_id="florac-fs", start=T0, end=T0 + timedelta(hours=2), who="alice",
        why="new switch", now=T0,
    )  # fmt: skip
    with store.read() as session:
        assert [x.id for x in active_windows(session, T0 + timedelta(minutes=5))] == [w.id]
        assert active_windows(session, T0 + timedelta(hours=3)) == []
    end_window(store, w.id, at=T0 + timedelta(minutes=30))
    with store.read() as session:
        assert active_windows(session, T0 + timedelta(minutes=40)) == []
        assert [x.id for x in active_windows(session, T0 + timedelta(minutes=10))] == [w.id]
    assert list_windows(store, at=T0 + timedelta(hours=1)) == []
    assert len(list_windows(store, at=T0 + timedelta(hours=1), include_past=True)) == 1


def test_retention_prunes_old_samples_only(store: Store) -> None:
    with store.write() as session:
        for days in (10, 8, 6, 1):
            session.add(
                SampleRow(
                    device="pc1",
                    site_id="s",
                    at=T0 - timedelta(days=days),
                    ok=True,
                    error=None,
                    elapsed_ms=1.0,
                    metrics={"cpu_load_pct": 3},
                )
            )
    assert prune(store, T0 - timedelta(days=7)) == 2
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(SampleRow)) == 2


def test_bad_urls_give_one_line_errors(tmp_path: object) -> None:
    with pytest.raises(StoreError, match="unsupported database 'mysql'"):
        open_store("mysql://x@localhost/db")
    with pytest.raises(StoreError, match="not a database URL"):
        open_store("this is not a url")


def test_sqlite_file_is_created_with_its_directory_in_wal_mode(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path)) / "deep" / "er"
    s = open_store(f"sqlite:///{base}/fleet.sqlite")
    assert (base / "fleet.sqlite").is_file()
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    s.dispose()


def test_default_url_comes_from_the_setting(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    monkeypatch.setenv("FLEET_DB_URL", f"sqlite:///{tmp_path}/from-env.sqlite")
    s = open_store()
    assert Path(str(tmp_path), "from-env.sqlite").is_file()
    s.dispose()


def test_migrations_downgrade_to_base_and_back(store: Store) -> None:
    from alembic import command

    from fleet.store.db import alembic_config

    command.downgrade(alembic_config(store.engine), "base")
    assert not TABLES & set(inspect(store.engine).get_table_names())
    command.upgrade(alembic_config(store.engine), "head")
    assert set(inspect(store.engine).get_table_names()) >= TABLES


def test_passwords_never_appear_in_errors() -> None:
    with pytest.raises(StoreError) as info:
        open_store("mysql://relais:s3cr3t-pw@db.example/relais")
    assert "s3cr3t-pw" not in str(info.value)
    with pytest.raises(StoreError) as info:
        open_store("postgresql+psycopg://relais:s3cr3t-pw@127.0.0.1:1/relais")
    assert "s3cr3t-pw" not in str(info.value)
    assert "127.0.0.1" in str(info.value)


def test_sqlite_readers_do_not_wait_for_a_writer(tmp_path: object) -> None:
    s = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    with s.write() as session:
        session.add(DeviceEvent(device="pc1", site_id="s", at=T0, kind="before", detail=""))
    with s.write() as writer:  # holds the write lock (BEGIN IMMEDIATE) ...
        writer.add(DeviceEvent(device="pc1", site_id="s", at=T0, kind="pending", detail=""))
        writer.flush()
        with s.read() as reader:  # ... yet a reader gets the last committed snapshot at once
            kinds = [e.kind for e in reader.scalars(select(DeviceEvent))]
        assert kinds == ["before"]
    s.dispose()
