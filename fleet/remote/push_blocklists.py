"""``push-blocklists`` (gateway): push the DNS blocklists kept on the controller (by ``fleet
blocklists update``, in ``<state_dir>/blocklists``) to the gateway and rebuild its filter.

A wrapper: the push itself is :func:`fleet.remote.blocklists.push_blocklists`.  The same lists
pushed twice change nothing: no file uploaded and the gateway's builder says unchanged."""

from __future__ import annotations

from fleet.gateway import lists as lists_store
from fleet.gateway import ut1
from fleet.inventory.models import DeviceKind
from fleet.remote.base import ActionSpec, Request, Result
from fleet.remote.blocklists import GatewayPush, push_blocklists
from fleet.remote.pyinfra_run import HostOutcome

REBUILD = "Rebuild the blocklist"

SPEC = ActionSpec(
    "push-blocklists", frozenset({DeviceKind.GATEWAY}),
    "Push the stored DNS blocklists (fleet blocklists update) to the gateway, rebuild its filter",
    confirm=False, idempotent="same lists: no change",
)


def _result(o: HostOutcome) -> Result:
    if not o.ok:
        return Result(o.hostname, "unreachable" if o.message == "unreachable" else "failed", o.message)
    uploaded = [op.name for op in o.ops if op.changed and op.name != REBUILD]
    build = next((op.output for op in o.ops if op.name == REBUILD), "")
    rebuilt = '"changed": true' in build
    data = {"uploaded": uploaded, "rebuilt": rebuilt}
    if uploaded or rebuilt:
        return Result(o.hostname, "changed",
                      f"{len(uploaded)} list file(s) uploaded, filter rebuilt" if rebuilt
                      else f"{len(uploaded)} list file(s) uploaded, filter unchanged", data)
    return Result(o.hostname, "no_change", "lists already up to date on the gateway", data)


def perform(req: Request) -> list[Result]:
    store = lists_store.store_dir(req.state_dir)
    if lists_store.read_meta(store) is None or not (store / "lists").is_dir():
        return [Result(d.hostname, "refused", f"no blocklists stored in {store}: run 'fleet "
                       "blocklists update --from ARCHIVE' first") for d in req.devices]
    lists = ut1.load_dir(store / "lists")
    pushes: list[GatewayPush] = []
    refused: list[Result] = []
    for gw in req.devices:  # the same settings and source as `fleet blocklists update` and deploy
        fs = lists_store.filter_settings(req.site, gw)
        src = lists_store.deploy_source(fs.profile, req.lab, store=store)
        if src.problem:
            refused.append(Result(gw.hostname, "refused", src.problem))
            continue
        pushes.append(GatewayPush(req.target(gw), fs, src))
    return [*refused, *(_result(o) for o in push_blocklists(pushes, lists))]
