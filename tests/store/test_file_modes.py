"""The SQLite store holds a year of connection records (personal data): it is created private,
whatever the umask (issue 9.9)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.store.db import open_store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual umask: files 0644, directories 0755
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_store_is_0600_in_a_0700_directory(tmp_path: Path, open_umask: None) -> None:
    db = tmp_path / "state" / "sub" / "fleet.sqlite"
    store = open_store(f"sqlite:///{db}")
    try:
        # the migrations wrote: the WAL and shared-memory files exist while the store is open
        assert _mode(db) == 0o600
        assert _mode(db.parent) == 0o700 and _mode(db.parent.parent) == 0o700
        wal = db.with_name(db.name + "-wal")
        assert wal.exists()
        assert _mode(wal) == 0o600  # SQLite gives its WAL the database file's mode
    finally:
        store.dispose()


def test_an_existing_readable_store_is_made_private(tmp_path: Path, open_umask: None) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    db = home / "fleet.sqlite"
    open_store(f"sqlite:///{db}").dispose()
    db.chmod(0o644)
    open_store(f"sqlite:///{db}").dispose()
    assert _mode(db) == 0o600
    assert _mode(home) == 0o755  # a directory the store did not create is left alone
