"""The power schedule's shutdown instants, computed by the Relais engine
(``fleet.inventory.power.calendar_for_host``) from the host's Ansible variables with the
inventory's own parsers: one answer to "when does this PC shut down?", shared with
``fleet power wake --due`` and ``fleet power report``.

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


def _power() -> Any:
    try:
        from fleet.inventory import power
    except ImportError:
        repo = Path(__file__).resolve().parents[3]
        if (repo / "fleet" / "__init__.py").is_file() and str(repo) not in sys.path:
            sys.path.insert(0, str(repo))
        try:
            from fleet.inventory import power
        except ImportError as exc:
            raise AnsibleFilterError(
                f"relais_power_calendar needs the Relais engine (fleet) in Ansible's Python: {exc}"
                " (run .venv/bin/ansible-playbook)") from exc
    return power


def _plain(value: Any) -> Any:
    """Ansible's lazy containers and tagged strings -> plain Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return str(value)


def relais_power_calendar(week: Any, timezone: str, site_power: Any, groups: Any) -> list[str]:
    """OnCalendar values of this host's weekly shutdowns ([] when it is not scheduled)."""
    power = _power()
    try:
        return list(power.calendar_for_host(_plain(week), str(timezone), _plain(site_power),
                                            [str(g) for g in groups or []]))
    except ValueError as exc:
        raise AnsibleFilterError(f"relais_power_calendar: {exc}") from exc


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"relais_power_calendar": relais_power_calendar}
