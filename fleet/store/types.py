"""Column types shared by the store's tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from fleet.errors import StoreError


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC instant on every backend.

    PostgreSQL stores ``timestamptz``; SQLite stores the naive UTC wall time.  Naive datetimes
    are refused on the way in (a naive time in the store is a bug that would shift incidents by
    the server's offset), and every value comes back aware, in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise StoreError(f"naive datetime {value.isoformat()} refused: store times are aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
