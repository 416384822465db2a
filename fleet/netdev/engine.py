"""Plan, apply, back up and find drift on a site's network gear.

Every operation runs per device, in parallel threads, and returns one result per device
(Nornir's pattern): a device that cannot be reached marks that device, the others go on.

``apply`` on one device:

1. read the running configuration and store it as a backup version (the *backup taken just
   before*; the clear text stays in memory for a rollback, the store gets it masked);
2. compare with the intended configuration; nothing to do → ``unchanged``, nothing pushed;
3. push only the difference, line by line;
4. read again and verify that nothing differs any more → save (where the vendor separates
   running and startup configurations; Aruba Instant commits before the verification, its
   changes take effect only then), back up → ``applied``;
5. otherwise — the verification failed, or the push failed in the middle (a refused line, a
   dropped connection) — reconnect if needed, push back the difference to the configuration
   read in 1, and verify that → ``rolled_back`` (the device is on its previous configuration),
   or ``failed`` when even that could not be done or verified (the message names the backup
   version to restore).  Both are written to the incident log (:class:`IncidentLog`, given by
   the caller) and as a device event.

What varies is injected (:class:`Context`): the store, how sockets are made (lab or real
network), where the devices' SSH host keys are known (:class:`~fleet.netdev.transport.HostKeys`:
a device whose key is unknown or changed is ``unreachable``, nothing is pushed), the clock, the
incident log, the drivers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from fleet.errors import NetdevError
from fleet.inventory.network import NetGear, Platform, SiteNetwork
from fleet.netdev.config import (
    Changes,
    Normalised,
    Scope,
    count,
    diff,
    diff_text,
    invert,
)
from fleet.netdev.drivers import Driver, Observer, driver_for
from fleet.netdev.transport import Connector, Endpoint, HostKeys, Timeouts, direct
from fleet.store.db import Store
from fleet.store.models import DeviceEvent
from fleet.store.netdev import latest_backup, record_backup


class IncidentLog(Protocol):
    """Where a failed push is reported (the CLI gives one writing to :mod:`fleet.incidents`);
    a later apply that succeeds on the same device says so too (the incident is resolved)."""

    def push_failed(self, *, device: str, site_id: str, at: datetime, title: str, detail: str,
                    data: Mapping[str, Any]) -> None: ...

    def push_ok(self, *, device: str, site_id: str, at: datetime, detail: str) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    store: Store | None = None
    connector: Connector = direct
    timeouts: Timeouts = field(default_factory=Timeouts)
    host_keys: HostKeys = field(default_factory=HostKeys)
    """Where the devices' SSH host keys are checked (default: ``~/.ssh/known_hosts``)."""
    clock: Callable[[], datetime] = _now
    incidents: IncidentLog | None = None
    drivers: Callable[[Platform], Driver] = driver_for
    workers: int = 8
    actor: str = "netdev"


@dataclass(frozen=True, slots=True)
class Target:
    """One device to work on, with its site's intended network."""

    network: SiteNetwork
    gear: NetGear

    @property
    def hostname(self) -> str:
        return self.gear.hostname

    @property
    def site_id(self) -> str:
        return self.network.site_id


def targets_of(network: SiteNetwork | None, hostnames: Iterable[str] | None = None) -> list[Target]:
    if network is None:
        return []
    wanted = set(hostnames) if hostnames is not None else None
    return [Target(network, g) for g in network.gear if wanted is None or g.hostname in wanted]


def endpoint_of(gear: NetGear) -> Endpoint:
    return Endpoint(gear.hostname, str(gear.host), gear.port, gear.username,
                    gear.password.get_secret_value(), gear.enable_secret.get_secret_value())


T = TypeVar("T")
R = TypeVar("R")


def run_all(items: Sequence[T], fn: Callable[[T], R], workers: int) -> list[R]:
    """``fn`` over the items in parallel threads, results in the items' order."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(fn, items))


def intended_of(driver: Driver, target: Target) -> Normalised:
    return driver.normalise(driver.render(target.network, target.gear).text)


# ------------------------------------------------------------------------------ plan ---


@dataclass(frozen=True)
class DevicePlan:
    hostname: str
    site_id: str
    platform: str
    changes: Changes = ()
    commands: int = 0
    error: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {"device": self.hostname, "site": self.site_id, "platform": self.platform,
                "ok": self.ok, "changes": count(self.changes), "commands": self.commands,
                "diff": diff_text(self.changes).splitlines(), "error": self.error,
                "reason": self.reason}


def plan_device(target: Target, ctx: Context) -> DevicePlan:
    """Intended against running; nothing is pushed."""
    driver = ctx.drivers(target.gear.platform)
    try:
        intended = intended_of(driver, target)
        with driver.open(endpoint_of(target.gear), ctx.connector, ctx.timeouts, ctx.host_keys) as session:
            running = driver.normalise(session.read_running())
    except NetdevError as exc:
        return DevicePlan(target.hostname, target.site_id, driver.platform.value, error=str(exc),
                          reason=exc.reason)
    changes = driver.diff(intended, running, driver.scope(intended))
    return DevicePlan(target.hostname, target.site_id, driver.platform.value, changes,
                      len(driver.commands(changes, intended)) if changes else 0)


def plan(targets: Sequence[Target], ctx: Context) -> list[DevicePlan]:
    return run_all(targets, lambda t: plan_device(t, ctx), ctx.workers)


# ---------------------------------------------------------------------------- backup ---


@dataclass(frozen=True)
class BackupResult:
    hostname: str
    site_id: str
    status: str  # new | unchanged | failed
    version: int | None = None
    lines: int = 0
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"device": self.hostname, "site": self.site_id, "status": self.status,
                "version": self.version, "lines": self.lines, "message": self.message}


def _store_backup(ctx: Context, target: Target, driver: Driver, text: str, normalised: Normalised,
                  reason: str) -> tuple[int, bool]:
    if ctx.store is None:
        return 0, False
    view, created = record_backup(
        ctx.store, device=target.hostname, site_id=target.site_id, platform=driver.platform.value,
        config=driver.masked(text), digest=normalised.digest(), lines=len(normalised),
        reason=reason, at=ctx.clock())
    return view.version, created


def backup_device(target: Target, ctx: Context) -> BackupResult:
    """Read the running configuration into the store (a new version only when it changed)."""
    if ctx.store is None:
        raise NetdevError("backup needs a store", reason="store")
    driver = ctx.drivers(target.gear.platform)
    try:
        with driver.open(endpoint_of(target.gear), ctx.connector, ctx.timeouts, ctx.host_keys) as session:
            text = session.read_running()
    except NetdevError as exc:
        return BackupResult(target.hostname, target.site_id, "failed", message=str(exc))
    normalised = driver.normalise(text)
    version, created = _store_backup(ctx, target, driver, text, normalised, "backup")
    return BackupResult(target.hostname, target.site_id, "new" if created else "unchanged", version,
                        len(normalised))


def backup(targets: Sequence[Target], ctx: Context) -> list[BackupResult]:
    return run_all(targets, lambda t: backup_device(t, ctx), ctx.workers)


# ----------------------------------------------------------------------------- drift ---


@dataclass(frozen=True)
class DriftResult:
    hostname: str
    site_id: str
    platform: str
    intent: Changes = ()
    """What the device has that the intent has not (``+``) and the reverse (``-``)."""
    backup: Changes | None = None
    """Against its last backup (None: never backed up)."""
    backup_version: int | None = None
    error: str | None = None

    @property
    def drifted(self) -> bool:
        return bool(self.intent) or bool(self.backup)

    def to_json(self) -> dict[str, Any]:
        return {"device": self.hostname, "site": self.site_id, "platform": self.platform,
                "drift": self.drifted, "error": self.error,
                "intent": diff_text(self.intent).splitlines(),
                "backup": None if self.backup is None else diff_text(self.backup).splitlines(),
                "backup_version": self.backup_version}


def drift_device(target: Target, ctx: Context) -> DriftResult:
    """Running against intended and against the last backup (read-only)."""
    driver = ctx.drivers(target.gear.platform)
    try:
        intended = intended_of(driver, target)
        with driver.open(endpoint_of(target.gear), ctx.connector, ctx.timeouts, ctx.host_keys) as session:
            running = driver.normalise(session.read_running())
    except NetdevError as exc:
        return DriftResult(target.hostname, target.site_id, driver.platform.value, error=str(exc))
    intent = invert(driver.diff(intended, running, driver.scope(intended)))
    last = latest_backup(ctx.store, target.hostname) if ctx.store is not None else None
    against_backup: Changes | None = None
    if last is not None:
        against_backup = invert(driver.diff(driver.normalise(last.config), running, Scope.everything()))
    return DriftResult(target.hostname, target.site_id, driver.platform.value, intent,
                       against_backup, last.version if last is not None else None)


def drift(targets: Sequence[Target], ctx: Context) -> list[DriftResult]:
    return run_all(targets, lambda t: drift_device(t, ctx), ctx.workers)


# ----------------------------------------------------------------------------- apply ---


@dataclass(frozen=True)
class ApplyResult:
    hostname: str
    site_id: str
    status: str  # unchanged | applied | rolled_back | failed | unreachable
    pushed: int = 0
    total: int = 0
    changes: Changes = ()
    backup_version: int | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("unchanged", "applied")

    def to_json(self) -> dict[str, Any]:
        return {"device": self.hostname, "site": self.site_id, "status": self.status,
                "pushed": self.pushed, "total": self.total, "changes": count(self.changes),
                "diff": diff_text(self.changes).splitlines(), "backup_version": self.backup_version,
                "message": self.message}


def _quiet(_done: int, _total: int, _command: str) -> None:
    return None


def apply_device(target: Target, ctx: Context, observer: Observer = _quiet) -> ApplyResult:
    """Make the device's configuration the intended one (see the module docstring)."""
    driver = ctx.drivers(target.gear.platform)
    ep = endpoint_of(target.gear)
    name, site = target.hostname, target.site_id
    try:
        intended = intended_of(driver, target)
        session = driver.open(ep, ctx.connector, ctx.timeouts, ctx.host_keys)
    except NetdevError as exc:
        return ApplyResult(name, site, "unreachable", message=str(exc))
    scope = driver.scope(intended)
    pushed = 0
    failure: str
    try:
        with session:
            before_text = session.read_running()
            before = driver.normalise(before_text)
            version, _ = _store_backup(ctx, target, driver, before_text, before, "pre-apply")
            changes = driver.diff(intended, before, scope)
            if not changes:
                _resolved(ctx, target, "nothing to push: the device has its intended configuration")
                return ApplyResult(name, site, "unchanged", backup_version=version or None,
                                   message="nothing to push")
            commands = driver.commands(changes, intended)

            def seen(done: int, total: int, command: str) -> None:
                nonlocal pushed
                pushed = done
                observer(done, total, command)

            try:
                session.push(commands, seen)
                if driver.commit_to_apply:
                    session.save()
                after_text = session.read_running()
            except NetdevError as exc:
                failure = f"push failed after {pushed} of {len(commands)} lines: {exc}"
            else:
                after = driver.normalise(after_text)
                left = driver.diff(intended, after, scope)
                if not left:
                    note = ""
                    try:
                        if not driver.commit_to_apply:
                            session.save()
                    except NetdevError as exc:
                        note = f" (not saved to the startup configuration: {exc})"
                    _store_backup(ctx, target, driver, after_text, after, "post-apply")
                    _event(ctx, target, "netdev_apply",
                           f"{len(commands)} lines pushed, verified{note}",
                           {"lines": len(commands), "changes": count(changes)})
                    _resolved(ctx, target, f"applied: {len(commands)} lines pushed, verified")
                    return ApplyResult(name, site, "applied", pushed, len(commands), changes,
                                       version or None, f"{len(commands)} lines pushed, verified{note}")
                failure = (f"verification failed: {count(left)} lines still differ after the push "
                           f"({diff_text(left).splitlines()[0].strip()} ...)")
    except NetdevError as exc:  # reading before the push failed: nothing was changed
        return ApplyResult(name, site, "unreachable", message=str(exc))
    return _recover(target, ctx, driver, ep, before, scope, changes, pushed, len(commands), version,
                    failure)


def _recover(target: Target, ctx: Context, driver: Driver, ep: Endpoint, before: Normalised,
             scope: Scope, changes: Changes, pushed: int, total: int, version: int,
             failure: str) -> ApplyResult:
    name, site = target.hostname, target.site_id
    where = f"backup version {version}" if version else "the configuration read before the push"
    try:
        with driver.open(ep, ctx.connector, ctx.timeouts, ctx.host_keys) as session:
            now = driver.normalise(session.read_running())
            back = driver.diff(before, now, scope)
            if back:
                session.push(driver.commands(back, before))
                if driver.commit_to_apply:
                    session.save()
                check = driver.diff(before, driver.normalise(session.read_running()), scope)
                if check:
                    raise NetdevError(f"{count(check)} lines still differ from the previous "
                                      "configuration after the rollback", reason="rollback")
        status = "rolled_back"
        message = (f"{failure}; rolled back: the device is on its previous configuration "
                   f"({where}, verified)")
        title = f"{name}: configuration push failed, rolled back to the previous configuration"
    except NetdevError as exc:
        status = "failed"
        message = (f"{failure}; rollback failed ({exc}): the device may be half-configured, "
                   f"restore {where} by hand")
        title = f"{name}: configuration push failed and could not be rolled back"
    _event(ctx, target, f"netdev_{status}", message,
           {"pushed": pushed, "total": total, "backup_version": version or None})
    if ctx.incidents is not None:
        ctx.incidents.push_failed(device=name, site_id=site, at=ctx.clock(), title=title,
                                  detail=message,
                                  data={"status": status, "pushed": pushed, "total": total,
                                        "backup_version": version or None})
    return ApplyResult(name, site, status, pushed, total, changes, version or None, message)


def _resolved(ctx: Context, target: Target, detail: str) -> None:
    if ctx.incidents is not None:
        ctx.incidents.push_ok(device=target.hostname, site_id=target.site_id, at=ctx.clock(),
                              detail=detail)


def _event(ctx: Context, target: Target, kind: str, detail: str, data: Mapping[str, Any]) -> None:
    if ctx.store is None:
        return
    with ctx.store.write() as s:
        s.add(DeviceEvent(device=target.hostname, site_id=target.site_id, at=ctx.clock(), kind=kind,
                          detail=detail, data=dict(data)))


def apply(targets: Sequence[Target], ctx: Context, observer: Observer = _quiet) -> list[ApplyResult]:
    return run_all(targets, lambda t: apply_device(t, ctx, observer), ctx.workers)


__all__ = [
    "ApplyResult",
    "BackupResult",
    "Context",
    "DevicePlan",
    "DriftResult",
    "IncidentLog",
    "Target",
    "apply",
    "apply_device",
    "backup",
    "backup_device",
    "diff",
    "drift",
    "drift_device",
    "endpoint_of",
    "plan",
    "plan_device",
    "targets_of",
]
