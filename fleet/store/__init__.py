"""The store: everything persisted, SQLite by default, PostgreSQL when pollers share it.

``open_store(url)`` opens it and applies the Alembic migrations shipped in
:mod:`fleet.store.migrations`; ``Store.read()`` / ``Store.write()`` give sessions.  Deploy records
have a small API in :mod:`fleet.store.deploys`.
"""

from __future__ import annotations

from fleet.store.db import Store, open_store, upgrade
from fleet.store.deploys import (
    DeployRecord,
    HostResult,
    finish_deploy,
    get_deploy,
    list_deploys,
    record_deploy,
    start_deploy,
)

__all__ = [
    "DeployRecord",
    "HostResult",
    "Store",
    "finish_deploy",
    "get_deploy",
    "list_deploys",
    "open_store",
    "record_deploy",
    "start_deploy",
    "upgrade",
]
