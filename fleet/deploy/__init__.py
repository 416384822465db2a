"""Deploy a site: run the playbooks through ansible-runner with per-host progress, record
the deploy in the store, verify the deployed hosts with :mod:`fleet.checks`.

One host failing never stops the others; :class:`DeployOutcome` names every failed host and
why.  ``fleet wipe`` (an on-demand session wipe) lives here too, as it runs a playbook."""

from __future__ import annotations

from fleet.deploy.playbook import PlaybookRun, run_playbook
from fleet.deploy.record import DeployRecorder, NullRecorder, StoreRecorder
from fleet.deploy.service import (
    DeployOptions,
    DeployOutcome,
    WipeResult,
    deploy_site,
    deployed_devices,
    inventory_snapshot,
    refuse_demo_vault,
    resolve_targets,
    wipe,
    wipe_hosts,
)
from fleet.deploy.summary import HostState, Tally, outcome

__all__ = [
    "DeployOptions",
    "DeployOutcome",
    "DeployRecorder",
    "HostState",
    "NullRecorder",
    "PlaybookRun",
    "StoreRecorder",
    "Tally",
    "WipeResult",
    "deploy_site",
    "deployed_devices",
    "inventory_snapshot",
    "outcome",
    "refuse_demo_vault",
    "resolve_targets",
    "run_playbook",
    "wipe",
    "wipe_hosts",
]
