"""Recording what a remote action did on a device that has no incident: a device event
(``device_events``, kind ``action``), which ``fleet status DEVICE`` and the dashboard show.
With an incident, :func:`fleet.incidents.lifecycle.record_action` records it on the incident
instead (and queues it for the GLPI hand-off)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from fleet.store.db import Store
from fleet.store.models import DeviceEvent

ACTION_EVENT = "action"


def record_device_action(store: Store, *, device: str, site_id: str, at: datetime, actor: str,
                         action: str, outcome: str, detail: str, data: Mapping[str, Any]) -> None:
    """One device event: who (``actor``), when (``at``), what (``action``), ``outcome``."""
    with store.write() as session:
        session.add(DeviceEvent(device=device, site_id=site_id, at=at, kind=ACTION_EVENT,
                                detail=f"{detail} (by {actor})",
                                data={**dict(data), "actor": actor, "action": action,
                                      "outcome": outcome}))


def device_actions(store: Store, device: str, since: datetime | None = None,
                   limit: int = 100, until: datetime | None = None) -> list[DeviceEvent]:
    """The device's action events in [since, until], newest first."""
    with store.read() as session:
        query = select(DeviceEvent).where(DeviceEvent.device == device,
                                          DeviceEvent.kind == ACTION_EVENT)
        if since is not None:
            query = query.where(DeviceEvent.at >= since)
        if until is not None:
            query = query.where(DeviceEvent.at <= until)
        rows = list(session.scalars(query.order_by(DeviceEvent.at.desc(), DeviceEvent.id.desc())
                                    .limit(limit)))
        for r in rows:
            session.expunge(r)
        return rows
