"""Where deploy records go: a small interface, with the store as the real implementation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from fleet.store import deploys
from fleet.store.db import Store
from fleet.store.deploys import HostResult


class DeployRecorder(Protocol):
    def start(
        self,
        *,
        site_id: str,
        started_at: datetime,
        user: str,
        repo_commit: str | None,
        check_mode: bool,
        tags: Sequence[str],
        limit: str | None,
        inventory: Mapping[str, Any] | None,
    ) -> int | None: ...

    def finish(
        self,
        deploy_id: int | None,
        *,
        finished_at: datetime,
        outcome: str,
        hosts: Iterable[HostResult],
    ) -> None: ...


class StoreRecorder:
    """Records deploys in the store (tables deploys, deploy_hosts, inventory_snapshots)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start(
        self,
        *,
        site_id: str,
        started_at: datetime,
        user: str,
        repo_commit: str | None,
        check_mode: bool,
        tags: Sequence[str],
        limit: str | None,
        inventory: Mapping[str, Any] | None,
    ) -> int | None:
        return deploys.start_deploy(
            self.store,
            site_id=site_id,
            started_at=started_at,
            user=user,
            repo_commit=repo_commit,
            check_mode=check_mode,
            tags=tags,
            limit=limit,
            inventory=inventory,
        )

    def finish(
        self,
        deploy_id: int | None,
        *,
        finished_at: datetime,
        outcome: str,
        hosts: Iterable[HostResult],
    ) -> None:
        if deploy_id is not None:
            deploys.finish_deploy(
                self.store, deploy_id, finished_at=finished_at, outcome=outcome, hosts=hosts
            )


class NullRecorder:
    """Records nothing (``--no-record``)."""

    def start(self, **_: Any) -> int | None:
        return None

    def finish(self, deploy_id: int | None, **_: Any) -> None:
        return None
