"""Words only the pages show (remote actions and their help, outcomes, roles, days...), marked
for the catalogue with their group as context and translated when shown.  The words every face
shows (states, kinds, statuses, severities, events, reasons) are :mod:`fleet.words`'s, so the
dashboard and the CLI never name one code two ways."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fleet.i18n import NC_, pgettext
from fleet.words import WORDS

_LABELS: Mapping[str, Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "outbox": MappingProxyType(
            {
                "pending": NC_("outbox", "waiting"),
                "delivered": NC_("outbox", "delivered"),
                "failed": NC_("outbox", "failed"),
                "skipped": NC_("outbox", "given up"),
            }
        ),
        "channel": MappingProxyType(
            {
                "glpi": NC_("channel", "GLPI"),
                "email": NC_("channel", "e-mail"),
            }
        ),
        "day": MappingProxyType(
            {
                "mon": NC_("day", "Monday"),
                "tue": NC_("day", "Tuesday"),
                "wed": NC_("day", "Wednesday"),
                "thu": NC_("day", "Thursday"),
                "fri": NC_("day", "Friday"),
                "sat": NC_("day", "Saturday"),
                "sun": NC_("day", "Sunday"),
            }
        ),
        "metric": MappingProxyType(
            {
                "elapsed_ms": NC_("metric", "Response time (ms)"),
                "cpu_load_pct": NC_("metric", "Processor load (%)"),
                "mem_used_pct": NC_("metric", "Memory used (%)"),
                "disk_used_pct:/": NC_("metric", "Disk used (%)"),
                "ups_charge_pct": NC_("metric", "Battery charge (%)"),
                "if_up_count": NC_("metric", "Ports up"),
            }
        ),
        "remote_action": MappingProxyType(
            {
                "restart-kiosk": NC_("remote_action", "Restart the kiosk browser"),
                "wipe-now": NC_("remote_action", "Wipe the session now"),
                "clear-print-queue": NC_("remote_action", "Clear the print queue"),
                "restart-service": NC_("remote_action", "Restart a service"),
                "reboot": NC_("remote_action", "Reboot"),
                "wake": NC_("remote_action", "Wake (Wake-on-LAN)"),
                "push-blocklists": NC_("remote_action", "Push the filtering lists"),
                "collect-connlog": NC_("remote_action", "Collect the connection log"),
            }
        ),
        "remote_help": MappingProxyType(
            {
                "restart-kiosk": NC_("remote_help", "Restarts the kiosk's browser and checks that it runs "
                                     "again."),
                "wipe-now": NC_("remote_help", "Erases the guest session now (files, browser, print jobs) "
                                "and writes a wipe record; whoever is using it loses their session."),
                "clear-print-queue": NC_("remote_help", "Cancels every waiting print job."),
                "restart-service": NC_("remote_help", "Restarts one service from the allowed list and "
                                       "checks that it is active again."),
                "reboot": NC_("remote_help", "Reboots and waits until the device answers again (a few "
                              "minutes). Refused while the site is open and a guest session is active, "
                              "unless forced."),
                "wake": NC_("remote_help", "Sends the wake-up packet from the site's gateway and waits "
                            "until the device answers (a few minutes)."),
                "push-blocklists": NC_("remote_help", "Sends the current filtering lists to the gateway."),
                "collect-connlog": NC_("remote_help", "Fetches the legal connection log (personal data, "
                                       "kept one year)."),
            }
        ),
        "outcome": MappingProxyType(
            {
                "changed": NC_("outcome", "done"),
                "no_change": NC_("outcome", "nothing to change"),
                "failed": NC_("outcome", "failed"),
                "refused": NC_("outcome", "refused"),
                "unreachable": NC_("outcome", "unreachable"),
            }
        ),
        "role": MappingProxyType(
            {
                "auditor": NC_("role", "auditor"),
                "technician": NC_("role", "technician"),
                "hotline": NC_("role", "hotline"),
                "admin": NC_("role", "administrator"),
            }
        ),
        "summary_css": MappingProxyType(
            {
                "st-critical": NC_("summary_css", "critical incident"),
                "st-major": NC_("summary_css", "major incident"),
                "st-minor": NC_("summary_css", "minor incident"),
                "st-info": NC_("summary_css", "information"),
                "st-watch": NC_("summary_css", "to watch"),
                "st-ok": NC_("summary_css", "all well"),
                "st-expected": NC_("summary_css", "closed — expected off"),
                "st-unknown": NC_("summary_css", "not polled yet"),
                "st-incident": NC_("summary_css", "incident"),
            }
        ),
        "site_kind": MappingProxyType(
            {
                "prefecture": NC_("site_kind", "prefecture"),
                "sous_prefecture": NC_("site_kind", "sub-prefecture"),
                "france_services": NC_("site_kind", "France Services"),
                "mairie": NC_("site_kind", "town hall"),
                "cyber_base": NC_("site_kind", "cyber-base"),
                "centre_social": NC_("site_kind", "social centre"),
                "mediatheque": NC_("site_kind", "media library"),
            }
        ),
    }
)


def label(group: str, code: str | None) -> str:
    """The translated word for ``code`` of ``group`` (the code itself when unknown)."""
    if code is None:
        return ""
    found = _LABELS.get(group, {}).get(code) or WORDS.get(group, {}).get(code)
    return pgettext(*found) if found else code
