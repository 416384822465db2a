"""Push blocklists to gateways (a pyinfra operation): the profile's category lists are
uploaded, then the gateway's own ``relais-blocklist`` (installed by the content_filter role)
rebuilds its dnsmasq blocklist and DoH address sets, and dnsmasq restarts only if something
changed.  Idempotent: a second push of the same lists changes nothing on the gateway."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyinfra.api.operation import add_op
from pyinfra.api.state import State
from pyinfra.operations import files, server

from fleet.gateway.ut1 import PROFILES, ListSet
from fleet.remote.pyinfra_run import HostOutcome, Target, run

REMOTE_DIR = "/var/lib/relais/blocklists"
BUILDER = "/usr/local/lib/relais/blocklist.py"


@dataclass(frozen=True, slots=True)
class GatewayPush:
    target: Target
    profile: str
    extra: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()


def categories_for(push: GatewayPush, lists: ListSet) -> list[str]:
    """The categories a gateway needs: its profile's, its extras, and every white list."""
    wanted = [*PROFILES[push.profile], *push.extra]
    wanted += [n for n, c in lists.categories.items() if c.usage == "white"]
    return [c for c in dict.fromkeys(wanted) if c in lists.categories]


def build_command(push: GatewayPush) -> str:
    argv = ["python3", BUILDER, "build", "--lists", f"{REMOTE_DIR}/lists",
            "--profile", push.profile, "--dnsmasq", "/etc/dnsmasq.d/50-relais-blocklist.conf",
            "--nft", f"{REMOTE_DIR}/doh.nft"]
    argv += [f"--extra={c}" for c in push.extra] + [f"--allow={a}" for a in push.allow]
    build = " ".join(shlex.quote(a) for a in argv)
    return (f'out=$({build}) && echo "$out" && case "$out" in *\'"changed": true\'*) '
            "dnsmasq --test && systemctl restart dnsmasq relais-filter-firewall;; esac")


def push_blocklists(pushes: Sequence[GatewayPush], lists_dir: Path,
                    lists: ListSet) -> list[HostOutcome]:
    """Upload each gateway's categories from ``lists_dir`` and rebuild its filter."""
    by_host = {p.target.hostname: p for p in pushes}

    def queue(state: State) -> None:
        for host in state.inventory.get_active_hosts():
            push = by_host[host.name]
            for cat in categories_for(push, lists):
                for name in ("domains", "usage"):
                    src = lists_dir / cat / name
                    if src.is_file():
                        add_op(state, files.put, name=f"{cat}/{name}", src=str(src),
                               dest=f"{REMOTE_DIR}/lists/{cat}/{name}", mode="644",
                               create_remote_dir=True, host=host)
            add_op(state, server.shell, name="Rebuild the blocklist",
                   commands=[build_command(push)], host=host)

    return run([p.target for p in pushes], queue)
