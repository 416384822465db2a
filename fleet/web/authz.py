"""Who may do what on the dashboard: the one permission matrix of Relais
(``fleet/permissions.yml``, :mod:`fleet.permissions`), shared with the CLI's incident workflow,
remote actions, diagnostics and power.  This module only names which permission each of the
dashboard's actions needs; :func:`may` is the only function the web calls.

Roles (``fleet users add NAME --role ROLE``): ``auditor`` reads everything, including the
dashboard's audit trail, and changes nothing; ``hotline`` works incidents; ``technician`` does
what the hotline does plus maintenance windows; ``admin`` does everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fleet.permissions import matrix

ROLES = ("auditor", "technician", "hotline", "admin")
"""The roles a dashboard account may have (the matrix's, ``tests/web`` checks they agree)."""

#: Every action the web checks, and the permission of fleet/permissions.yml it needs.
PERMISSION_OF: Mapping[str, str] = MappingProxyType(
    {
        "view": "status.read",
        "incident.acknowledge": "incidents.acknowledge",
        "incident.note": "incidents.note",
        "incident.assign": "incidents.assign",
        "incident.resolve": "incidents.resolve",
        "incident.close": "incidents.close",
        "maintenance.add": "maintenance",
        "maintenance.end": "maintenance",
        "audit.view": "audit.trail",
    }
)
ACTIONS = tuple(PERMISSION_OF)


def may(role: str, action: str) -> bool:
    """May a user of ``role`` do ``action``?  Unknown roles and actions: no."""
    permission = PERMISSION_OF.get(action)
    return permission is not None and matrix().allows(role, permission)
