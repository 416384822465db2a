"""Alembic environment: runs against the engine handed over by fleet.store.db.upgrade."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from fleet.store.models import Base

target_metadata = Base.metadata


def run() -> None:
    engine = context.config.attributes.get("engine")
    if not isinstance(engine, Engine):  # pragma: no cover - only fleet.store.db calls us
        raise RuntimeError("fleet.store migrations run through fleet.store.db.upgrade()")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Two pollers starting together must not both run the migration.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(5265)")
            context.run_migrations()
        connection.commit()


run()
