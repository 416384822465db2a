"""Opening the store: engine, migrations, sessions and write transactions.

Where: the ``db_url`` setting, else ``sqlite:///<state_dir>/fleet.sqlite`` (:func:`resolve_url`;
``state_dir`` is absolute by default, so every command finds the same store from any directory).
Only the writers that own the store create it (``open_store(create=True)``: the poller, deploy
records, the connection-log import); readers open it with ``create=False`` and get a
:class:`~fleet.errors.StoreMissingError` where there is none, never a new empty store.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from fleet import settings
from fleet.errors import StoreError, StoreMissingError
from fleet.i18n import gettext as _

MIGRATIONS = Path(__file__).with_name("migrations")
READONLY = "fleet_readonly"


@dataclass(frozen=True, slots=True)
class Store:
    """An opened store.  Use :meth:`read` for queries and :meth:`write` for changes."""

    url: str
    engine: Engine
    _sessions: sessionmaker[Session]
    _readers: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed (on SQLite a plain deferred
        transaction: readers never wait for the poller, WAL gives them a consistent snapshot)."""
        with self._readers() as session:
            try:
                yield session
            except SQLAlchemyError as exc:
                raise store_error(self.safe_url, exc) from exc
            finally:
                session.rollback()

    @contextmanager
    def write(self, lock: str | None = None) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (the write lock is taken before
        anything is read, so a read-modify-write can never lose an update).  On PostgreSQL, when
        ``lock`` is given, a transaction-scoped advisory lock on that key serialises writers of
        the same object (a device) across pollers; it is released at commit or on crash."""
        with self._sessions() as session:
            try:
                if lock is not None and self.dialect == "postgresql":
                    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(lock)})
                yield session
                session.commit()
            except SQLAlchemyError as exc:
                session.rollback()
                raise store_error(self.safe_url, exc) from exc
            except BaseException:
                session.rollback()
                raise

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return _safe(self.url)

    def dispose(self) -> None:
        self.engine.dispose()


def store_error(where: str, exc: SQLAlchemyError) -> StoreError:
    """One line: the kind of error (SQLAlchemy's name, the same on every backend) and the first
    line of the database's own message (SQLAlchemy adds the SQL statement and a link after it)."""
    orig = getattr(exc, "orig", None)
    source: BaseException = orig if isinstance(orig, BaseException) else exc
    lines = [ln.strip() for ln in str(source).splitlines() if ln.strip()]
    first = lines[0] if lines else "(no message)"
    if orig is None and first.startswith("(") and ") " in first:
        first = first.split(") ", 1)[1]  # "(sqlite3.OperationalError) msg" from SQLAlchemy itself
    return StoreError(f"store {where}: {exc.__class__.__name__}: {first}")


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``."""
    return zlib.crc32(name.encode()) | (0x5245 << 32)


def _sqlite_setup(engine: Engine, create: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        if create:  # WAL is a property of the file, set by its writer (a reader writes nothing)
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def _safe(url: str) -> str:
    """The URL for messages: never the password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)


def _private_sqlite_file(database: str, shown: str) -> None:
    """A SQLite store holds personal data (a year of connection records): its file is created
    mode 0600, and the directories this creates for it 0700, whatever the umask.  SQLite gives
    its -wal and -shm files the database file's mode.  An existing file readable by others is
    made private; directories that already exist are left as they are.

    An existing file is never opened here: closing any descriptor of a SQLite file releases
    every POSIX lock this process holds on it, those of the store's open connections included,
    and another process (a poller ending) then takes the WAL for its own, checkpoints and
    removes it under them — "database disk image is malformed" in the next read (SQLite's
    "How To Corrupt", 2.2; the audit's lab test, which opens its store again between polls)."""
    path = Path(database)
    try:
        missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
        for directory in reversed(missing):
            try:
                directory.mkdir(mode=0o700)
            except FileExistsError:
                continue  # made meanwhile by another process opening the store
            directory.chmod(0o700)  # mkdir's mode is filtered by the umask
        if not path.exists():  # (made meanwhile by another process: theirs, left alone)
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
    except OSError as exc:
        raise StoreError(f"db_url {shown!r}: cannot create the store file: {exc}") from exc


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, in memory, or a ``file:`` URI)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" \
            or database.startswith("file:"):
        return None
    return Path(database)


def default_url() -> str:
    """``sqlite:///<state_dir>/fleet.sqlite``, absolute."""
    state = Path(settings.get("state_dir")).expanduser().resolve()
    return f"sqlite:///{state / 'fleet.sqlite'}"


def resolve_url(url: str | None = None) -> str:
    """The store's URL: ``url``, else the ``db_url`` setting, else :func:`default_url`."""
    chosen: str | None = settings.get("db_url", url)
    return chosen or default_url()


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url``; with ``create``, makes the parent directory of a SQLite file."""
    shown = _safe(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"db_url {shown!r}: not a database URL (sqlite:///PATH or postgresql+psycopg://...)"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if create and database and database != ":memory:" and not database.startswith("file:"):
            _private_sqlite_file(database, shown)
        engine = create_engine(url, connect_args={"timeout": 60})
        _sqlite_setup(engine, create)
        return engine
    if parsed.get_backend_name() == "postgresql":
        try:
            return create_engine(url, pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"db_url {shown!r}: {exc}") from exc
    raise StoreError(
        f"db_url {shown!r}: unsupported database {parsed.get_backend_name()!r} "
        "(use sqlite:///PATH or postgresql+psycopg://...)"
    )


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


@contextmanager
def _migrating(engine: Engine) -> Iterator[None]:
    """One migration at a time per SQLite store, across processes: two writers opening a new
    store at once (three ``fleet act wake`` of the hotline) both found it empty and both created
    its tables, and one failed ("table audits already exists").  A lock file beside the
    database; PostgreSQL's migrations take an advisory lock of their own (``migrations/env.py``)."""
    path = _sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is None:
        yield
        return
    import fcntl

    fd = os.open(f"{path}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (one process at a time: :func:`_migrating`)."""
    try:
        with _migrating(engine):
            command.upgrade(alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise store_error(f"{_safe(str(engine.url))} (migration)", exc) from exc


def _check_existing(engine: Engine, url: str) -> None:
    """A store a reader may use: it exists and its schema is this version's."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    shown = _safe(url)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        engine.dispose()
        raise store_error(shown, exc) from exc
    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    if not current:
        engine.dispose()
        raise StoreMissingError(_("no Relais store at {url} (a database without its tables): check "
                                  "--db or FLEET_DB_URL").format(url=shown))
    if current != heads:
        engine.dispose()
        raise StoreError(_("store {url} is at schema {current}, this version of fleet reads {head}: "
                           "run 'fleet poll' once to upgrade it").format(
            url=shown, current=", ".join(sorted(current)), head=", ".join(sorted(heads))))


def open_store(url: str | None = None, *, migrate: bool = True, create: bool = True) -> Store:
    """Open the store at ``url`` (default: :func:`resolve_url`).

    ``create`` (writers that own the store): make it if missing and bring its schema to head
    (unless ``migrate`` is false).  Without ``create`` (readers, and the hotline's actions on
    existing incidents): the store must exist with this version's schema, else
    :class:`~fleet.errors.StoreMissingError` (or :class:`~fleet.errors.StoreError`) — never a new
    empty store that would make "no incidents" look true."""
    resolved = resolve_url(url)
    if not create:
        path = _sqlite_file(resolved)
        if path is not None and not path.is_file():
            raise StoreMissingError(_(
                "no store at {path}: no poll has written one there (run 'fleet poll'), or the "
                "path is wrong (--db, FLEET_DB_URL, FLEET_STATE_DIR)").format(path=path))
    engine = make_engine(resolved, create=create)
    if create and migrate:
        upgrade(engine)
    elif not create:
        _check_existing(engine, resolved)
    sessions = sessionmaker(engine, expire_on_commit=False)
    readers = sessionmaker(engine.execution_options(**{READONLY: True}), expire_on_commit=False)
    return Store(resolved, engine, sessions, readers)
