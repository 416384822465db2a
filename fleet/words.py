"""The words people read for the engine's codes (states, kinds, statuses, severities, incident
events, the reasons of a failed check), one table for every face: the CLI's tables, the
dashboard's pages and the SAV hand-off say the same word for the same code.

Each word is marked for the catalogue with its group as context (``pgettext("event",
"opened")``) and translated when shown, in the active language (:mod:`fleet.i18n`).  An unknown
code (a rule's own reason, a check named in ``monitoring/rules.yml``) is shown as it is.  The JSON
outputs keep the codes themselves."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fleet.i18n import NC_, pgettext

SEVERITIES = ("critical", "major", "minor", "info")
"""Worst first."""

WORDS: Mapping[str, Mapping[str, tuple[str, str]]] = MappingProxyType({
    # a site at a glance (incidents.status.SiteStatus.summary); "stale" is added to it
    "summary": MappingProxyType({
        "ok": NC_("summary", "all well"),
        "incident": NC_("summary", "incident"),
        "watch": NC_("summary", "to watch"),
        "expected": NC_("summary", "closed — expected off"),
        "unknown": NC_("summary", "not polled yet"),
        "stale": NC_("summary", "stale"),
    }),
    # a device or a check (incidents.status.DeviceStatus.state)
    "state": MappingProxyType({
        "up": NC_("state", "up"),
        "down": NC_("state", "down"),
        "degraded": NC_("state", "degraded"),
        "unknown": NC_("state", "not polled yet"),
        "stale": NC_("state", "stale"),
    }),
    "severity": MappingProxyType({
        "critical": NC_("severity", "critical"),
        "major": NC_("severity", "major"),
        "minor": NC_("severity", "minor"),
        "info": NC_("severity", "information"),
    }),
    # an incident's status (incidents.lifecycle)
    "status": MappingProxyType({
        "open": NC_("status", "open"),
        "acknowledged": NC_("status", "acknowledged"),
        "in_progress": NC_("status", "in progress"),
        "resolved": NC_("status", "resolved"),
        "closed": NC_("status", "closed"),
    }),
    "kind": MappingProxyType({
        "public_pc": NC_("kind", "public PC"),
        "borne": NC_("kind", "kiosk"),
        "gateway": NC_("kind", "wifi gateway"),
        "printer": NC_("kind", "printer"),
        "switch": NC_("kind", "switch"),
        "ap": NC_("kind", "access point"),
        "ups": NC_("kind", "UPS"),
        "screen": NC_("kind", "hall screen"),
    }),
    # an incident's history (incidents.lifecycle, handoff)
    "event": MappingProxyType({
        "opened": NC_("event", "opened"),
        "acknowledged": NC_("event", "acknowledged"),
        "assigned": NC_("event", "assigned"),
        "sav_handoff": NC_("event", "handed to the SAV"),
        "note": NC_("event", "note"),
        "resolved": NC_("event", "resolved"),
        "reopened": NC_("event", "reopened"),
        "closed": NC_("event", "closed"),
        "action": NC_("event", "action"),
        "reason_changed": NC_("event", "cause changed"),
        "ack_expired": NC_("event", "acknowledgement expired"),
        "handoff": NC_("event", "hand-off"),
        "handoff_failed": NC_("event", "hand-off failed"),
    }),
    # why a check fails (monitor.rules, monitor.snmp, the reasons of monitoring/rules.yml)
    "reason": MappingProxyType({
        "no_answer": NC_("reason", "does not answer"),
        "parent_down": NC_("reason", "behind a device that is down"),
        "flapping": NC_("reason", "unstable (keeps going down and up)"),
        "not_back_at_opening": NC_("reason", "not back at opening"),
        "over_threshold": NC_("reason", "over the limit"),
        "under_threshold": NC_("reason", "under the limit"),
        "bad_reply": NC_("reason", "invalid SNMP answer"),
        "decode_error": NC_("reason", "invalid SNMP answer"),
        "timeout": NC_("reason", "no SNMP answer"),
        "unreachable": NC_("reason", "SNMP port closed or no route"),
        "unknown_user": NC_("reason", "SNMPv3 user unknown to the device"),
        "auth_error": NC_("reason", "SNMPv3 password refused"),
        "priv_error": NC_("reason", "SNMPv3 encryption key refused"),
        "not_in_time_window": NC_("reason", "SNMPv3 clock out of step"),
        "error": NC_("reason", "SNMP error"),
        "not_running": NC_("reason", "stopped"),
        "jammed": NC_("reason", "paper jam"),
        "no_paper": NC_("reason", "out of paper"),
        "door_open": NC_("reason", "cover open"),
        "low_toner": NC_("reason", "toner low"),
        "no_toner": NC_("reason", "toner empty"),
        "on_battery": NC_("reason", "on battery"),
    }),
})


def word(group: str, code: str | None) -> str:
    """The word for ``code`` of ``group`` in the active language (``word("state", "down")`` ->
    ``hors ligne``); the code itself when the table does not know it, "" for ``None``."""
    if code is None:
        return ""
    found = WORDS.get(group, {}).get(code)
    return pgettext(*found) if found else code
