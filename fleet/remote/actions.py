"""Every remote action, by name: one module each (the ``SPEC`` and ``perform`` of
``restart_kiosk.py``, ``wipe_now.py``...).  ``fleet act list`` and the dashboard read
:data:`ACTIONS`; :mod:`fleet.remote.act` runs them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from fleet.remote import (
    clear_print_queue,
    collect_connlog,
    push_blocklists,
    reboot,
    restart_kiosk,
    restart_service,
    wake,
    wipe_now,
)
from fleet.remote.base import ActionSpec, Request, Result


@dataclass(frozen=True, slots=True)
class Action:
    spec: ActionSpec
    perform: Callable[[Request], Sequence[Result]]


ACTIONS: Mapping[str, Action] = MappingProxyType({
    m.SPEC.name: Action(m.SPEC, m.perform)
    for m in (restart_kiosk, wipe_now, clear_print_queue, restart_service, reboot, wake,
              push_blocklists, collect_connlog)
})
