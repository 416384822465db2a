"""The words of the CLI's tables for the engine's codes (states, kinds, statuses), in the active
language.  The JSON output keeps the codes themselves."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fleet.i18n import NC_, pgettext

_WORDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    # site summary
    "summary:ok": NC_("summary", "ok"),
    "summary:incident": NC_("summary", "incident"),
    "summary:watch": NC_("summary", "watch"),
    "summary:expected": NC_("summary", "expected"),
    "summary:unknown": NC_("summary", "never polled"),
    "summary:stale": NC_("summary", "stale"),
    # device state
    "state:up": NC_("state", "up"),
    "state:down": NC_("state", "down"),
    "state:degraded": NC_("state", "degraded"),
    "state:unknown": NC_("state", "unknown"),
    "state:stale": NC_("state", "stale"),
    # device kinds
    "kind:public_pc": NC_("kind", "public PC"),
    "kind:borne": NC_("kind", "kiosk"),
    "kind:gateway": NC_("kind", "gateway"),
    "kind:printer": NC_("kind", "printer"),
    "kind:switch": NC_("kind", "switch"),
    "kind:ap": NC_("kind", "wifi AP"),
    "kind:ups": NC_("kind", "UPS"),
    # incident statuses and severities
    "status:open": NC_("incident", "open"),
    "status:acknowledged": NC_("incident", "acknowledged"),
    "status:in_progress": NC_("incident", "in progress"),
    "status:resolved": NC_("incident", "resolved"),
    "status:closed": NC_("incident", "closed"),
    "severity:critical": NC_("severity", "critical"),
    "severity:major": NC_("severity", "major"),
    "severity:minor": NC_("severity", "minor"),
    "severity:warning": NC_("severity", "warning"),
    "severity:info": NC_("severity", "info"),
    # incident events
    "event:opened": NC_("event", "opened"),
    "event:reason_changed": NC_("event", "reason changed"),
    "event:acknowledged": NC_("event", "acknowledged"),
    "event:sav_handoff": NC_("event", "handed to SAV"),
    "event:assigned": NC_("event", "assigned"),
    "event:note": NC_("event", "note"),
    "event:action": NC_("event", "action"),
    "event:resolved": NC_("event", "resolved"),
    "event:closed": NC_("event", "closed"),
})


def word(kind: str, code: str) -> str:
    """The word for an engine code (``word("state", "down")`` -> ``hors ligne``); an unknown
    code is shown as it is."""
    found = _WORDS.get(f"{kind}:{code}")
    return pgettext(*found) if found else code


STYLE: Mapping[str, str] = MappingProxyType({
    "ok": "green", "up": "green", "incident": "red", "down": "red", "watch": "yellow",
    "degraded": "yellow", "expected": "cyan", "unknown": "dim", "stale": "magenta",
    "open": "red", "acknowledged": "yellow", "in_progress": "cyan", "resolved": "green",
    "closed": "dim", "critical": "bold red", "major": "red", "minor": "yellow",
})
