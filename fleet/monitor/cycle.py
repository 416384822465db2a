"""One monitoring cycle: poll samples -> rules -> store (state changes, incidents, events).

The glue between the pure rules (:mod:`fleet.monitor.rules`) and the store.  One transaction
per site, one savepoint per device inside it, holds everything the cycle writes (observations,
state changes, the samples, incident openings/resolutions, device events): a poller killed with
SIGKILL mid-cycle leaves each site either fully before or fully after its update (the crash
tests kill it at announced checkpoints inside that transaction, :data:`Checkpoint`).  On
PostgreSQL a per-site advisory lock serialises two pollers whose shards overlap, and the partial
unique index on open incidents makes a duplicate impossible whatever happens.

Sites are processed dependencies first (gateway, then switches, then the rest) so a device
behind a failing gateway sees it and is marked unreachable-because-of-parent.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from fleet.errors import ConfigError, FleetError
from fleet.incidents.lifecycle import open_incident, resolve_in, update_reason
from fleet.incidents.maintenance import Window, active_windows, covering
from fleet.inventory.hours import open_state
from fleet.inventory.models import Device, Site
from fleet.monitor.poller import site_in_shard
from fleet.monitor.rules import (
    REACHABILITY,
    CheckState,
    Context,
    Evaluation,
    SampleLike,
    evaluate_device,
)
from fleet.monitor.ruleset import RuleSet
from fleet.store.db import Store
from fleet.store.deploys import deploys_touching, limit_matches
from fleet.store.models import (
    OPEN_STATUSES,
    DeviceEvent,
    Incident,
    Observation,
    SampleRow,
    StateChange,
)

Clock = Callable[[], datetime]
PollFn = Callable[[Sequence[Device]], Awaitable[Sequence[SampleLike]]]

Point = Literal["site_locked", "device_written"]
"""Points of a site's write transaction a :data:`Checkpoint` hears about: ``site_locked`` when
the transaction has begun and holds the site's lock, ``device_written`` after each device's
writes (its savepoint released, the transaction not yet committed)."""
Checkpoint = Callable[[Point, str, "str | None"], None]
"""Called ``(point, site id, hostname or None)`` at each :data:`Point`: fault injection for the
crash tests (a worker stops there and waits for its SIGKILL), nothing in production."""

DEFAULT_RETENTION = timedelta(days=7)


def system_clock() -> datetime:
    """The real clock (the only place the monitor reads it)."""
    return datetime.now(UTC)


def offset_clock(start: datetime, monotonic: Callable[[], float] = time.monotonic) -> Clock:
    """A clock that starts at ``start`` and advances in real time (``fleet poll --clock``)."""
    if start.utcoffset() is None:
        raise ConfigError(f"--clock {start.isoformat()}: give a timezone (e.g. +01:00 or Z)")
    origin = monotonic()

    def now() -> datetime:
        return start.astimezone(UTC) + timedelta(seconds=monotonic() - origin)

    return now


# ------------------------------------------------------------------------------ shards ----


def parse_shard(text: str) -> tuple[int, int]:
    """``"1/4"`` -> (1, 4): shard 1 of shards 0..3 (the poller's numbering, 0-based)."""
    try:
        left, right = text.split("/", 1)
        index, count = int(left), int(right)
    except ValueError as exc:
        raise ConfigError(f"--shard {text!r}: expected I/N, e.g. 0/4") from exc
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"--shard {text!r}: I must be in 0..N-1 (shards are 0/N ... N-1/N)")
    return index, count


def sites_of_shard(sites: Iterable[Site], shard: tuple[int, int] | None) -> list[Site]:
    """The sites a poller of ``shard`` owns (the poller's own rule, :func:`site_in_shard`)."""
    return [s for s in sites if shard is None or site_in_shard(s.id, shard)]


# ---------------------------------------------------------------------------- topology ----


def parents_of(site: Site, rules: RuleSet) -> dict[str, tuple[str, ...]]:
    """Hostname -> the hostnames it depends on (``monitor_parent`` in a host's vars wins)."""
    layers = [[d.hostname for d in site.devices if d.kind is kind] for kind in rules.dependencies]
    layers = [layer for layer in layers if layer]
    out: dict[str, tuple[str, ...]] = {}
    for device in site.devices:
        if device.monitor_parent:
            out[device.hostname] = device.monitor_parent
            continue
        level = next((i for i, layer in enumerate(layers) if device.hostname in layer), len(layers))
        out[device.hostname] = tuple(layers[level - 1]) if level > 0 else ()
    return out


def ordered(site: Site, parents: Mapping[str, tuple[str, ...]]) -> list[Device]:
    """The site's devices, every parent before the devices behind it."""
    by_name = {d.hostname: d for d in site.devices}
    depth: dict[str, int] = {}

    def level(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name in depth:
            return depth[name]
        if name in seen:
            raise ConfigError(f"site {site.id}: monitor_parent loop through {name}")
        ps = [p for p in parents.get(name, ()) if p in by_name]
        depth[name] = 1 + max((level(p, seen | {name}) for p in ps), default=-1)
        return depth[name]

    return sorted(site.devices, key=lambda d: (level(d.hostname), d.hostname))


# ------------------------------------------------------------------------------ report ----


@dataclass(slots=True)
class CycleReport:
    started_at: datetime
    devices: int = 0
    answered: int = 0
    state_changes: int = 0
    opened: list[tuple[str, str]] = field(default_factory=list)
    resolved: list[tuple[str, str]] = field(default_factory=list)
    lost_races: int = 0
    """Incidents another poller opened first (the INSERT hit the unique index)."""
    events: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    """Devices whose update failed (hostname, message): the cycle went on without them."""
    pruned: int = 0
    poll_s: float = 0.0
    apply_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "devices": self.devices,
            "answered": self.answered,
            "state_changes": self.state_changes,
            "opened": [{"device": d, "check": c} for d, c in self.opened],
            "resolved": [{"device": d, "check": c} for d, c in self.resolved],
            "lost_races": self.lost_races,
            "events": self.events,
            "failures": [{"device": d, "error": e} for d, e in self.failures],
            "pruned": self.pruned,
            "poll_s": round(self.poll_s, 3),
            "apply_s": round(self.apply_s, 3),
        }


# ------------------------------------------------------------------------------- apply ----


def _state(r: Observation) -> CheckState:
    return CheckState.from_row(
        status=r.status,
        reason=r.reason,
        since=r.since,
        at=r.at,
        value=r.value,
        suppressed=r.suppressed,
        counters=r.state or {},
    )


def _failing(state: CheckState | None) -> bool:
    return state is not None and (state.status == "down" or state.fail_streak > 0)


def apply_samples(
    store: Store,
    sites: Sequence[Site],
    samples: Iterable[SampleLike],
    rules: RuleSet,
    now: datetime,
    *,
    retention: timedelta = DEFAULT_RETENTION,
    report: CycleReport | None = None,
    checkpoint: Checkpoint | None = None,
) -> CycleReport:
    """Run the rules on one cycle's samples and write the outcome.

    One transaction per site, holding one savepoint per device: a device's writes are all or
    nothing, a device whose update fails is reported and skipped, and a crash loses at most the
    site being written (its devices keep their previous, consistent state).  ``checkpoint``:
    see :data:`Checkpoint`."""
    started = time.perf_counter()
    report = report or CycleReport(started_at=now)
    by_device = {s.device: s for s in samples}
    with store.read() as session:
        windows = active_windows(session, now)
    for site in sites:
        if not any(d.hostname in by_device for d in site.devices):
            continue
        part = CycleReport(started_at=now)
        try:
            _apply_site(
                store, site, by_device=by_device, rules=rules, now=now, windows=windows,
                report=part, checkpoint=checkpoint,
            )  # fmt: skip
        except FleetError as exc:
            report.failures.extend((d.hostname, str(exc)) for d in site.devices if d.hostname in by_device)
            continue
        _merge(report, part)
    report.pruned = prune(store, now - retention)
    report.apply_s = time.perf_counter() - started
    return report


def _merge(into: CycleReport, part: CycleReport) -> None:
    into.devices += part.devices
    into.answered += part.answered
    into.state_changes += part.state_changes
    into.opened.extend(part.opened)
    into.resolved.extend(part.resolved)
    into.lost_races += part.lost_races
    into.events += part.events
    into.failures.extend(part.failures)


def _apply_site(
    store: Store,
    site: Site,
    *,
    by_device: Mapping[str, SampleLike],
    rules: RuleSet,
    now: datetime,
    windows: Sequence[Window],
    report: CycleReport,
    checkpoint: Checkpoint | None = None,
) -> None:
    parents = parents_of(site, rules)
    behind: dict[str, int] = {}
    for ps in parents.values():
        for p in ps:
            behind[p] = behind.get(p, 0) + 1
    # The inventory answers "open now, since when?" (for everyone); only a recent opening matters
    grace = timedelta(seconds=rules.defaults.opening_grace)
    hours = open_state(site, now, horizon=grace + timedelta(days=1))
    names = [d.hostname for d in site.devices]
    # The lock serialises pollers whose shards overlap (PostgreSQL); SQLite's BEGIN IMMEDIATE
    # already serialises writers.
    with store.write(lock=f"site:{site.id}") as session:
        if checkpoint is not None:
            checkpoint("site_locked", site.id, None)
        rows: dict[str, dict[str, Observation]] = {n: {} for n in names}
        for row in session.scalars(select(Observation).where(Observation.device.in_(names))):
            rows.setdefault(row.device, {})[row.check] = row
        incidents: dict[str, dict[str, Incident]] = {n: {} for n in names}
        for inc in session.scalars(
            select(Incident).where(Incident.device.in_(names), Incident.status.in_(OPEN_STATUSES))
        ):
            incidents.setdefault(inc.device, {})[inc.check] = inc
        oldest = min(
            (r[REACHABILITY].at for r in rows.values() if REACHABILITY in r),
            default=now - timedelta(hours=1),
        )
        deploys = deploys_touching(session, site.id, None, min(oldest, now - timedelta(hours=1)), now)
        reach = {n: _state(r[REACHABILITY]) if REACHABILITY in r else None for n, r in rows.items()}
        for device in ordered(site, parents):
            sample = by_device.get(device.hostname)
            if sample is None:
                continue
            mine = [p for p in parents.get(device.hostname, ()) if p in reach]
            parent_down = next(iter(mine), None) if mine and all(_failing(reach[p]) for p in mine) else None
            window = covering(windows, site.id, device.hostname, now)
            previous = {c: _state(r) for c, r in rows[device.hostname].items()}
            prev_at = previous[REACHABILITY].at if REACHABILITY in previous else None
            since = prev_at or now - timedelta(hours=1)
            deploy = next(
                (
                    d
                    for d in deploys
                    if limit_matches(d.limit, device.hostname)
                    and d.started_at <= now
                    and (d.finished_at is None or d.finished_at >= since)
                ),
                None,
            )
            ctx = Context(
                now=now,
                site_open=hours.open,
                opened_at=hours.since if hours.open else None,
                maintenance=window.label if window else None,
                parent_down=parent_down,
                deploy=f"deploy #{deploy.id} by {deploy.user}" if deploy else None,
                is_parent=device.kind in rules.dependencies,
                behind=behind.get(device.hostname, 0),
                site_name=site.name,
            )
            evaluation = evaluate_device(
                device,
                sample,
                previous=previous,
                open_incidents={c: i.reason for c, i in incidents[device.hostname].items()},
                ctx=ctx,
                rules=rules,
            )
            try:
                with session.begin_nested():
                    _write(
                        session,
                        site,
                        device,
                        sample=sample,
                        rows=rows[device.hostname],
                        evaluation=evaluation,
                        incidents=incidents[device.hostname],
                        now=now,
                        report=report,
                    )
            except (SQLAlchemyError, FleetError) as exc:
                report.failures.append((device.hostname, f"{exc.__class__.__name__}: {exc}"))
                continue
            report.devices += 1
            if sample.ok:
                report.answered += 1
            reach[device.hostname] = evaluation.states.get(REACHABILITY)
            if checkpoint is not None:
                checkpoint("device_written", site.id, device.hostname)


def _write(
    session: Session,
    site: Site,
    device: Device,
    *,
    sample: SampleLike,
    rows: dict[str, Observation],
    evaluation: Evaluation,
    incidents: Mapping[str, Any],
    now: datetime,
    report: CycleReport,
) -> None:
    host = device.hostname
    for check, state in evaluation.states.items():
        row = rows.get(check)
        if row is None:
            row = Observation(device=host, check=check, site_id=site.id)
            session.add(row)
        row.site_id = site.id
        row.at = state.at or now
        row.status = state.status
        row.reason = state.reason
        row.since = state.since
        row.value = state.value
        row.suppressed = state.suppressed
        row.state = state.counters()
    for change in evaluation.changes:
        session.add(
            StateChange(
                device=host,
                site_id=site.id,
                check=change.check,
                at=change.at,
                from_status=change.from_status,
                to_status=change.to_status,
                reason=change.reason,
                suppressed=change.suppressed,
                detail=change.detail,
            )
        )
    report.state_changes += len(evaluation.changes)
    session.add(
        SampleRow(
            device=host,
            site_id=site.id,
            at=sample.at,
            ok=sample.ok,
            error=sample.error,
            elapsed_ms=float(getattr(sample, "elapsed_ms", 0.0)),
            metrics=dict(sample.metrics),
        )
    )
    for action in evaluation.actions:
        if action.action == "open":
            row_inc = open_incident(
                session,
                device=host,
                site_id=site.id,
                check=action.check,
                reason=action.reason,
                severity=action.severity,
                title=action.title,
                at=now,
                root_cause=action.root_cause,
            )
            if row_inc is None:
                report.lost_races += 1
            else:
                report.opened.append((host, action.check))
        elif action.action == "resolve" and action.check in incidents:
            resolve_in(
                session,
                incidents[action.check],
                at=now,
                by="monitor",
                text=f"recovered: {action.check} up",
                auto=True,
            )
            report.resolved.append((host, action.check))
        elif action.action == "update" and action.check in incidents:
            update_reason(
                session,
                incidents[action.check],
                reason=action.reason,
                title=action.title,
                at=now,
            )
    for event in evaluation.events:
        session.add(
            DeviceEvent(
                device=host,
                site_id=site.id,
                at=event.at,
                kind=event.kind,
                detail=event.detail,
                data=dict(event.data),
            )
        )
    report.events += len(evaluation.events)


def prune(store: Store, before: datetime) -> int:
    """Drop samples older than ``before`` (bounded retention); returns how many."""
    with store.write() as session:
        result = session.execute(delete(SampleRow).where(SampleRow.at < before))
        return int(getattr(result, "rowcount", 0) or 0)


# -------------------------------------------------------------------------------- cycle ----


async def run_cycle(
    store: Store,
    sites: Sequence[Site],
    poll: PollFn,
    rules: RuleSet,
    clock: Clock,
    *,
    retention: timedelta = DEFAULT_RETENTION,
    checkpoint: Checkpoint | None = None,
) -> CycleReport:
    """Poll every device of ``sites`` once, then apply the rules and write the outcome."""
    now = clock()
    report = CycleReport(started_at=now)
    devices = [d for s in sites for d in s.devices]
    started = time.perf_counter()
    samples = await poll(devices) if devices else []
    report.poll_s = time.perf_counter() - started
    return apply_samples(
        store, sites, samples, rules, clock(), retention=retention, report=report,
        checkpoint=checkpoint,
    )  # fmt: skip
