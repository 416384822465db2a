"""Words the pages show for the engine's codes (statuses, severities, kinds), marked for the
catalogue and translated when shown."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fleet.i18n import N_, gettext

SEVERITIES = ("critical", "major", "minor", "info")
"""Worst first."""

_LABELS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "state": MappingProxyType({
            "up": N_("up"), "down": N_("down"), "degraded": N_("degraded"), "unknown": N_("not polled yet"),
        }),
        "summary": MappingProxyType({
            "ok": N_("all well"), "incident": N_("incident"), "watch": N_("to watch"),
            "expected": N_("closed — expected off"), "unknown": N_("not polled yet"),
        }),
        "severity": MappingProxyType({
            "critical": N_("critical"), "major": N_("major"), "minor": N_("minor"), "info": N_("information"),
        }),
        "status": MappingProxyType({
            "open": N_("open"), "acknowledged": N_("acknowledged"), "in_progress": N_("with the SAV"),
            "resolved": N_("resolved"), "closed": N_("closed"),
        }),
        "kind": MappingProxyType({
            "public_pc": N_("public PC"), "borne": N_("kiosk"), "gateway": N_("wifi gateway"),
            "printer": N_("printer"), "switch": N_("switch"), "ap": N_("access point"), "ups": N_("UPS"),
        }),
        "event": MappingProxyType({
            "opened": N_("opened"), "acknowledged": N_("acknowledged"), "assigned": N_("assigned"),
            "sav_handoff": N_("handed to the SAV"), "note": N_("note"), "resolved": N_("resolved"),
            "reopened": N_("reopened"), "closed": N_("closed"), "action": N_("action"),
            "reason_changed": N_("cause changed"), "ack_expired": N_("acknowledgement expired"),
            "handoff": N_("hand-off"), "handoff_failed": N_("hand-off failed"),
        }),
        "outbox": MappingProxyType({
            "pending": N_("waiting"), "delivered": N_("delivered"), "failed": N_("failed"),
            "skipped": N_("given up"),
        }),
        "channel": MappingProxyType({"glpi": N_("GLPI"), "email": N_("e-mail")}),
        "day": MappingProxyType({
            "mon": N_("Monday"), "tue": N_("Tuesday"), "wed": N_("Wednesday"), "thu": N_("Thursday"),
            "fri": N_("Friday"), "sat": N_("Saturday"), "sun": N_("Sunday"),
        }),
        "metric": MappingProxyType({
            "elapsed_ms": N_("Response time (ms)"), "cpu_load_pct": N_("Processor load (%)"),
            "mem_used_pct": N_("Memory used (%)"), "disk_used_pct:/": N_("Disk used (%)"),
            "ups_charge_pct": N_("Battery charge (%)"), "if_up_count": N_("Ports up"),
        }),
        "role": MappingProxyType({
            "auditor": N_("auditor"), "technician": N_("technician"), "hotline": N_("hotline"),
            "admin": N_("administrator"),
        }),
        "summary_css": MappingProxyType({
            "st-critical": N_("critical incident"), "st-major": N_("major incident"),
            "st-minor": N_("minor incident"), "st-info": N_("information"), "st-watch": N_("to watch"),
            "st-ok": N_("all well"), "st-expected": N_("closed — expected off"),
            "st-unknown": N_("not polled yet"), "st-incident": N_("incident"),
        }),
        "site_kind": MappingProxyType({
            "prefecture": N_("prefecture"), "sous_prefecture": N_("sub-prefecture"),
            "france_services": N_("France Services"), "mairie": N_("town hall"),
            "cyber_base": N_("cyber-base"), "centre_social": N_("social centre"),
            "mediatheque": N_("media library"),
        }),
    }
)  # fmt: skip


def label(group: str, code: str | None) -> str:
    """The translated word for ``code`` of ``group`` (the code itself when unknown)."""
    if code is None:
        return ""
    found = _LABELS.get(group, {}).get(code)
    return gettext(found) if found else code
