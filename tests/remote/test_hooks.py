"""The small hooks issue 12 adds elsewhere: a remote action becomes a GLPI followup; the
monitor takes a device back from an outage seen while its site was closed (powered off by
schedule) for an expected reboot, not an "unexpected reboot" every morning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleet.handoff.content import Context, event_sentence
from fleet.handoff.tickets import FOLLOWUP_KINDS
from fleet.inventory import load_inventory
from fleet.monitor.poller import Sample
from fleet.monitor.rules import REACHABILITY, evaluate_device
from fleet.monitor.rules import Context as RuleContext
from fleet.monitor.rules_file import load_rules
from fleet.store.outbox import GLPI_KINDS, EntryView, channels_for
from tests.conftest import REPO

T0 = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def test_action_events_go_to_glpi_as_followups() -> None:
    assert "action" in GLPI_KINDS and "action" in FOLLOWUP_KINDS
    assert set(channels_for("action", {}, ["glpi", "email"], email_started=True)) == {"glpi"}
    inv = load_inventory(REPO / "inventory")
    entry = EntryView(1, 12, 40, "glpi", "action", T0, "pending", 0, T0, None, None, None, T0, "marie",
                      "restart-kiosk on florac-fs-borne1: changed — kiosk restarted: PID 812 -> 1907",
                      {"action": "restart-kiosk", "outcome": "changed"})
    ctx = Context(inv.site("florac-fs"), inv.device("florac-fs-borne1"))
    text = event_sentence(entry, ctx)
    assert text.startswith("Action à distance par marie le 23/11/2026 à 18:00")
    assert "kiosk restarted: PID 812 -> 1907" in text


def _sample(at: datetime, ok: bool, uptime: float | None = None) -> Sample:
    return Sample("florac-fs-pc1", at, ok, None if ok else "timeout",
                  {"uptime_s": uptime} if uptime is not None else {}, 5.0)


def _run(closed_at_night: bool) -> list[str]:
    rules = load_rules(REPO / "monitoring" / "rules.yml")
    dev = load_inventory(REPO / "inventory").device("florac-fs-pc1")
    states: dict = {}  # type: ignore[type-arg]
    kinds: list[str] = []
    t = T0
    steps = [(True, 36_000.0)] + [(False, None)] * 5 + [(True, 120.0), (True, 180.0)]
    for i, (ok, uptime) in enumerate(steps):
        site_open = not (closed_at_night and 0 < i < len(steps) - 2)
        ev = evaluate_device(dev, _sample(t, ok, uptime), previous=states, open_incidents={},
                             ctx=RuleContext(now=t, site_open=site_open,
                                             opened_at=t - timedelta(hours=1) if site_open else None),
                             rules=rules)
        states = dict(ev.states)
        kinds += [e.kind for e in ev.events]
        t += timedelta(minutes=1)
    assert states[REACHABILITY].status == "up"
    return kinds


def test_back_from_a_closed_period_is_an_expected_reboot() -> None:
    assert _run(closed_at_night=True) == ["reboot"]
    # positive control: the same outage during opening hours is still unexpected
    assert _run(closed_at_night=False) == ["unexpected_reboot"]

