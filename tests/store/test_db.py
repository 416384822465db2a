"""Opening the store: errors a technician can read (one line, the database's own words)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from fleet.errors import StoreError, StoreMissingError
from fleet.store import Store, open_store
from fleet.store.db import resolve_url
from fleet.store.models import Incident
from tests.store.conftest import BACKENDS

REPO = Path(__file__).resolve().parents[2]


def test_a_database_error_is_one_line_with_the_databases_first_line(store: Store) -> None:
    with store.write() as session:
        # renamed, not dropped: other tables' foreign keys point at it
        session.execute(text("ALTER TABLE incidents RENAME TO incidents_elsewhere"))
    with pytest.raises(StoreError) as caught, store.read() as session:
        session.execute(select(Incident)).all()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"store {store.safe_url}: ")
    wanted = {"sqlite": "no such table: incidents",
              "postgresql": 'relation "incidents" does not exist'}[store.dialect]
    assert message.endswith(wanted), message
    assert "[SQL:" not in message and "sqlalche.me" not in message


def test_a_failed_write_keeps_the_first_line_too(store: Store) -> None:
    with pytest.raises(StoreError) as caught, store.write() as session:
        session.execute(text("INSERT INTO no_such_table VALUES (1)"))
    assert "\n" not in str(caught.value) and "no_such_table" in str(caught.value)


def test_the_default_store_is_in_the_state_directory_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_STATE_DIR", str(tmp_path / "state"))
    urls = set()
    for cwd in (tmp_path, Path("/")):
        monkeypatch.chdir(cwd)
        urls.add(resolve_url())
    assert urls == {f"sqlite:///{tmp_path / 'state' / 'fleet.sqlite'}"}
    monkeypatch.setenv("FLEET_DB_URL", "sqlite:////elsewhere/x.sqlite")
    assert resolve_url() == "sqlite:////elsewhere/x.sqlite"
    assert resolve_url("sqlite:////arg.sqlite") == "sqlite:////arg.sqlite"


def test_a_reader_never_creates_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "fleet.sqlit"
    with pytest.raises(StoreMissingError, match=f"no store at {missing}"):
        open_store(f"sqlite:///{missing}", create=False)
    assert not missing.parent.exists()
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()  # a SQLite file, but not a Relais store
    before = empty.read_bytes()
    with pytest.raises(StoreMissingError, match="no Relais store"):
        open_store(f"sqlite:///{empty}", create=False)
    assert empty.read_bytes() == before
    # positive control: once a writer made it, a reader opens it
    open_store(f"sqlite:///{missing}").dispose()
    reader = open_store(f"sqlite:///{missing}", create=False)
    reader.dispose()
    assert StoreMissingError.exit_code == 2


def test_opening_the_store_again_keeps_the_locks_of_its_open_connections(tmp_path: Path) -> None:
    """A process that opens its store a second time (the audit, the dashboard, a test that
    reads between polls) while a first engine keeps a connection open, then another process
    that writes and ends (a poll): the other process must not take the WAL for its own.  It
    did when opening the store opened and closed the database file (closing any descriptor
    drops every POSIX lock of the process on the file): the poll's last connection
    checkpointed and removed the WAL under the first engine — rows lost, then "database disk
    image is malformed"."""
    path = tmp_path / "fleet.sqlite"
    url = f"sqlite:///{path}"
    first = open_store(url)
    with first.write() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    writer = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
              "c.executemany('INSERT INTO t VALUES (?)', [(i,) for i in range(500)]); "
              "c.commit(); c.close()")
    for round_ in range(1, 4):
        with first.read() as session:  # a pooled connection stays open, as in a long process
            session.execute(text("SELECT count(*) FROM t")).scalar()
        open_store(url)  # the same process opens its store again
        subprocess.run([sys.executable, "-c", writer, str(path)], check=True)
        with first.read() as session:
            assert session.execute(text("SELECT count(*) FROM t")).scalar() == 500 * round_


@pytest.mark.parametrize("backend", BACKENDS)
def test_writers_opening_a_new_store_at_once_all_get_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Four processes open the same new store together (three ``fleet act wake`` did: one failed
    with "table audits already exists"; here, without the fix, about one run in five failed
    making the store's directory, "File exists"): each gets the store."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/var/fleet.sqlite"
    else:
        url = request.getfixturevalue("pg_server").create_database("racing")  # empty: not migrated
    # each process loads everything, says it is ready, then all start together at "go"
    code = ("import sys, time; from pathlib import Path; from fleet.store import open_store\n"
            "Path(sys.argv[2]).touch(); go = Path(sys.argv[3])\n"
            "while not go.exists(): time.sleep(0.001)\n"
            "open_store(sys.argv[1]).dispose()")
    go = tmp_path / "go"
    procs = []
    for i in range(4):
        procs.append(subprocess.Popen([sys.executable, "-c", code, url, str(tmp_path / f"ready{i}"),
                                       str(go)], cwd=REPO, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(4)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "not ready"
        time.sleep(0.05)
    go.touch()
    errors = [p.communicate(timeout=180)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    opened = open_store(url, create=False)  # the control: a reader finds it at this version
    opened.dispose()
