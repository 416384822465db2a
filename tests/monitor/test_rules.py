"""The rules, pure: samples + previous state + clock + site context -> decisions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleet.errors import ConfigError
from fleet.inventory.models import DeviceKind
from fleet.monitor.poller import Sample
from fleet.monitor.rules import (
    REACHABILITY,
    SNMP_ACCESS,
    CheckState,
    Context,
    Evaluation,
    evaluate_device,
)
from fleet.monitor.rules_file import load_rules
from fleet.monitor.ruleset import RuleSet

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
STEP = timedelta(minutes=1)


@dataclass(frozen=True)
class Dev:
    hostname: str
    kind: DeviceKind
    site_id: str = "florac-fs"


PC = Dev("florac-fs-pc1", DeviceKind.PUBLIC_PC)
BORNE = Dev("florac-fs-borne1", DeviceKind.BORNE)
GW = Dev("florac-fs-gw", DeviceKind.GATEWAY)
PRN = Dev("florac-fs-prn1", DeviceKind.PRINTER)
UPS = Dev("florac-fs-ups1", DeviceKind.UPS)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(REPO / "monitoring" / "rules.yml")


def ok(dev: Dev, at: datetime, **metrics: float | int | str) -> Sample:
    base: dict[str, float | int | str] = {"uptime_s": 1000 + (at - T0).total_seconds()}
    base.update(metrics)
    return Sample(dev.hostname, at, True, None, base, 5.0)


def fail(dev: Dev, at: datetime, error: str = "timeout") -> Sample:
    return Sample(dev.hostname, at, False, error, {}, 2000.0)


class Run:
    """Feeds samples one cycle at a time, keeping states and open incidents like the store."""

    def __init__(self, dev: Dev, rules: RuleSet) -> None:
        self.dev, self.rules = dev, rules
        self.states: dict[str, CheckState] = {}
        self.open: dict[str, str] = {}
        self.opened: list[tuple[str, str]] = []
        self.resolved: list[str] = []
        self.last: Evaluation | None = None

    def step(self, sample: Sample | None, **ctx: object) -> Evaluation:
        now = sample.at if sample is not None else ctx.pop("now")
        assert isinstance(now, datetime)
        ev = evaluate_device(
            self.dev,
            sample,
            previous=self.states,
            open_incidents=self.open,
            ctx=Context(now=now, **ctx),  # type: ignore[arg-type]
            rules=self.rules,
        )
        self.states = dict(ev.states)
        for a in ev.actions:
            if a.action == "open":
                assert a.check not in self.open, "opened twice"
                self.open[a.check] = a.reason
                self.opened.append((a.check, a.reason))
            elif a.action == "resolve":
                del self.open[a.check]
                self.resolved.append(a.check)
            else:
                self.open[a.check] = a.reason
        self.last = ev
        return ev

    def state(self, check: str = REACHABILITY) -> CheckState:
        return self.states[check]


def test_goes_down_after_n_failures_and_back_after_m_successes(rules: RuleSet) -> None:
    run = Run(PC, rules)
    run.step(ok(PC, T0))
    assert run.state().status == "up"
    for i in range(1, 3):
        run.step(fail(PC, T0 + i * STEP))
        assert run.state().status == "up", f"down after only {i} failures"
        assert not run.opened
    run.step(fail(PC, T0 + 3 * STEP))
    assert run.state().status == "down"
    assert run.state().reason == "no_answer"
    assert run.opened == [(REACHABILITY, "no_answer")]
    action = next(a for a in run.last.actions if a.action == "open")  # type: ignore[union-attr]
    assert action.severity == "major" and "florac-fs-pc1" in action.title
    run.step(ok(PC, T0 + 4 * STEP))
    assert run.state().status == "down" and not run.resolved
    run.step(ok(PC, T0 + 5 * STEP))
    assert run.state().status == "up"
    assert run.resolved == [REACHABILITY]
    changes = [(c.from_status, c.to_status) for c in run.last.changes]  # type: ignore[union-attr]
    assert changes == [("down", "up")]


def test_a_failure_streak_is_broken_by_one_success(rules: RuleSet) -> None:
    run = Run(PC, rules)
    run.step(ok(PC, T0))
    for i in range(1, 20):
        sample = fail(PC, T0 + i * STEP) if i % 3 else ok(PC, T0 + i * STEP)
        run.step(sample)
    assert run.state().status == "up" and not run.opened


def test_auth_error_is_not_down_and_has_its_own_check(rules: RuleSet) -> None:
    run = Run(PC, rules)
    run.step(ok(PC, T0))
    for i in range(1, 3):
        run.step(fail(PC, T0 + i * STEP, "auth_error"))
    assert run.state(REACHABILITY).status == "up", "an agent refusing us is reachable"
    assert run.state(SNMP_ACCESS).status == "down"
    assert run.opened == [(SNMP_ACCESS, "auth_error")]
    # Thresholds cannot be read meanwhile: their checks keep their last state.
    assert "cpu" not in run.states or run.state("cpu").status != "down"


def test_reason_change_while_down_is_recorded(rules: RuleSet) -> None:
    run = Run(PC, rules)
    run.step(ok(PC, T0))
    for i in range(1, 3):
        run.step(fail(PC, T0 + i * STEP, "auth_error"))
    run.step(fail(PC, T0 + 3 * STEP, "priv_error"))
    assert run.state(SNMP_ACCESS).reason == "priv_error"
    assert run.open[SNMP_ACCESS] == "priv_error"
    assert any(c.detail == "reason changed" for c in run.last.changes)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("dev", "metrics", "check", "reason"),
    [
        (PC, {"disk_used_pct:/home": 97.0, "disk_used_pct:/": 40.0}, "disk:/home", "over_threshold"),
        (BORNE, {"proc_running:chromium": 0, "proc_running:relais-wipe": 1}, "kiosk", "not_running"),
        (PC, {"proc_running:relais-wipe": 0}, "session_wipe", "not_running"),
        (PRN, {"printer_error:jammed": 1}, "printer_jam", "jammed"),
        (PRN, {"printer_error:no_paper": 1}, "printer_paper", "no_paper"),
        (PRN, {"printer_error:door_open": 1}, "printer_door", "door_open"),
        (PRN, {"printer_error:low_toner": 1}, "toner", "low_toner"),
        (PRN, {"supply_pct:Black Toner": 4}, "supply:Black Toner", "under_threshold"),
        (UPS, {"ups_on_battery": 1, "ups_charge_pct": 95}, "ups_on_battery", "on_battery"),
        (UPS, {"ups_on_battery": 1, "ups_charge_pct": 12}, "ups_charge", "under_threshold"),
        (PC, {"cpu_load_pct": 99}, "cpu", "over_threshold"),
        (PC, {"mem_used_pct": 99}, "memory", "over_threshold"),
    ],
)
def test_threshold_rules_open_their_incident(
    rules: RuleSet, dev: Dev, metrics: Mapping[str, float | int | str], check: str, reason: str
) -> None:
    run = Run(dev, rules)
    healthy = {k: (0 if "error" in k or "on_battery" in k else 1 if "proc" in k else 50)
               for k in metrics}  # fmt: skip
    if any(k.startswith("supply_pct") or k == "ups_charge_pct" for k in metrics):
        healthy = dict.fromkeys(metrics, 80) | {k: 0 for k in metrics if "on_battery" in k}
    run.step(ok(dev, T0, **healthy))
    assert not run.opened
    for i in range(1, 8):
        run.step(ok(dev, T0 + i * STEP, **metrics))
    assert (check, reason) in run.opened
    assert run.state(check).status == "down"
    assert run.state(REACHABILITY).status == "up"
    # Back to healthy values: the incident resolves itself after the recovery streak.
    for i in range(8, 12):
        run.step(ok(dev, T0 + i * STEP, **healthy))
    assert check in run.resolved and check not in run.open


def test_value_under_threshold_opens_nothing_and_unknown_levels_are_ignored(
    rules: RuleSet,
) -> None:
    run = Run(PRN, rules)
    for i in range(5):
        run.step(ok(PRN, T0 + i * STEP, **{"supply_pct:Waste": -3, "printer_error:jammed": 0}))
    assert not run.opened
    assert "supply:Waste" not in run.states


def test_flapping_yields_a_single_incident(rules: RuleSet) -> None:
    run = Run(PC, rules)
    t = T0
    run.step(ok(PC, t))
    # Down for 3, up for 2, repeatedly: each flip would otherwise open/resolve an incident.
    for _ in range(6):
        for _ in range(3):
            t += STEP
            run.step(fail(PC, t))
        for _ in range(2):
            t += STEP
            run.step(ok(PC, t))
    reach = [o for o in run.opened if o[0] == REACHABILITY]
    assert run.state().flapping
    assert run.open.get(REACHABILITY) == "flapping"
    # Before flapping was detected, the first outages did open (and resolve) incidents;
    # from detection on, one incident stays open however often it flips.
    opened_after = reach[len(run.resolved) :]
    assert len(opened_after) <= 1
    n_resolved = len(run.resolved)
    for _ in range(4):
        for _ in range(3):
            t += STEP
            run.step(fail(PC, t))
        for _ in range(2):
            t += STEP
            run.step(ok(PC, t))
    assert len(run.resolved) == n_resolved, "a flapping incident must not resolve while flapping"
    # Quiet and up for the quiet period: flapping ends and the incident resolves.
    for _ in range(40):
        t += STEP
        run.step(ok(PC, t))
    assert not run.state().flapping
    assert REACHABILITY not in run.open


def test_closed_site_opens_nothing_and_not_back_at_opening_does(rules: RuleSet) -> None:
    run = Run(PC, rules)
    evening = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
    run.step(ok(PC, evening), site_open=False)
    t = evening
    for _ in range(60):  # switched off for the night
        t += STEP
        run.step(fail(PC, t), site_open=False)
    assert run.state().status == "down"
    assert run.state().suppressed == "closed"
    assert not run.opened
    opened_at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    t = opened_at
    for _ in range(29):  # within the 30 min grace after opening
        t += STEP
        run.step(fail(PC, t), site_open=True, opened_at=opened_at)
    assert not run.opened
    assert run.state().suppressed == "opening_grace"
    t += timedelta(minutes=2)
    run.step(fail(PC, t), site_open=True, opened_at=opened_at)
    assert run.opened == [(REACHABILITY, "not_back_at_opening")]
    action = next(a for a in run.last.actions if a.action == "open")  # type: ignore[union-attr]
    assert "pas revenu à l'ouverture" in action.title


def test_an_opening_older_than_the_grace_suppresses_nothing(rules: RuleSet) -> None:
    """The cycle asks the inventory only whether the site opened recently (``opened_at`` None:
    longer ago than the grace, e.g. a site open day and night since a closure ended)."""
    run = Run(PC, rules)
    t = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    run.step(ok(PC, t), site_open=False)
    for _ in range(10):  # down during the closure
        t += STEP
        run.step(fail(PC, t), site_open=False)
    assert run.state().suppressed == "closed" and not run.opened
    t += timedelta(hours=12)
    run.step(fail(PC, t), site_open=True, opened_at=None)
    assert run.state().suppressed is None
    assert run.opened == [(REACHABILITY, "not_back_at_opening")]


def test_device_back_within_grace_opens_nothing(rules: RuleSet) -> None:
    run = Run(PC, rules)
    t = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    run.step(ok(PC, t), site_open=False)
    for _ in range(10):
        t += STEP
        run.step(fail(PC, t), site_open=False)
    opened_at = t + timedelta(hours=10)
    t = opened_at + timedelta(minutes=5)
    run.step(fail(PC, t), site_open=True, opened_at=opened_at)
    for _ in range(3):
        t += STEP
        run.step(ok(PC, t), site_open=True, opened_at=opened_at)
    assert run.state().status == "up" and not run.opened


def test_outage_starting_during_opening_hours_is_a_plain_incident(rules: RuleSet) -> None:
    run = Run(PC, rules)
    opened_at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    t = opened_at + timedelta(minutes=1)
    run.step(ok(PC, t), site_open=True, opened_at=opened_at)
    for _ in range(3):
        t += STEP
        run.step(fail(PC, t), site_open=True, opened_at=opened_at)
    assert run.opened == [(REACHABILITY, "no_answer")], "the grace is for outages at opening only"


def test_maintenance_window_suppresses_then_opens_if_still_down(rules: RuleSet) -> None:
    run = Run(BORNE, rules)
    t = T0
    run.step(ok(BORNE, t, **{"proc_running:chromium": 1}))
    for _ in range(10):
        t += STEP
        run.step(fail(BORNE, t), maintenance="maintenance #1 by alice: new screen")
    assert run.state().status == "down" and run.state().suppressed == "maintenance"
    assert not run.opened
    t += STEP
    run.step(fail(BORNE, t))  # window over, still down: now it is an incident
    assert run.opened == [(REACHABILITY, "no_answer")]
    assert run.last.actions[0].severity == "critical"  # type: ignore[union-attr]


def test_device_behind_a_down_parent_is_marked_and_opens_nothing(rules: RuleSet) -> None:
    run = Run(PC, rules)
    t = T0
    run.step(ok(PC, t))
    for _ in range(5):
        t += STEP
        run.step(fail(PC, t), parent_down="florac-fs-gw")
    assert run.state().status == "down"
    assert run.state().reason == "parent_down"
    assert run.state().suppressed == "parent"
    assert not run.opened
    # The gateway comes back but this PC does not: now it is its own incident.
    t += STEP
    run.step(fail(PC, t))
    assert run.opened == [(REACHABILITY, "no_answer")]


def test_gateway_down_is_the_site_root_cause(rules: RuleSet) -> None:
    run = Run(GW, rules)
    t = T0
    run.step(ok(GW, t))
    for _ in range(3):
        t += STEP
        run.step(fail(GW, t), is_parent=True, behind=7, site_name="France Services de Florac")
    action = next(a for a in run.last.actions if a.action == "open")  # type: ignore[union-attr]
    assert action.root_cause
    assert action.severity == "critical"
    assert action.title.startswith("Site France Services de Florac injoignable")


def test_manual_resolve_while_still_down_is_not_reopened(rules: RuleSet) -> None:
    run = Run(PC, rules)
    t = T0
    run.step(ok(PC, t))
    for _ in range(3):
        t += STEP
        run.step(fail(PC, t))
    assert REACHABILITY in run.open
    del run.open[REACHABILITY]  # the hotline resolved it by hand
    for _ in range(5):
        t += STEP
        run.step(fail(PC, t))
    assert len(run.opened) == 1
    for _ in range(2):
        t += STEP
        run.step(ok(PC, t))
    for _ in range(3):
        t += STEP
        run.step(fail(PC, t))
    assert len(run.opened) == 2, "a new outage after recovery opens a new incident"


def test_unexpected_reboot_is_a_device_event(rules: RuleSet) -> None:
    run = Run(PC, rules)
    run.step(ok(PC, T0, uptime_s=86_400))
    ev = run.step(ok(PC, T0 + STEP, uptime_s=30))
    assert [e.kind for e in ev.events] == ["unexpected_reboot"]
    assert ev.events[0].data["booted_at"] == (T0 + STEP - timedelta(seconds=30)).isoformat()
    ev = run.step(ok(PC, T0 + 2 * STEP, uptime_s=90))
    assert not ev.events


def test_reboot_during_a_deploy_is_expected(rules: RuleSet) -> None:
    run = Run(PC, rules)
    run.step(ok(PC, T0, uptime_s=86_400))
    ev = run.step(ok(PC, T0 + STEP, uptime_s=30), deploy="deploy #4 by alice")
    assert [e.kind for e in ev.events] == ["reboot"]
    assert ev.events[0].data["expected"] is True


def test_uptime_counter_wrap_is_not_a_reboot(rules: RuleSet) -> None:
    run = Run(PC, rules)
    wrap = 2**32 / 100
    run.step(ok(PC, T0, uptime_s=wrap - 30))
    ev = run.step(ok(PC, T0 + STEP, uptime_s=30))
    assert not ev.events


def test_not_polled_keeps_state(rules: RuleSet) -> None:
    run = Run(PC, rules)
    run.step(ok(PC, T0))
    before = run.states
    run.step(None, now=T0 + STEP)
    assert run.states[REACHABILITY].status == before[REACHABILITY].status


def test_state_counters_round_trip(rules: RuleSet) -> None:
    state = CheckState(
        status="down", reason="no_answer", since=T0, at=T0, value="3",
        fail_streak=4, changes=(T0, T0 + STEP), flapping=True, alerted=True, closed_seen=True,
    )  # fmt: skip
    again = CheckState.from_row(
        status=state.status, reason=state.reason, since=state.since, at=state.at,
        value=state.value, suppressed=None, counters=state.counters(),
    )  # fmt: skip
    assert again == replace(state, suppressed=None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{check: disk, title: x, metric: m}]", "exactly one of over, under, equals"),
        ("rules: [{check: disk, title: x, metric: m, over: lots}]", "rules[0].over"),
        ("rules: [{check: d, title: '{oops}', metric: m, over: 1}]", "unknown placeholder"),
        ("defaults: {fail_after: 0}", "defaults.fail_after"),
        ("reachability: {severity: {toaster: major}}", "unknown device kind 'toaster'"),
        ("rules: [{check: reachability, title: x, metric: m, over: 1}]", "reserved"),
        ("- a list", "must be a mapping"),
        ("rules: [{check: disk, title: x, metric: m, over: 1, colour: red}]", "colour"),
    ],
)
def test_bad_rules_file_names_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_printer_flag_cleared_is_absent_from_the_sample_and_resolves(rules: RuleSet) -> None:
    run = Run(PRN, rules)
    run.step(ok(PRN, T0, **{"printer_error:jammed": 1, "printer_errors": 1}))
    assert run.opened == [("printer_jam", "jammed")]
    run.step(ok(PRN, T0 + STEP, printer_errors=0))  # the poller omits flags that are not set
    assert run.resolved == ["printer_jam"]


def test_reboot_across_an_outage_is_detected(rules: RuleSet) -> None:
    run = Run(PC, rules)
    run.step(ok(PC, T0, uptime_s=86_400))
    run.step(fail(PC, T0 + STEP))
    ev = run.step(ok(PC, T0 + 2 * STEP, uptime_s=40))
    assert [e.kind for e in ev.events] == ["unexpected_reboot"]


def test_incident_open_before_closing_keeps_its_reason_at_opening(rules: RuleSet) -> None:
    run = Run(PC, rules)
    t = datetime(2026, 11, 23, 15, 50, tzinfo=UTC)
    run.step(ok(PC, t), site_open=True, opened_at=t - timedelta(hours=2))
    for _ in range(3):
        t += STEP
        run.step(fail(PC, t), site_open=True, opened_at=t - timedelta(hours=2))
    assert run.opened == [(REACHABILITY, "no_answer")]
    for _ in range(5):
        t += STEP
        run.step(fail(PC, t), site_open=False)
    opened_at = t + timedelta(hours=16)
    run.step(fail(PC, opened_at + timedelta(hours=1)), site_open=True, opened_at=opened_at)
    assert run.open == {REACHABILITY: "no_answer"}
    assert len(run.opened) == 1


def test_bad_rules_file_error_carries_the_line(tmp_path: Path) -> None:
    # the same file:line mapping as the inventory (fleet.inventory.validate)
    path = tmp_path / "rules.yml"
    path.write_text(
        "defaults: {fail_after: 3}\n"
        "rules:\n"
        "  - check: disk\n"
        "    title: Disque plein\n"
        "    metric: disk_used_pct\n"
        "    over: 90\n"
        "  - check: toner\n"
        "    title: Toner bas\n"
        "    metric: toner_pct\n"
        "    under: beaucoup\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert str(info.value).startswith(f"{path}:10: rules[1].under:"), str(info.value)


def test_a_reboot_after_an_outage_seen_while_closed_is_expected(rules: RuleSet) -> None:
    """Power by opening hours: a PC off for the night (seen down while the site is closed) and
    back after its wake has rebooted, as planned: a "reboot", not an "unexpected_reboot"."""
    run = Run(PC, rules)
    run.step(ok(PC, T0, uptime_s=36_000), site_open=True)
    run.step(fail(PC, T0 + STEP), site_open=False)
    ev = run.step(ok(PC, T0 + 2 * STEP, uptime_s=40), site_open=True)
    assert [e.kind for e in ev.events] == ["reboot"]
    assert ev.events[0].data["because"] == "an outage while the site was closed"
