"""Push blocklists to gateways (a pyinfra operation): the profile's category lists are
uploaded from the controller's lists (:func:`fleet.gateway.lists.deploy_source`, the same
answer the ``content_filter`` role gets), with the lists' ``meta.json``; then the gateway's own
``relais-blocklist`` (installed by the role) rebuilds its dnsmasq blocklist and DoH address
sets, and dnsmasq restarts only if something changed.  Idempotent: a second push of the same
lists changes nothing on the gateway, and neither does a deploy after it."""

from __future__ import annotations

import io
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from pyinfra.api.operation import add_op
from pyinfra.api.state import State
from pyinfra.operations import files, server

from fleet.gateway.lists import DeploySource, FilterSettings
from fleet.gateway.ut1 import PROFILES, ListSet
from fleet.remote.pyinfra_run import HostOutcome, Target, run

REMOTE_DIR = "/var/lib/relais/blocklists"
BUILDER = "/usr/local/lib/relais/blocklist.py"


@dataclass(frozen=True, slots=True)
class GatewayPush:
    target: Target
    settings: FilterSettings
    source: DeploySource


def categories_for(push: GatewayPush, lists: ListSet) -> list[str]:
    """The categories a gateway needs: its profile's, its extras, and every white list."""
    wanted = [*PROFILES[push.settings.profile], *push.settings.extra]
    wanted += [n for n, c in lists.categories.items() if c.usage == "white"]
    return [c for c in dict.fromkeys(wanted) if c in lists.categories]


def build_command(push: GatewayPush) -> str:
    fs = push.settings
    argv = ["python3", BUILDER, "build", "--lists", f"{REMOTE_DIR}/lists",
            "--profile", fs.profile, "--dnsmasq", "/etc/dnsmasq.d/50-relais-blocklist.conf",
            "--nft", f"{REMOTE_DIR}/doh.nft"]
    argv += [f"--extra={c}" for c in fs.extra] + [f"--allow={a}" for a in fs.allow]
    build = " ".join(shlex.quote(a) for a in argv)
    return (f'out=$({build}) && echo "$out" && case "$out" in *\'"changed": true\'*) '
            "dnsmasq --test && systemctl restart dnsmasq relais-filter-firewall;; esac")


def push_blocklists(pushes: Sequence[GatewayPush], lists: ListSet) -> list[HostOutcome]:
    """Upload each gateway's categories from its source and rebuild its filter."""
    by_host = {p.target.hostname: p for p in pushes}

    def queue(state: State) -> None:
        for host in state.inventory.get_active_hosts():
            push = by_host[host.name]
            for cat in categories_for(push, lists):
                for name in ("domains", "usage"):
                    src = push.source.path / cat / name
                    if src.is_file():
                        add_op(state, files.put, name=f"{cat}/{name}", src=str(src),
                               dest=f"{REMOTE_DIR}/lists/{cat}/{name}", mode="644",
                               create_remote_dir=True, host=host)
            add_op(state, files.put, name="meta.json",
                   src=io.BytesIO(push.source.gateway_meta().encode()),
                   dest=f"{REMOTE_DIR}/meta.json", mode="644", host=host)
            add_op(state, server.shell, name="Rebuild the blocklist",
                   commands=[build_command(push)], host=host)

    return run([p.target for p in pushes], queue)
