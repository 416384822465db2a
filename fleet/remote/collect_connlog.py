"""``collect-connlog`` (gateway): copy the gateway's legal connection log into the store and
purge what is older than 365 days.  Read-only on the gateway; "no change" when nothing new.

A wrapper: :func:`fleet.remote.connlog.fetch_connlog` reads the gateway,
:mod:`fleet.gateway.collect` imports and purges.  The store comes from the caller
(``request.options["store"]``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fleet.gateway import collect
from fleet.inventory.models import DeviceKind
from fleet.remote.base import ActionSpec, Request, Result
from fleet.remote.connlog import fetch_connlog
from fleet.store.db import Store

SPEC = ActionSpec(
    "collect-connlog", frozenset({DeviceKind.GATEWAY}),
    "Copy the gateway's legal connection log into the store (read-only on the gateway); purge > 365 days",
    confirm=False, idempotent="nothing new: no change",
)


def perform(req: Request) -> list[Result]:
    store = req.options.get("store")
    assert isinstance(store, Store), "collect-connlog needs the store"
    out = []
    for gw in req.devices:
        with tempfile.TemporaryDirectory(prefix="relais-connlog-") as tmp:
            [fetched] = fetch_connlog([req.target(gw)], Path(tmp))
            if not fetched.ok:
                out.append(Result(gw.hostname, "unreachable" if fetched.message == "unreachable"
                                  else "failed", f"cannot fetch the connection log: {fetched.message}"))
                continue
            got = collect.import_dir(store, req.site.id, gw.hostname, Path(tmp) / gw.hostname, req.now)
        purged = collect.purge(store, req.now)
        data = {"files": got.files, "records": got.records, "inserted": got.inserted,
                "updated": got.updated, "purged": purged}
        text = (f"{got.files} files, {got.records} records ({got.inserted} new, {got.updated} "
                f"sessions ended); {purged} records older than 365 days purged")
        out.append(Result(gw.hostname, "changed" if got.inserted or got.updated or purged else "no_change",
                          text, data))
    return out
