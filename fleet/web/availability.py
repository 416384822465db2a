"""A site's availability during its opening hours, for the site page (7 and 30 days).

# TODO(merge): helper H8 is writing ``fleet.audit.availability`` (``for_period`` +
# ``site_summary``), the audit's one answer; once it is on main, :func:`site_availability`
# becomes a call to it (the same definition: up / (up + down) of the measured opening time,
# maintenance apart).  This module is that one small function until then.

Definition: the site's opening intervals (:func:`fleet.inventory.hours.intervals`: closures
and DST handled there) minus maintenance (weekly windows included); over what remains, each
device's ``reachability`` history (state changes) says up or down; time never observed or
``unknown`` is not measured.  The figure pools every device of the site.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select

from fleet.incidents.maintenance import windows_between
from fleet.incidents.status import REACHABILITY
from fleet.inventory.hours import intervals
from fleet.inventory.models import Site
from fleet.store.db import Store
from fleet.store.models import StateChange

Span = tuple[datetime, datetime]


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        elif e > s:
            out.append((s, e))
    return out


def _minus(spans: Sequence[Span], cut: Sequence[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in spans:
        cursor = s
        for cs, ce in cut:
            if ce <= cursor or cs >= e:
                continue
            if cs > cursor:
                out.append((cursor, cs))
            cursor = max(cursor, ce)
        if cursor < e:
            out.append((cursor, e))
    return out


def _overlap(spans: Sequence[Span], s: datetime, e: datetime) -> float:
    return sum(max(0.0, (min(e, b) - max(s, a)).total_seconds()) for a, b in spans)


def site_availability(store: Store, site: Site, start: datetime, end: datetime) -> float | None:
    """Percentage of the measured opening time the site's devices answered; None if none."""
    names = [d.hostname for d in site.devices]
    if not names or end <= start:
        return None
    opening = _merge((max(o, start), min(c, end)) for o, c in intervals(site, start, end))
    reach = (StateChange.site_id == site.id) & (StateChange.check == REACHABILITY)
    with store.read() as session:
        windows = windows_between(session, start, end, site_id=site.id, devices=names)
        last_before = (
            select(func.max(StateChange.id)).where(reach, StateChange.at < start).group_by(StateChange.device)
        )
        changes = session.execute(
            select(StateChange.device, StateChange.at, StateChange.to_status)
            .where(reach, ((StateChange.at >= start) & (StateChange.at < end))
                   | StateChange.id.in_(last_before))
            .order_by(StateChange.device, StateChange.at, StateChange.id)
        ).all()  # fmt: skip
    site_wide = _merge(s for w in windows if w.device is None for s in w.occurrences(start, end))
    history: dict[str, list[tuple[datetime, str]]] = {}
    for device, at, status in changes:
        history.setdefault(device, []).append((at, status))
    up = down = 0.0
    for name in names:
        own = [s for w in windows if w.device == name for s in w.occurrences(start, end)]
        counted = _minus(opening, _merge([*site_wide, *own]))
        status, cursor = "unknown", start
        for at, new in history.get(name, []):
            if at > cursor:
                if status == "up":
                    up += _overlap(counted, cursor, at)
                elif status == "down":
                    down += _overlap(counted, cursor, at)
                cursor = at
            status = new
        if status == "up":
            up += _overlap(counted, cursor, end)
        elif status == "down":
            down += _overlap(counted, cursor, end)
    return None if up + down <= 0 else 100.0 * up / (up + down)
