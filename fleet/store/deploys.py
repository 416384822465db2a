"""Deploy records: who deployed what, when, with which per-host outcome.

Written by ``fleet deploy`` (issue 4), read by the monitor (a reboot during a deploy is expected)
and by the audit.  Two ways to write:

* ``start_deploy(...)`` when the run begins, then ``finish_deploy(...)`` with the per-host
  results (a deploy in progress is visible to the monitor, so reboots it causes are expected);
* ``record_deploy(...)`` in one call, after the fact.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fleet.errors import StoreError
from fleet.inventory.models import DeviceKind
from fleet.store.db import Store
from fleet.store.models import Deploy, DeployHost, InventorySnapshot

_KIND_GROUPS = frozenset(k.value for k in DeviceKind)
OUTCOMES = ("running", "ok", "changed", "failed", "partial", "aborted")


@dataclass(frozen=True, slots=True)
class HostResult:
    """One host's recap line of an Ansible run."""

    hostname: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    message: str = ""


@dataclass(frozen=True, slots=True)
class DeployRecord:
    id: int
    site_id: str
    started_at: datetime
    finished_at: datetime | None
    user: str
    repo_commit: str | None
    check_mode: bool
    tags: tuple[str, ...]
    limit: str | None
    outcome: str | None
    hosts: tuple[HostResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site_id": self.site_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "user": self.user,
            "repo_commit": self.repo_commit,
            "check_mode": self.check_mode,
            "tags": list(self.tags),
            "limit": self.limit,
            "outcome": self.outcome,
            "hosts": [_host_json(h) for h in self.hosts],
        }


def _host_json(h: HostResult) -> dict[str, Any]:
    return {
        "hostname": h.hostname,
        "ok": h.ok,
        "changed": h.changed,
        "failed": h.failed,
        "unreachable": h.unreachable,
        "skipped": h.skipped,
        "message": h.message,
    }


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise StoreError(f"deploy {name}: {value.isoformat()} is naive; pass an aware datetime")


def _check_outcome(outcome: str | None) -> None:
    if outcome is not None and outcome not in OUTCOMES:
        raise StoreError(f"deploy outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")


def start_deploy(
    store: Store,
    *,
    site_id: str,
    started_at: datetime,
    user: str,
    repo_commit: str | None = None,
    check_mode: bool = False,
    tags: Sequence[str] = (),
    limit: str | None = None,
    inventory: Mapping[str, Any] | None = None,
) -> int:
    """Record that a deploy started; returns its id.  ``inventory``: the resolved inventory
    snapshot as JSON-able data, **without secrets**."""
    _aware("started_at", started_at)
    with store.write() as session:
        row = Deploy(
            site_id=site_id,
            started_at=started_at,
            finished_at=None,
            user=user,
            repo_commit=repo_commit,
            check_mode=check_mode,
            tags=",".join(tags) if tags else None,
            limit=limit,
            outcome="running",
        )
        session.add(row)
        session.flush()
        if inventory is not None:
            session.add(InventorySnapshot(deploy_id=row.id, json=dict(inventory)))
        return row.id


def finish_deploy(
    store: Store,
    deploy_id: int,
    *,
    finished_at: datetime,
    outcome: str,
    hosts: Iterable[HostResult] = (),
) -> None:
    """Record the end of a deploy and its per-host results (replacing any recorded before)."""
    _aware("finished_at", finished_at)
    _check_outcome(outcome)
    with store.write() as session:
        row = session.get(Deploy, deploy_id)
        if row is None:
            raise StoreError(f"deploy #{deploy_id} does not exist")
        row.finished_at = finished_at
        row.outcome = outcome
        by_name = {h.hostname: h for h in row.hosts}
        for h in hosts:
            target = by_name.get(h.hostname)
            if target is None:
                target = DeployHost(deploy_id=deploy_id, hostname=h.hostname)
                row.hosts.append(target)
            target.ok, target.changed, target.failed = h.ok, h.changed, h.failed
            target.unreachable, target.skipped, target.message = h.unreachable, h.skipped, h.message


def record_deploy(
    store: Store,
    *,
    site_id: str,
    started_at: datetime,
    finished_at: datetime,
    user: str,
    outcome: str,
    hosts: Iterable[HostResult] = (),
    repo_commit: str | None = None,
    check_mode: bool = False,
    tags: Sequence[str] = (),
    limit: str | None = None,
    inventory: Mapping[str, Any] | None = None,
) -> int:
    """Record a finished deploy in one call; returns its id."""
    _check_outcome(outcome)
    deploy_id = start_deploy(
        store,
        site_id=site_id,
        started_at=started_at,
        user=user,
        repo_commit=repo_commit,
        check_mode=check_mode,
        tags=tags,
        limit=limit,
        inventory=inventory,
    )
    finish_deploy(store, deploy_id, finished_at=finished_at, outcome=outcome, hosts=hosts)
    return deploy_id


def _record(row: Deploy) -> DeployRecord:
    return DeployRecord(
        id=row.id,
        site_id=row.site_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        user=row.user,
        repo_commit=row.repo_commit,
        check_mode=row.check_mode,
        tags=tuple(t for t in (row.tags or "").split(",") if t),
        limit=row.limit,
        outcome=row.outcome,
        hosts=tuple(
            HostResult(h.hostname, h.ok, h.changed, h.failed, h.unreachable, h.skipped, h.message)
            for h in row.hosts
        ),
    )


def get_deploy(store: Store, deploy_id: int) -> DeployRecord:
    with store.read() as session:
        row = session.get(Deploy, deploy_id, options=[selectinload(Deploy.hosts)])
        if row is None:
            raise StoreError(f"deploy #{deploy_id} does not exist")
        return _record(row)


def inventory_snapshot(store: Store, deploy_id: int) -> dict[str, Any] | None:
    with store.read() as session:
        snap = session.get(InventorySnapshot, deploy_id)
        return dict(snap.json) if snap is not None else None


def list_deploys(store: Store, site_id: str | None = None, limit: int = 50) -> list[DeployRecord]:
    """Most recent first."""
    with store.read() as session:
        query = select(Deploy).options(selectinload(Deploy.hosts)).order_by(Deploy.id.desc())
        if site_id is not None:
            query = query.where(Deploy.site_id == site_id)
        return [_record(r) for r in session.scalars(query.limit(limit))]


def limit_matches(limit: str | None, hostname: str) -> bool:
    """Whether an Ansible ``--limit`` pattern (comma/colon separated, globs, ``!`` exclusions)
    covers ``hostname``.  Group names are not resolved: ``all``, a site group (``site_*``) or a
    device-kind group is taken to cover the host (the safe side for reboot expectations)."""
    if not limit:
        return True
    parts = [p.strip() for p in re.split(r"[,:]", limit) if p.strip()]
    included = False
    has_positive = False
    for part in parts:
        if part.startswith("!"):
            if fnmatch.fnmatch(hostname, part[1:]):
                return False
            continue
        if part.startswith("&"):
            continue
        has_positive = True
        if (
            fnmatch.fnmatch(hostname, part)
            or part == "all"
            or part.startswith("site_")
            or (part in _KIND_GROUPS)
        ):
            included = True
    return included or not has_positive


def deploys_touching(
    session: Session, site_id: str, hostname: str | None, start: datetime, end: datetime
) -> list[Deploy]:
    """Deploys of ``site_id`` that were running at some point of [start, end] (a deploy still
    running has no end) and covered ``hostname`` (None: any host of the site)."""
    rows = session.scalars(
        select(Deploy).where(
            Deploy.site_id == site_id,
            Deploy.started_at <= end,
            (Deploy.finished_at.is_(None)) | (Deploy.finished_at >= start),
        )
    )
    return [r for r in rows if hostname is None or limit_matches(r.limit, hostname)]
