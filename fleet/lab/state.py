"""A lab site's record: the injected :class:`Lab` environment and the per-site state file.

``up`` writes ``run/<site>/state.json`` *before* creating anything, so a crash or a killed
``up`` leaves a record that ``down`` reads (:mod:`fleet.lab.up`, :mod:`fleet.lab.down`,
:mod:`fleet.lab.status`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

from fleet.lab.build import Images
from fleet.lab.paths import LabPaths
from fleet.lab.plan import SitePlan

Progress = Callable[[str], None]


def quiet(_msg: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Lab:
    """The lab's injected environment: where it lives and where recordings are read from."""

    paths: LabPaths
    recordings: Path
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Vault variables (see :func:`fleet.lab.creds.load_vault`): the switch's CLI login."""
    boot_timeout: float = 90.0

    @property
    def images(self) -> Images:
        return Images(self.paths)


@dataclass(frozen=True, slots=True)
class UpResult:
    site_id: str
    changed: bool
    seconds: float
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DownResult:
    site_ids: tuple[str, ...]
    killed: int
    unmounted: int
    namespaces: int
    seconds: float


def read_state(lab: Lab, site_id: str) -> dict[str, Any] | None:
    path = lab.paths.state_file(site_id)
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data


def write_state(lab: Lab, site_id: str, state: Mapping[str, Any]) -> None:
    """Replace the site's state file atomically."""
    path = lab.paths.state_file(site_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), "utf-8")
    tmp.replace(path)


def recorded_sites(lab: Lab) -> list[str]:
    if not lab.paths.run.is_dir():
        return []
    return sorted(p.parent.name for p in lab.paths.run.glob("*/state.json"))


def plan_state(plan: SitePlan) -> dict[str, Any]:
    """The first record of a site being brought up (every node, no process yet)."""
    return {
        "site_id": plan.site_id,
        "management": str(plan.management),
        "namespaces": plan.namespaces,
        "status": "starting",
        "started": time.time(),
        "nodes": {
            n.name: {"kind": str(n.kind), "netns": n.netns, "ip": str(n.ip) if n.ip else None,
                     "booted": n.booted, "pid": None}
            for n in plan.nodes
        },
    }


def recorded_plan(site_id: str, management: str) -> SitePlan:
    """A stand-in plan for another recorded site: only its management network (for conflicts)."""
    net = IPv4Network(management)
    return SitePlan(site_id, "", net, None, IPv4Interface(f"{net.network_address}/32"), "", "",
                    (), None, None)
