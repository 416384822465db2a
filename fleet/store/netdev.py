"""Backups of network gear configurations, with history (:mod:`fleet.netdev` takes them).

One row per *version* of a device's configuration: a new version is recorded only when the
normalised configuration differs from the device's latest one (``digest`` is the SHA-256 of
the normalised, masked text), so backing up an unchanged switch every night keeps one row.
``config`` is what the device showed, with every secret already masked by the driver: the
store never holds a password, SNMP key or WPA passphrase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column

from fleet.store.db import Store
from fleet.store.models import Base


class NetdevBackup(Base):
    __tablename__ = "netdev_backups"
    __table_args__ = (UniqueConstraint("device", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(128))
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime]
    platform: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    lines: Mapped[int] = mapped_column(Integer)
    config: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class BackupView:
    """A stored version, detached from its session."""

    device: str
    site_id: str
    version: int
    taken_at: datetime
    platform: str
    reason: str
    digest: str
    lines: int
    config: str = ""

    def to_json(self, with_config: bool = False) -> dict[str, object]:
        data: dict[str, object] = {
            "device": self.device, "site": self.site_id, "version": self.version,
            "taken_at": self.taken_at.isoformat(), "platform": self.platform,
            "reason": self.reason, "digest": self.digest, "lines": self.lines,
        }
        if with_config:
            data["config"] = self.config
        return data


def _view(row: NetdevBackup, with_config: bool) -> BackupView:
    return BackupView(row.device, row.site_id, row.version, row.taken_at, row.platform, row.reason,
                      row.digest, row.lines, row.config if with_config else "")


def record_backup(
    store: Store,
    *,
    device: str,
    site_id: str,
    platform: str,
    config: str,
    digest: str,
    lines: int,
    reason: str,
    at: datetime,
) -> tuple[BackupView, bool]:
    """Store a new version unless the latest has the same digest; returns (the device's
    latest version, whether it was created now).  ``config`` must already be masked."""
    with store.write(lock=f"netdev:{device}") as s:
        latest = s.scalars(select(NetdevBackup).where(NetdevBackup.device == device)
                           .order_by(NetdevBackup.version.desc()).limit(1)).first()
        if latest is not None and latest.digest == digest:
            return _view(latest, False), False
        row = NetdevBackup(device=device, site_id=site_id, version=(latest.version + 1) if latest else 1,
                           taken_at=at, platform=platform, reason=reason, digest=digest, lines=lines,
                           config=config)
        s.add(row)
        s.flush()
        return _view(row, False), True


def latest_backup(store: Store, device: str) -> BackupView | None:
    with store.read() as s:
        row = s.scalars(select(NetdevBackup).where(NetdevBackup.device == device)
                        .order_by(NetdevBackup.version.desc()).limit(1)).first()
        return _view(row, True) if row is not None else None


def get_backup(store: Store, device: str, version: int) -> BackupView | None:
    with store.read() as s:
        row = s.scalars(select(NetdevBackup).where(NetdevBackup.device == device,
                                                   NetdevBackup.version == version)).first()
        return _view(row, True) if row is not None else None


def backup_history(store: Store, device: str) -> list[BackupView]:
    """Every version of a device, oldest first (without the configuration text)."""
    with store.read() as s:
        rows = s.scalars(select(NetdevBackup).where(NetdevBackup.device == device)
                         .order_by(NetdevBackup.version))
        return [_view(r, False) for r in rows]


def backed_up_devices(store: Store) -> list[str]:
    with store.read() as s:
        return sorted(s.scalars(select(NetdevBackup.device).group_by(NetdevBackup.device)
                                .having(func.count() > 0)))
