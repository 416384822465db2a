"""The opening-hours gate's file, rendered by the Relais engine (``fleet.gateway.hoursfile``):
the controller turns the inventory's parsed semainier into UTC opening intervals, so the
gateway parses no opening hours of its own (one answer to "is the site open now?").

Needs the ``fleet`` package in the Python that runs Ansible (the Relais virtualenv: ``fleet
deploy`` and the documented ``.venv/bin/ansible-playbook``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover - only imported by Ansible
    AnsibleFilterError = ValueError  # type: ignore[assignment,misc]


def _fleet() -> Any:
    try:
        from fleet.gateway import hoursfile
    except ImportError:
        repo = Path(__file__).resolve().parents[3]
        if (repo / "fleet" / "__init__.py").is_file() and str(repo) not in sys.path:
            sys.path.insert(0, str(repo))
        try:
            from fleet.gateway import hoursfile
        except ImportError as exc:
            raise AnsibleFilterError(
                f"relais_portal_hours needs the Relais engine (fleet) in Ansible's Python: {exc}"
                " (run .venv/bin/ansible-playbook)") from exc
    return hoursfile


def relais_portal_hours(site_id: str, sources: list[str], interface: str, always_open: bool,
                        reference: str) -> str:
    """JSON text of /etc/relais/portal-hours.json for ``site_id``."""
    hoursfile = _fleet()
    from fleet.errors import FleetError

    try:
        return str(hoursfile.render_for(str(site_id), [str(s) for s in sources],
                                        str(interface), bool(always_open), str(reference)))
    except FleetError as exc:
        raise AnsibleFilterError(" ".join(str(exc).split())) from exc


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"relais_portal_hours": relais_portal_hours}
