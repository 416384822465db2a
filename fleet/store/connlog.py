"""Connection records of the public wifi (CPCE art. L34-1, décret n° 2021-1362), collected
from the gateways.  Table and queries only; parsing and collection live in
:mod:`fleet.gateway.collect` (layer 3).

One row per record of a gateway's log: a guest ``session`` (start, end, MAC, IP) or a ``nat``
mapping (first seen, client IP and source port, public IP and port).  ``(gateway, key)`` is
unique, so collecting the same file twice stores each record once; a session's end arriving
later updates its row.  Rows older than the retention are deleted by :func:`purge_records`.
There is deliberately no column for a destination, a URL or a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    Integer,
    String,
    UniqueConstraint,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from fleet.store.db import Store
from fleet.store.models import Base

RETENTION_DAYS = 365


class ConnectionRecord(Base):
    __tablename__ = "connection_records"
    __table_args__ = (
        UniqueConstraint("gateway", "key"),
        CheckConstraint("kind IN ('session', 'nat')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    gateway: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(160))
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    client_mac: Mapped[str] = mapped_column(String(17))
    client_ip: Mapped[str] = mapped_column(String(45))
    proto: Mapped[str | None] = mapped_column(String(8))
    client_port: Mapped[int | None] = mapped_column(Integer)
    public_ip: Mapped[str | None] = mapped_column(String(45))
    public_port: Mapped[int | None] = mapped_column(Integer)
    collected_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class ConnRow:
    """A stored record, detached from the session (what the CLI and the export read)."""

    site_id: str
    gateway: str
    kind: str
    key: str
    started_at: datetime
    ended_at: datetime | None
    client_mac: str
    client_ip: str
    proto: str | None
    client_port: int | None
    public_ip: str | None
    public_port: int | None


def _row(r: ConnectionRecord) -> ConnRow:
    return ConnRow(
        r.site_id,
        r.gateway,
        r.kind,
        r.key,
        r.started_at,
        r.ended_at,
        r.client_mac,
        r.client_ip,
        r.proto,
        r.client_port,
        r.public_ip,
        r.public_port,
    )


def upsert_records(store: Store, rows: Sequence[ConnRow], collected_at: datetime) -> tuple[int, int]:
    """Insert new records, complete the end of known sessions; returns (inserted, updated)."""
    inserted = updated = 0
    with store.write(lock="connlog") as s:
        for row in rows:
            found = s.scalars(
                select(ConnectionRecord).where(
                    ConnectionRecord.gateway == row.gateway, ConnectionRecord.key == row.key
                )
            ).first()
            if found is None:
                s.add(
                    ConnectionRecord(
                        site_id=row.site_id,
                        gateway=row.gateway,
                        kind=row.kind,
                        key=row.key,
                        started_at=row.started_at,
                        ended_at=row.ended_at,
                        client_mac=row.client_mac,
                        client_ip=row.client_ip,
                        proto=row.proto,
                        client_port=row.client_port,
                        public_ip=row.public_ip,
                        public_port=row.public_port,
                        collected_at=collected_at,
                    )
                )
                inserted += 1
            elif found.ended_at is None and row.ended_at is not None:
                found.ended_at = row.ended_at
                updated += 1
    return inserted, updated


def last_instant() -> ColumnElement[datetime]:
    """The last instant a record covers: its end, or its start when it has no end.

    A record covers [started_at, ended_at].  A record without an end time covers its start
    instant only: it proves the session or the NAT mapping existed then, and nothing about
    later (a mapping logged before ends were recorded, a session still open when the gateway
    was last collected, whose end the next collect fills in).  Never "until now": a requisition
    for two hours must not hand over everything that was never closed."""
    return func.coalesce(ConnectionRecord.ended_at, ConnectionRecord.started_at)


def query_records(
    store: Store, site_id: str, start: datetime, end: datetime, kind: str | None = None
) -> list[ConnRow]:
    """Records of a site whose interval meets the window [start, end), oldest first (see
    :func:`last_instant` for a record without an end time)."""
    with store.read() as s:
        q = select(ConnectionRecord).where(
            ConnectionRecord.site_id == site_id,
            ConnectionRecord.started_at < end,
            last_instant() >= start,
        )
        if kind is not None:
            q = q.where(ConnectionRecord.kind == kind)
        q = q.order_by(ConnectionRecord.started_at, ConnectionRecord.id)
        return [_row(r) for r in s.scalars(q)]


def purge_records(store: Store, now: datetime, days: int = RETENTION_DAYS) -> int:
    """Delete records whose latest time is older than ``days``; returns how many."""
    cutoff = now - timedelta(days=days)
    with store.write(lock="connlog") as s:
        result = s.execute(delete(ConnectionRecord).where(last_instant() < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)
