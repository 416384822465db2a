"""Store fixtures: every store test runs against SQLite and a real throwaway PostgreSQL.

Other test packages import these fixtures (``from tests.store.conftest import ...``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.store import Store, open_store
from fleet.store.testing import PostgresServer, PostgresUnavailable, find_bindir, throwaway_postgres

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL cluster (initdb + pg_ctl, 127.0.0.1, free port) for the session."""
    try:
        find_bindir()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A database migrated once; each test gets a copy (CREATE DATABASE ... TEMPLATE)."""
    url = pg_server.create_database("template")
    open_store(url).dispose()
    return url.rsplit("/", 1)[1]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each backend (the PostgreSQL one already migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/var/fleet.sqlite"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database(template=request.getfixturevalue("pg_template"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.dispose()
