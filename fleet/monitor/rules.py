"""Health rules: samples + previous state + clock + site context -> decisions.  Pure.

The state machine.  Nothing here touches the store, the network, the clock or a file:
:func:`evaluate_device` takes one device's sample, the previous :class:`CheckState` of each of
its checks, the open incidents' reasons and a :class:`Context` (the instant, opening hours,
maintenance, parent status, deploys), and returns the new states, the state changes, the
incident actions and the device events.  :mod:`fleet.monitor.cycle` reads the inputs from the
store and writes the outputs back, one transaction per site.  Thresholds and severities are
data (:mod:`fleet.monitor.ruleset`, read from ``monitoring/rules.yml`` by
:mod:`fleet.monitor.rules_file`).

Checks and their reasons (kept apart so the hotline knows what to do):

* ``reachability``: the device does not answer (``no_answer``), or its gateway/switch is down
  (``parent_down``: no incident of its own, the parent's incident is the site's root cause);
* ``snmp_access``: it answers but refuses us (``auth_error``, ``priv_error``, ``unknown_user``,
  ``not_in_time_window``) or answers garbage (``bad_reply``);
* threshold rules (``cpu``, ``disk:/home``, ``kiosk``, ``printer_jam``, ``ups_on_battery``...):
  a value out of bounds (``over_threshold``, ``under_threshold`` or the rule's own reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, assert_never

from fleet.errors import SnmpReason
from fleet.inventory.models import DeviceKind
from fleet.monitor.ruleset import (
    REACHABILITY,
    SNMP_ACCESS,
    TITLE_FIELDS,
    RuleSet,
    Severity,
    as_number,
)

__all__ = [
    "REACHABILITY",
    "SNMP_ACCESS",
    "Change",
    "CheckState",
    "Context",
    "DeviceEventOut",
    "Evaluation",
    "IncidentAction",
    "SampleLike",
    "classify",
    "evaluate_device",
    "outcomes",
]

Status = Literal["unknown", "up", "down"]

#: sysUpTime is a 32-bit TimeTicks counter (1/100 s): it wraps after ~497 days.
UPTIME_WRAP_S = 2**32 / 100


def classify(reason: SnmpReason) -> Literal["no_answer", "access", "bad_reply"]:
    """Which check a failed poll's reason falls under: ``no_answer`` (reachability), ``access``
    (snmp_access, the reason kept) or ``bad_reply`` (snmp_access)."""
    match reason:
        case "timeout" | "unreachable":
            return "no_answer"
        case "auth_error" | "priv_error" | "unknown_user" | "not_in_time_window":
            return "access"
        case "decode_error" | "error":
            return "bad_reply"
        case _:
            assert_never(reason)


# ------------------------------------------------------------------------ inputs / outputs --


class SampleLike(Protocol):
    """What the rules read from a poll (``fleet.monitor.poller.Sample``)."""

    @property
    def device(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def ok(self) -> bool: ...
    @property
    def error(self) -> SnmpReason | None: ...
    @property
    def metrics(self) -> Mapping[str, float | int | str]: ...


class DeviceLike(Protocol):
    @property
    def hostname(self) -> str: ...
    @property
    def kind(self) -> DeviceKind: ...
    @property
    def site_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class CheckState:
    """The state machine of one (device, check), as stored between cycles."""

    status: Status = "unknown"
    reason: str | None = None
    since: datetime | None = None
    at: datetime | None = None
    value: str | None = None
    fail_streak: int = 0
    ok_streak: int = 0
    changes: tuple[datetime, ...] = ()
    """Instants of recent status changes (within the flap window)."""
    flapping: bool = False
    alerted: bool = False
    """An incident was opened for the current problem (not reopened if resolved by hand)."""
    closed_seen: bool = False
    """The current outage was seen while the site was closed (so: "not back at opening")."""
    suppressed: str | None = None
    """Why a problem opens no incident: closed, maintenance, parent, opening_grace."""

    def counters(self) -> dict[str, Any]:
        """The JSON-able part the store keeps in ``observations.state``."""
        return {
            "fail_streak": self.fail_streak,
            "ok_streak": self.ok_streak,
            "changes": [c.isoformat() for c in self.changes],
            "flapping": self.flapping,
            "alerted": self.alerted,
            "closed_seen": self.closed_seen,
        }

    @classmethod
    def from_row(
        cls,
        *,
        status: str,
        reason: str | None,
        since: datetime | None,
        at: datetime | None,
        value: str | None,
        suppressed: str | None,
        counters: Mapping[str, Any],
    ) -> CheckState:
        st: Status = status if status in ("up", "down") else "unknown"  # type: ignore[assignment]
        return cls(
            status=st,
            reason=reason,
            since=since,
            at=at,
            value=value,
            suppressed=suppressed,
            fail_streak=int(counters.get("fail_streak", 0)),
            ok_streak=int(counters.get("ok_streak", 0)),
            changes=tuple(datetime.fromisoformat(c) for c in counters.get("changes", ())),
            flapping=bool(counters.get("flapping", False)),
            alerted=bool(counters.get("alerted", False)),
            closed_seen=bool(counters.get("closed_seen", False)),
        )


@dataclass(frozen=True, slots=True)
class Context:
    """Everything about the world the rules need besides the sample, computed by the caller."""

    now: datetime
    site_open: bool = True
    opened_at: datetime | None = None
    """Start of the current opening period, when open and recent enough to matter (None: the
    site opened longer ago than the opening grace, or is closed)."""
    maintenance: str | None = None
    """Description of the maintenance window covering the device, if any."""
    parent_down: str | None = None
    """Hostname of a gateway/switch in front of the device that is down or failing now."""
    deploy: str | None = None
    """Description of a deploy that covered the device since its previous poll, if any."""
    is_parent: bool = False
    """The device is a site dependency (gateway/switch): its outage is the site's root cause."""
    behind: int = 0
    """How many devices sit behind it (for root-cause titles)."""
    site_name: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    check: str
    at: datetime
    from_status: str
    to_status: str
    reason: str | None
    suppressed: str | None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentAction:
    """``open`` a new incident, ``resolve`` the open one, or ``update`` its reason/title."""

    action: Literal["open", "resolve", "update"]
    check: str
    reason: str
    severity: Severity
    title: str
    root_cause: bool = False
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DeviceEventOut:
    kind: str
    at: datetime
    detail: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evaluation:
    states: Mapping[str, CheckState]
    changes: tuple[Change, ...]
    actions: tuple[IncidentAction, ...]
    events: tuple[DeviceEventOut, ...]

    def state(self, check: str) -> CheckState:
        return self.states.get(check, CheckState())


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    reason: str | None = None
    value: str | None = None
    title: str = ""
    severity: Severity = "major"


# ------------------------------------------------------------------------------ evaluation --


def _fmt(value: float | int | str) -> str:
    number = as_number(value)
    if number is None:
        return str(value)
    return f"{number:.0f}" if number == int(number) else f"{number:.1f}"


def outcomes(device: DeviceLike, sample: SampleLike, rules: RuleSet, ctx: Context) -> dict[str, _Outcome]:
    """What this one sample says about each check of the device (absent: nothing to say)."""
    out: dict[str, _Outcome] = {}
    names = _names(device, ctx)
    error: SnmpReason | None = None if sample.ok else (sample.error or "error")
    uptime = sample.metrics.get("uptime_s")
    uptime_text = _fmt(uptime) if uptime is not None else None
    reach = rules.reachability
    if error is not None and classify(error) == "no_answer":
        reason = "parent_down" if ctx.parent_down else "no_answer"
        title = reach.root_cause_title if ctx.is_parent else reach.title
        out[REACHABILITY] = _Outcome(
            False,
            reason,
            None,
            title.format(**{**names, "check": REACHABILITY, "reason": reason}),
            reach.severity_for(device.kind),
        )
        return out
    out[REACHABILITY] = _Outcome(True, value=uptime_text)
    if error is not None:
        reason = error if classify(error) == "access" else "bad_reply"
        out[SNMP_ACCESS] = _Outcome(
            False,
            reason,
            error,
            rules.snmp_access.title.format(**{**names, "check": SNMP_ACCESS, "reason": reason}),
            rules.snmp_access.severity,
        )
        return out
    out[SNMP_ACCESS] = _Outcome(True)
    for rule in rules.rules:
        if not rule.applies_to(device.kind):
            continue
        if rule.metric.endswith(":*"):
            prefix = rule.metric[:-1]
            items = [
                (f"{rule.check}:{k[len(prefix) :]}", k, k[len(prefix) :], v)
                for k, v in sample.metrics.items()
                if k.startswith(prefix)
            ]
        elif rule.metric in sample.metrics:
            items = [(rule.check, rule.metric, "", sample.metrics[rule.metric])]
        elif rule.absent is not None:
            items = [(rule.check, rule.metric, "", rule.absent)]
        else:
            items = []
        for check, metric, suffix, value in items:
            failing = rule.failing(value)
            if failing is None:
                continue
            if not failing:
                out[check] = _Outcome(True, value=_fmt(value))
                continue
            title = rule.title.format(
                **{
                    **names,
                    "check": check,
                    "metric": metric,
                    "suffix": suffix,
                    "value": _fmt(value),
                    "limit": _fmt(rule.limit),
                    "reason": rule.fail_reason,
                }
            )
            out[check] = _Outcome(False, rule.fail_reason, _fmt(value), title, rule.severity)
    return out


def evaluate_device(
    device: DeviceLike,
    sample: SampleLike | None,
    *,
    previous: Mapping[str, CheckState],
    open_incidents: Mapping[str, str],
    ctx: Context,
    rules: RuleSet,
) -> Evaluation:
    """Advance every check of one device by one poll.

    ``previous``: state per check (missing = never seen); ``open_incidents``: reason of the
    open incident per check; ``sample`` None means the device was not polled this cycle (its
    checks still age: flapping can end, suppressions are re-evaluated)."""
    results = outcomes(device, sample, rules, ctx) if sample is not None else {}
    states: dict[str, CheckState] = {}
    changes: list[Change] = []
    actions: list[IncidentAction] = []
    events: list[DeviceEventOut] = []

    if sample is not None:
        event = _reboot(previous.get(REACHABILITY), results.get(REACHABILITY), ctx)
        if event is not None:
            events.append(event)

    for check in sorted(set(previous) | set(results)):
        before = previous.get(check, CheckState())
        outcome = results.get(check)
        state, check_changes = _advance(check, before, outcome, ctx, rules)
        state = replace(state, suppressed=_suppression(check, state, ctx, rules))
        changes.extend(check_changes)
        state, action = _incident(
            device,
            check,
            state=state,
            outcome=outcome,
            open_reason=open_incidents.get(check),
            ctx=ctx,
            rules=rules,
        )
        if action is not None:
            actions.append(action)
        states[check] = state
    return Evaluation(states, tuple(changes), tuple(actions), tuple(events))


def _advance(
    check: str, before: CheckState, outcome: _Outcome | None, ctx: Context, rules: RuleSet
) -> tuple[CheckState, list[Change]]:
    now = ctx.now
    changes: list[Change] = []
    window = timedelta(seconds=rules.defaults.flap_window)
    recent = tuple(c for c in before.changes if now - c < window)
    state = replace(before, changes=recent)
    if outcome is not None:
        # A failed poll has no reading: keep the last one (e.g. the uptime, to detect a reboot
        # across an outage).
        value = outcome.value if outcome.value is not None else state.value
        state = replace(state, at=now, value=value)
        new_status: Status = state.status
        reason = state.reason
        if outcome.ok:
            state = replace(state, ok_streak=state.ok_streak + 1, fail_streak=0)
            if state.status == "unknown" or (
                state.status == "down" and state.ok_streak >= rules.recover_after(check)
            ):
                new_status, reason = "up", None
        else:
            state = replace(state, fail_streak=state.fail_streak + 1, ok_streak=0)
            if check == REACHABILITY and not ctx.site_open:
                state = replace(state, closed_seen=True)
            if state.status != "down" and state.fail_streak >= rules.fail_after(check):
                new_status, reason = "down", outcome.reason
            elif state.status == "down" and outcome.reason != state.reason:
                # Still down, for another reason (e.g. its gateway came back): say so.
                changes.append(Change(check, now, "down", "down", outcome.reason, None, "reason changed"))
                reason = outcome.reason
        if new_status != state.status:
            changes.append(Change(check, now, state.status, new_status, reason, None))
            flips = state.changes + ((now,) if state.status != "unknown" else ())
            state = replace(state, status=new_status, since=now, changes=flips)
            if new_status == "up":
                state = replace(state, closed_seen=False)
        state = replace(state, reason=reason)
    # Flapping: too many changes in the window -> one "flapping" incident; quiet -> over.
    if not state.flapping and len(state.changes) >= rules.defaults.flap_changes:
        state = replace(state, flapping=True)
        changes.append(Change(check, now, state.status, state.status, "flapping", None, "flapping started"))
    elif state.flapping and (
        not state.changes or now - state.changes[-1] >= timedelta(seconds=rules.defaults.flap_quiet)
    ):
        state = replace(state, flapping=False)
        changes.append(Change(check, now, state.status, state.status, state.reason, None, "flapping ended"))
    # The suppression of a change is known only once the new state is complete.
    if changes:
        sup = _suppression(check, state, ctx, rules)
        changes = [replace(c, suppressed=sup) for c in changes]
    return state, changes


def _suppression(check: str, state: CheckState, ctx: Context, rules: RuleSet) -> str | None:
    """Why a problem on this check must not open an incident now (None: it must)."""
    if state.status != "down" and not state.flapping:
        return None
    if ctx.maintenance is not None:
        return "maintenance"
    if check == REACHABILITY:
        if state.reason == "parent_down":
            return "parent"
        if not ctx.site_open:
            return "closed"
        if state.closed_seen:
            grace = timedelta(seconds=rules.defaults.opening_grace)
            if ctx.opened_at is not None and ctx.now < ctx.opened_at + grace:
                return "opening_grace"
    return None


def _incident(
    device: DeviceLike,
    check: str,
    *,
    state: CheckState,
    outcome: _Outcome | None,
    open_reason: str | None,
    ctx: Context,
    rules: RuleSet,
) -> tuple[CheckState, IncidentAction | None]:
    problem = state.status == "down" or state.flapping
    if not problem:
        state = replace(state, alerted=False)
        if open_reason is not None and state.status == "up":
            return state, IncidentAction("resolve", check, open_reason, "info", "", detail="recovered")
        return state, None
    if state.suppressed is not None:
        return state, None
    reason, title, severity, root = _describe(
        device, check, state=state, outcome=outcome, ctx=ctx, rules=rules
    )
    if open_reason is None:
        if state.alerted:
            return state, None  # resolved by hand while still failing: not reopened
        return replace(state, alerted=True), IncidentAction(
            "open", check, reason, severity, title, root_cause=root
        )
    state = replace(state, alerted=True)
    if reason == "not_back_at_opening":
        return state, None  # opened before closing time: it keeps its own reason
    if open_reason != reason:
        return state, IncidentAction("update", check, reason, severity, title, root_cause=root)
    return state, None


def _names(device: DeviceLike, ctx: Context, **extra: str) -> dict[str, str]:
    names = dict.fromkeys(TITLE_FIELDS, "")
    names.update(
        device=device.hostname,
        site=ctx.site_name or device.site_id,
        kind=device.kind.value,
        behind=str(ctx.behind),
    )
    names.update(extra)
    return names


def _describe(
    device: DeviceLike,
    check: str,
    *,
    state: CheckState,
    outcome: _Outcome | None,
    ctx: Context,
    rules: RuleSet,
) -> tuple[str, str, Severity, bool]:
    """Reason, title, severity and root-cause flag of the incident a problem deserves."""
    reach = rules.reachability
    reason = state.reason or "down"
    root = check == REACHABILITY and ctx.is_parent
    if outcome is not None and not outcome.ok:
        severity, title = outcome.severity, outcome.title
    else:  # still a problem without a failing reading now (flapping while up, not polled)
        rule = rules.rule(check)
        if rule is not None:
            severity = rule.severity
        elif check == SNMP_ACCESS:
            severity = rules.snmp_access.severity
        else:
            severity = reach.severity_for(device.kind)
        title = f"{device.hostname}: {check} {state.status} ({reason})"
    if state.flapping:
        reason = "flapping"
        minutes = rules.defaults.flap_window / 60
        title = f"{device.hostname}: {check} flapping ({len(state.changes)} changes in {minutes:.0f} min)"
    elif check == REACHABILITY and state.closed_seen and ctx.site_open:
        reason = "not_back_at_opening"
        title = reach.not_back_title.format(**_names(device, ctx, check=check, reason=reason))
    return reason, title, severity, root


def _reboot(before: CheckState | None, outcome: _Outcome | None, ctx: Context) -> DeviceEventOut | None:
    """Uptime went backwards: a reboot; unexpected unless a deploy or maintenance covers it."""
    if before is None or outcome is None or not outcome.ok:
        return None
    old, new = as_number(before.value), as_number(outcome.value)
    if old is None or new is None or new >= old:
        return None
    if old > UPTIME_WRAP_S * 0.9 and new < UPTIME_WRAP_S * 0.1 and before.at is not None:
        elapsed = (ctx.now - before.at).total_seconds()
        if abs((old + elapsed) - UPTIME_WRAP_S - new) < max(600.0, elapsed * 0.1):
            return None  # the 32-bit TimeTicks counter wrapped
    booted = ctx.now - timedelta(seconds=new)
    # off while the site was closed (power by opening hours, issue 12): back on is no surprise
    closed = "an outage while the site was closed" if before.closed_seen else None
    because = ctx.deploy or ctx.maintenance or closed
    data = {
        "uptime_before_s": old,
        "uptime_after_s": new,
        "booted_at": booted.isoformat(),
        "expected": because is not None,
    }
    if because is not None:
        return DeviceEventOut(
            "reboot", ctx.now, f"rebooted at {booted:%Y-%m-%d %H:%M} UTC during {because}",
            {**data, "because": because},
        )  # fmt: skip
    return DeviceEventOut(
        "unexpected_reboot",
        ctx.now,
        f"rebooted at {booted:%Y-%m-%d %H:%M} UTC outside any deploy or maintenance",
        data,
    )
