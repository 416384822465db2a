"""What the public did, counted per day on the stations (issue 17): the start page's tiles
opened (``tiles``: per tile id) and the answers to the end-of-session question (``answers``:
oui, en_partie, non, passer, sans_reponse).  Table and queries only; the stations' counter
files are parsed and collected by :mod:`fleet.remote.publiccounts`.

One row per (device, local day, section, key) with its count.  A station rewrites its day's
file as the day goes on, so an import keeps, for each row, the larger of the stored and the
collected count: collecting the same file twice counts it once, and a file collected again
later in the day only adds what happened since.  There is no column for a time of day, an
address or anything typed: counts only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from fleet.store.db import Store
from fleet.store.models import Base

SECTIONS = ("tiles", "answers")


class PublicCount(Base):
    __tablename__ = "public_counts"

    device: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    """The station's local day, ``YYYY-MM-DD``."""
    section: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    count: Mapped[int] = mapped_column(Integer)
    collected_at: Mapped[datetime]


DayFile = Mapping[str, Mapping[str, int]]
"""One day of one station: section -> key -> count."""


@dataclass(frozen=True, slots=True)
class CountsImport:
    device: str
    days: int
    added: int
    """Counts added to the store by this import (0 when collected before)."""

    def to_json(self) -> dict[str, object]:
        return {"device": self.device, "days": self.days, "added": self.added}


def import_counts(store: Store, site_id: str, device: str, days: Mapping[date, DayFile],
                  now: datetime) -> CountsImport:
    """Store a station's day files, in one transaction (a crash stores all of them or none)."""
    added = 0
    with store.write(lock=f"public-counts:{device}") as s:
        for day, sections in days.items():
            for section, keys in sections.items():
                for key, value in keys.items():
                    row = s.get(PublicCount, (device, day.isoformat(), section, key))
                    if row is None:
                        s.add(PublicCount(device=device, day=day.isoformat(), section=section,
                                          key=key, site_id=site_id, count=value, collected_at=now))
                        added += value
                    elif value > row.count:
                        added += value - row.count
                        row.count = value
                        row.collected_at = now
    return CountsImport(device, len(days), added)


@dataclass(frozen=True, slots=True)
class CountRow:
    device: str
    day: date
    section: str
    key: str
    count: int


def read_counts(store: Store, site_ids: Sequence[str], first: date, last: date,
                section: str | None = None) -> list[CountRow]:
    """Stored counts of these sites for local days ``first`` .. ``last`` (inclusive)."""
    with store.read() as s:
        query = select(PublicCount).where(PublicCount.site_id.in_(site_ids),
                                          PublicCount.day >= first.isoformat(),
                                          PublicCount.day <= last.isoformat())
        if section is not None:
            query = query.where(PublicCount.section == section)
        rows = s.scalars(query.order_by(PublicCount.device, PublicCount.day, PublicCount.section,
                                        PublicCount.key)).all()
        return [CountRow(r.device, date.fromisoformat(r.day), r.section, r.key, r.count)
                for r in rows]


def totals(rows: Sequence[CountRow], section: str) -> dict[str, int]:
    """Sum per key over rows (démarches started per tile; answers per answer)."""
    out: dict[str, int] = {}
    for r in rows:
        if r.section == section:
            out[r.key] = out.get(r.key, 0) + r.count
    return out


__all__ = ["SECTIONS", "CountRow", "CountsImport", "DayFile", "PublicCount", "import_counts",
           "read_counts", "totals"]
