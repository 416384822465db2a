"""Who may do what on the dashboard: the one permission matrix of Relais
(``fleet/permissions.yml``, :mod:`fleet.permissions`), shared with the CLI's incident workflow,
remote actions, diagnostics and power.  This module only names which permission each of the
dashboard's actions needs; :func:`may` is the only function the web calls.

The remote actions of the device page are ``device.act.<action>`` for every action of
:data:`fleet.remote.actions.ACTIONS`, each needing that action's own permission
(``act.<action>``, the one ``fleet act`` checks), and ``device.act.reboot.force``: the list is
built from the actions themselves, so a new action cannot be forgotten here.

Roles (``fleet users add NAME --role ROLE``, :data:`fleet.store.users.ROLES`): what each may
do is the matrix's data (``fleet/permissions.yml``), not prose here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fleet.permissions import matrix
from fleet.remote.actions import ACTIONS as REMOTE_ACTIONS
from fleet.store.users import ROLES

__all__ = ["PERMISSION_OF", "ROLES", "may"]

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
        **{f"device.act.{name}": a.spec.permission for name, a in REMOTE_ACTIONS.items()},
        "device.act.reboot.force": "act.reboot.force",
    }
)
ACTIONS = tuple(PERMISSION_OF)


def may(role: str, action: str) -> bool:
    """May a user of ``role`` do ``action``?  Unknown roles and actions: no."""
    permission = PERMISSION_OF.get(action)
    return permission is not None and matrix().allows(role, permission)
