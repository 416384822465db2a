"""Layer 3: the incident log.  Lifecycle (open -> acknowledged -> in_progress -> resolved ->
closed, every step an event) and maintenance windows, on top of :mod:`fleet.store`."""

from __future__ import annotations

from fleet.errors import IncidentError
from fleet.incidents.lifecycle import (
    EventView,
    IncidentView,
    acknowledge,
    assign,
    close,
    expire_acknowledgements,
    get_incident,
    list_incidents,
    note,
    open_incident,
    record_action,
    resolve,
)
from fleet.incidents.maintenance import Window, add_window, end_window, list_windows

__all__ = [
    "EventView",
    "IncidentError",
    "IncidentView",
    "Window",
    "acknowledge",
    "add_window",
    "assign",
    "close",
    "end_window",
    "expire_acknowledgements",
    "get_incident",
    "list_incidents",
    "list_windows",
    "note",
    "open_incident",
    "record_action",
    "resolve",
]
