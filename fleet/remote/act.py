"""Running a remote action for the hotline: check, run, record (``fleet act``, the dashboard).

:func:`act` is the one entry point every face calls:

1. the action exists, the actor's role may run it (:mod:`fleet.permissions`; ``--force`` of a
   reboot is a permission of its own);
2. the target is a device (exact hostname) of a kind the action applies to — else a one-line
   refusal before anything is touched — or a site (exact id): then every device of those kinds
   on the site;
3. ``--incident N`` must be about that device (or, for a site, about that site);
4. the action runs (pyinfra, per device: results, not exceptions);
5. each device's result is recorded: as an ``action`` event on the incident when one is given
   (through :func:`fleet.incidents.lifecycle.record_action`, so it is queued for the GLPI
   hand-off in the same transaction), else as a device event (``device_events``, kind
   ``action``); both say who, when, what and the outcome.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleet import permissions, settings
from fleet.errors import ActionRefused
from fleet.incidents.lifecycle import get_incident, record_action
from fleet.inventory.models import Device, Inventory, Site
from fleet.remote import diag
from fleet.remote.actions import ACTIONS, Action
from fleet.remote.base import Request, Result, target_for
from fleet.remote.record import record_device_action
from fleet.remote.restart_service import unit_for
from fleet.store.db import Store

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ActReport:
    action: str
    argument: str | None
    target: str
    site_id: str
    actor: str
    role: str
    incident_id: int | None
    started_at: datetime
    finished_at: datetime
    results: tuple[Result, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "argument": self.argument, "target": self.target,
                "site": self.site_id, "actor": self.actor, "role": self.role,
                "incident": self.incident_id, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(), "ok": self.ok,
                "results": [r.to_json() for r in self.results]}


def action_named(name: str) -> Action:
    try:
        return ACTIONS[name]
    except KeyError:
        hint = difflib.get_close_matches(name, list(ACTIONS), n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ActionRefused(f"unknown action {name!r}{suffix}; actions: {', '.join(ACTIONS)}") from None


def resolve(inventory: Inventory, action: Action, target: str) -> tuple[Site, tuple[Device, ...]]:
    """The site and the devices ``target`` (an exact site id or hostname) means for ``action``."""
    spec = action.spec
    kinds = ", ".join(sorted(k.value for k in spec.kinds))
    for site in inventory.sites:
        if site.id == target:
            devices = tuple(d for d in site.devices if d.kind in spec.kinds)
            if not devices:
                raise ActionRefused(f"{spec.name}: site {site.id} has no device it applies to ({kinds})")
            return site, devices
    try:
        device = inventory.device(target)
    except KeyError:
        names = [s.id for s in inventory.sites] + [d.hostname for d in inventory.devices]
        hint = difflib.get_close_matches(target, names, n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ActionRefused(f"{target!r} is neither a site nor a device of the inventory{suffix}") from None
    if device.kind not in spec.kinds:
        raise ActionRefused(f"{spec.name}: {device.hostname} is a {device.kind.value}; this action is "
                            f"for: {kinds} ({device.source})")
    return inventory.site_of(device), (device,)


@dataclass(frozen=True, slots=True)
class Prepared:
    """An action checked and ready to run: who may, on which devices."""

    action: Action
    site: Site
    devices: tuple[Device, ...]
    role: str


def prepare(
    inventory: Inventory,
    name: str,
    target: str,
    *,
    actor: str,
    argument: str | None = None,
    force: bool = False,
    store: Store | None = None,
    incident_id: int | None = None,
    role: str | None = None,
) -> Prepared:
    """Steps 1-3 of the module's docstring: refuse (one line) or say what will run where.

    ``role``: the actor's role when the face knows it (the dashboard's account); None: from the
    settings (:func:`fleet.permissions.role_of`, the CLI)."""
    action = action_named(name)
    spec = action.spec
    known = permissions.require(actor, spec.permission, role)
    if force:
        if spec.name != "reboot":
            raise ActionRefused(f"{spec.name}: --force applies to reboot only")
        known = permissions.require(actor, "act.reboot.force", role)
    role = known
    site, devices = resolve(inventory, action, target)
    if spec.argument is not None:
        for d in devices:
            unit_for(d, argument)
    elif argument:
        raise ActionRefused(f"{spec.name} takes no argument (got {argument!r})")
    if incident_id is not None and store is not None:
        inc = get_incident(store, incident_id)
        names = {d.hostname for d in devices}
        if (target != site.id and inc.device not in names) or inc.site_id != site.id:
            raise ActionRefused(f"incident #{inc.id} is about {inc.device} at {inc.site_id}, "
                                f"not {target}")
    return Prepared(action, site, devices, role)


def act(
    inventory: Inventory,
    name: str,
    target: str,
    *,
    store: Store,
    actor: str,
    argument: str | None = None,
    incident_id: int | None = None,
    lab: bool = False,
    force: bool = False,
    wait: bool = True,
    clock: Clock = system_clock,
    timeout: float | None = None,
    boot_timeout: float | None = None,
    state_dir: Path | None = None,
    role: str | None = None,
) -> ActReport:
    """Check, run and record one action (see the module's docstring).  ``role``: as for
    :func:`prepare` (the dashboard passes its account's role; the CLI leaves it None)."""
    ready = prepare(inventory, name, target, actor=actor, argument=argument, force=force,
                    store=store, incident_id=incident_id, role=role)
    action, site, devices, role = ready.action, ready.site, ready.devices, ready.role
    spec = action.spec
    started = clock()
    request = Request(
        action=spec.name, site=site, devices=devices, now=started, lab=lab, argument=argument,
        force=force, wait=wait,
        timeout=float(settings.get("remote_timeout", timeout)),
        boot_timeout=float(settings.get("remote_boot_timeout", boot_timeout)),
        state_dir=Path(settings.get("state_dir", state_dir)),
        options={"store": store},
    )
    results = tuple(action.perform(request))
    finished = clock()
    what = spec.name + (f" {argument}" if argument else "")
    for r in results:
        detail = f"{what} on {r.device}: {r.outcome.replace('_', ' ')} — {r.message}"
        data = {"device": r.device, "role": role, "message": r.message, "argument": argument,
                "started_at": started.isoformat(), **dict(r.data)}
        if incident_id is not None:
            record_action(store, incident_id, who=actor, action=what, outcome=r.outcome,
                          at=finished, data=data, text=detail)
        else:
            record_device_action(store, device=r.device, site_id=site.id, at=finished, actor=actor,
                                 action=what, outcome=r.outcome, detail=detail, data=data)
    return ActReport(spec.name, argument, target, site.id, actor, role, incident_id, started,
                     finished, results)


def kinds_table() -> Sequence[dict[str, Any]]:
    """What ``fleet act list`` prints: each action, the device kinds it applies to, and which
    roles may run it."""
    m = permissions.matrix()
    return [{**a.spec.to_json(), "roles": sorted(m.permissions.get(a.spec.permission, ()))}
            for a in ACTIONS.values()]


def prepare_diag(inventory: Inventory, target: str, *, actor: str) -> tuple[Device, str]:
    """The device ``fleet diag`` may collect from, and the actor's role; else a one-line refusal."""
    role = permissions.require(actor, "diag")
    try:
        device = inventory.device(target)
    except KeyError:
        names = [d.hostname for d in inventory.devices]
        hint = difflib.get_close_matches(target, names, n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ActionRefused(f"{target!r} is not a device of the inventory{suffix}") from None
    if device.kind not in diag.HOSTS:
        kinds = ", ".join(sorted(k.value for k in diag.HOSTS))
        raise ActionRefused(f"diag: {device.hostname} is a {device.kind.value}; diagnostics are "
                            f"for hosts Relais manages over SSH: {kinds}")
    return device, role


def diagnose_device(
    inventory: Inventory,
    target: str,
    *,
    store: Store,
    actor: str,
    incident_id: int | None = None,
    lab: bool = False,
    clock: Clock = system_clock,
    max_bytes: int | None = None,
    timeout: float | None = None,
    state_dir: Path | None = None,
    runner: diag.Runner | None = None,
) -> tuple[diag.Bundle, str]:
    """``fleet diag DEVICE``: check, collect, record (bundle path and SHA-256); the bundle and
    the actor's role."""
    device, role = prepare_diag(inventory, target, actor=actor)
    if incident_id is not None:
        inc = get_incident(store, incident_id)
        if inc.device != device.hostname:
            raise ActionRefused(f"incident #{inc.id} is about {inc.device}, not {device.hostname}")
    now = clock()
    bundle = diag.diagnose(
        inventory, device, target_for(device, lab),
        state_dir=Path(settings.get("state_dir", state_dir)),
        max_bytes=int(settings.get("diag_max_bytes", max_bytes)),
        timeout=float(settings.get("diag_timeout", timeout)), lab=lab, actor=actor,
        incident_id=incident_id, now=now, runner=runner)
    failed = [i.name for i in bundle.failures]
    outcome = "failed" if len(failed) == len(bundle.items) else "changed"
    detail = (f"diag on {device.hostname}: bundle {bundle.path} sha256 {bundle.sha256} "
              f"({bundle.size} bytes, {len(bundle.items) - len(failed)} of {len(bundle.items)} items"
              + (f"; failed: {', '.join(failed)}" if failed else "") + ")")
    data = {"device": device.hostname, "role": role, "path": str(bundle.path), "sha256": bundle.sha256,
            "bytes": bundle.size, "failed_items": failed}
    if incident_id is not None:
        record_action(store, incident_id, who=actor, action="diag", outcome=outcome, at=clock(),
                      data=data, text=detail)
    else:
        record_device_action(store, device=device.hostname, site_id=device.site_id, at=clock(),
                             actor=actor, action="diag", outcome=outcome, detail=detail, data=data)
    return bundle, role
