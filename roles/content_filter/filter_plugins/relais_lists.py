"""Which lists the gateway gets, answered by the Relais engine (``fleet.gateway.lists``): the
controller's list store that ``fleet blocklists update`` fills, else the repository's sample
lists, and whether the profile may be deployed from them (never ``pmi`` from sample lists
outside the lab).

Needs the ``fleet`` package in the Python that runs Ansible (the Relais virtualenv)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover - only imported by Ansible
    AnsibleFilterError = ValueError  # type: ignore[assignment,misc]


def _lists() -> Any:
    try:
        from fleet.gateway import lists
    except ImportError:
        repo = Path(__file__).resolve().parents[3]
        if (repo / "fleet" / "__init__.py").is_file() and str(repo) not in sys.path:
            sys.path.insert(0, str(repo))
        try:
            from fleet.gateway import lists
        except ImportError as exc:
            raise AnsibleFilterError(
                "relais_blocklists_source needs the Relais engine (fleet) in Ansible's Python: "
                f"{exc} (run .venv/bin/ansible-playbook)") from exc
    return lists


def relais_blocklists_source(profile: str, lab: bool, lists_dir: str = "") -> dict[str, Any]:
    """{path, sample, problem, meta_text, source} for a gateway of ``profile``."""
    lists = _lists()
    from fleet.errors import FleetError

    try:
        src = lists.deploy_source(str(profile), bool(lab),
                                  lists_dir=Path(lists_dir) if lists_dir else None)
    except FleetError as exc:
        raise AnsibleFilterError(" ".join(str(exc).split())) from exc
    return dict(src.to_json())


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"relais_blocklists_source": relais_blocklists_source}
