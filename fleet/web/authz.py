"""Who may do what on the dashboard: the permission matrix, role x action, as data.

# TODO(merge): delegate to fleet.permissions (helper H9 is writing the one matrix shared with
# the CLI's actions and the remote actions); until then this table is the web's, and
# :func:`may` is the only function the web calls, so the swap is one import.

Roles (``fleet users add NAME --role ROLE``):

* ``auditor`` reads everything, including the dashboard's audit trail, and changes nothing;
* ``technician`` (in the field) reads, acknowledges, annotates, resolves, plans maintenance;
* ``hotline`` does the whole incident workflow, including the hand-off to the SAV supplier
  and closing;
* ``admin`` does everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ROLES = ("auditor", "technician", "hotline", "admin")

#: Every action the web checks, with who may do it.
MATRIX: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "view": frozenset(ROLES),
        "incident.acknowledge": frozenset({"technician", "hotline", "admin"}),
        "incident.note": frozenset({"technician", "hotline", "admin"}),
        "incident.assign": frozenset({"hotline", "admin"}),
        "incident.resolve": frozenset({"technician", "hotline", "admin"}),
        "incident.close": frozenset({"hotline", "admin"}),
        "maintenance.add": frozenset({"technician", "hotline", "admin"}),
        "maintenance.end": frozenset({"technician", "hotline", "admin"}),
        "audit.view": frozenset({"auditor", "admin"}),
    }
)
ACTIONS = tuple(MATRIX)


def may(role: str, action: str) -> bool:
    """May a user of ``role`` do ``action``?  Unknown roles and actions: no."""
    allowed = MATRIX.get(action)
    return allowed is not None and role in allowed
