"""`fleet deploy` and `fleet wipe` as engine functions (the CLI only parses and prints)."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleet.checks import CheckReport, expectations_for, run_checks
from fleet.deploy.playbook import HostCallback, run_playbook
from fleet.deploy.record import DeployRecorder
from fleet.deploy.summary import HostState, outcome
from fleet.errors import ConfigError
from fleet.inventory.models import Device, DeviceKind, Inventory, Site
from fleet.store.deploys import limit_matches

Clock = Callable[[], datetime]
ChecksRunner = Callable[..., CheckReport]
CanaryRunner = Callable[..., "list[WipeResult]"]

# What site.yml deploys: the Debian hosts with a role set (desktops.yml, then gateway.yml).
DEPLOYED_KINDS = (DeviceKind.PUBLIC_PC, DeviceKind.BORNE, DeviceKind.GATEWAY, DeviceKind.SCREEN)
# What has a guest session to wipe.
WIPED_KINDS = (DeviceKind.PUBLIC_PC, DeviceKind.BORNE)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DeployOptions:
    check: bool = False
    limit: str | None = None
    tags: tuple[str, ...] = ()
    verify: bool = True
    playbook: str = "site.yml"
    extra_inventories: tuple[Path, ...] = ()
    ssh_config: Path | None = None
    check_modules: tuple[str, ...] = ()
    canary_wipe: bool = True  # before verifying: one wipe per station, with a canary to find
    lab: bool = False  # the target is the lab copy of the site (the demo vault is allowed)


@dataclass(frozen=True, slots=True)
class DeployOutcome:
    site_id: str
    deploy_id: int | None
    started_at: datetime
    finished_at: datetime
    repo_commit: str | None
    outcome: str
    hosts: Mapping[str, HostState]
    checks: CheckReport | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.outcome in ("ok", "changed") and (self.checks is None or self.checks.ok)

    def failed_hosts(self) -> dict[str, str]:
        """Every host that did not make it, and why (deploy first, then verification)."""
        out = {n: h.message or h.status for n, h in self.hosts.items() if h.failed or h.unreachable}
        if self.checks is not None:
            for name in self.checks.hosts:
                if name in out or self.checks.host_ok(name):
                    continue
                if name in self.checks.host_errors:
                    out[name] = f"verification: {self.checks.host_errors[name]}"
                elif not self.checks.for_host(name):
                    out[name] = "verification: no check ran"
                else:
                    bad = self.checks.failures(name)
                    what = "verification"
                    if not bad:  # nothing failed, but some checks could not run: not proven
                        bad, what = self.checks.skips(name), "verification incomplete, skipped"
                    first = bad[0]
                    more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
                    out[name] = f"{what}: {first.module}/{first.check}: {first.message}{more}"
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "deploy_id": self.deploy_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "repo_commit": self.repo_commit,
            "outcome": self.outcome,
            "ok": self.ok,
            "hosts": {
                n: {
                    "status": h.status,
                    "ok": h.ok,
                    "changed": h.changed,
                    "failed": h.failed,
                    "unreachable": h.unreachable,
                    "skipped": h.skipped,
                    "message": h.message,
                    "changed_tasks": list(h.changed_tasks),
                }
                for n, h in self.hosts.items()
            },
            "failed_hosts": self.failed_hosts(),
            "checks": self.checks.to_json() if self.checks is not None else None,
        }


def ansible_limit(site_group: str, limit: str | None) -> str:
    """The ``--limit`` for one site: the user's pattern, within the site's group.  Ansible
    applies a pattern's plain parts (their union) first, then every ``&`` part, then every
    ``!``, wherever they stand: ``site:&a:b`` is (site | b) & a, only ``a`` (the public lab
    deploy of two bornes and a screen deployed the first borne alone); ``a:b:&site`` is meant.
    A pattern with a comma is split on commas only, so the site joins it the same way."""
    if not limit:
        return site_group
    return f"{limit}{',' if ',' in limit else ':'}&{site_group}"


def repo_commit(repo: Path) -> str | None:
    """HEAD's commit, with ``+dirty`` when roles/, playbooks/ or inventory/ have local changes."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=False, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "roles", "playbooks",
             "inventory", "ansible.cfg"],
            capture_output=True, text=True, check=False, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def current_user(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("FLEET_USER") or env.get("SUDO_USER") or getpass.getuser()


def _scrub(value: Any) -> Any:
    """Drop anything that could be a secret (vault_* variables); keep the rest JSON-able."""
    if isinstance(value, Mapping):
        return {str(k): _scrub(v) for k, v in value.items() if not str(k).startswith("vault_")}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def inventory_snapshot(site: Site) -> dict[str, Any]:
    """The site as deployed, without secrets (SecretStr fields come out masked)."""
    return dict(_scrub(site.model_dump(mode="json")))


def deployed_devices(
    site: Site, limit: str | None, kinds: tuple[DeviceKind, ...] = DEPLOYED_KINDS
) -> list[Device]:
    return [d for d in site.devices if d.kind in kinds and limit_matches(limit, d.hostname)]


def resolve_targets(
    inventory: Inventory, site_id: str, limit: str | None
) -> tuple[Site, list[Device]]:
    """The site and the hosts a deploy of it touches; a clear error when there are none."""
    try:
        site = inventory.site(site_id)
    except KeyError:
        known = ", ".join(s.id for s in inventory.sites[:8])
        raise ConfigError(f"{inventory.root}: no site {site_id!r} (known: {known}, ...)") from None
    devices = deployed_devices(site, limit)
    if not devices:
        raise ConfigError(
            f"{site.source}: site {site_id!r} has no public PC, borne or gateway"
            + (f" matching --limit {limit!r}" if limit else "")
        )
    return site, devices


def refuse_demo_vault(inventory: Inventory, *, lab: bool) -> None:
    """The demo vault's password is public: its secrets (SNMPv3 keys, GRUB password) must
    never reach a real site.  Only the lab may be deployed with it."""
    if inventory.demo_vault and not lab:
        raise ConfigError(
            f"{inventory.root}: the vault is opened with the public demo password: refusing to "
            "deploy a real site with it (set FLEET_VAULT_PASSWORD and re-encrypt the vault, "
            "or deploy the lab copy with --lab)"
        )


def deploy_site(
    inventory: Inventory,
    site_id: str,
    *,
    repo: Path,
    options: DeployOptions,
    recorder: DeployRecorder,
    user: str | None = None,
    clock: Clock = utcnow,
    on_host: HostCallback | None = None,
    checks_runner: ChecksRunner = run_checks,
    canary_runner: CanaryRunner | None = None,
) -> DeployOutcome:
    """Deploy one site, record it, verify the deployed hosts; one host failing never stops the
    others and the outcome names it and why.

    Verification first makes its preconditions true rather than skip checks: each reachable PC
    and borne gets one canary wipe (trigger ``deploy``: a file of the guest planted where no
    wipe item looks, which the wipe's scan by uid must find), so the wipe checks read a wipe
    of this deploy.  A session in progress on a station is closed by it."""
    site, devices = resolve_targets(inventory, site_id, options.limit)
    refuse_demo_vault(inventory, lab=options.lab)
    limit = ansible_limit(site.group, options.limit)
    commit = repo_commit(repo)
    started = clock()
    deploy_id = recorder.start(
        site_id=site_id,
        started_at=started,
        user=user or current_user(),
        repo_commit=commit,
        check_mode=options.check,
        tags=options.tags,
        limit=options.limit,
        inventory=inventory_snapshot(site),
    )
    aborted = False
    hosts: Mapping[str, HostState] = {}
    try:
        run = run_playbook(
            repo,
            options.playbook,
            inventories=[Path(inventory.root).resolve(), *options.extra_inventories],
            limit=limit,
            tags=options.tags,
            check=options.check,
            expected_hosts=[d.hostname for d in devices],
            on_host=on_host,
        )
        hosts, aborted = run.hosts, run.aborted
    except BaseException:
        recorder.finish(deploy_id, finished_at=clock(), outcome="aborted", hosts=())
        raise
    result = outcome(hosts, aborted=aborted)
    finished = clock()
    recorder.finish(
        deploy_id, finished_at=finished, outcome=result, hosts=[h.to_result() for h in hosts.values()]
    )
    checks = None
    notes: list[str] = []
    if options.verify and not options.check:
        reachable = [d for d in devices if not hosts.get(d.hostname, HostState(d.hostname)).unreachable]
        stations = [d for d in reachable if d.kind in WIPED_KINDS]
        if options.canary_wipe and stations:
            runner = canary_runner or wipe_hosts
            wiped = runner(inventory, stations, repo=repo, trigger="deploy", canary=True,
                           extra_inventories=options.extra_inventories)
            bad = [f"{w.hostname} ({w.message})" for w in wiped if not w.ok]
            notes.append(f"canary wipe (trigger deploy) on {len(wiped) - len(bad)} of "
                         f"{len(stations)} station(s)" + (f"; failed: {', '.join(bad)}" if bad else ""))
        targets = expectations_for(inventory, site, reachable, repo / "roles")
        checks = checks_runner(
            targets, ssh_config=options.ssh_config, modules=options.check_modules or None
        )
    elif options.check:
        notes.append("check mode: nothing changed, verification skipped")
    return DeployOutcome(
        site_id=site_id,
        deploy_id=deploy_id,
        started_at=started,
        finished_at=finished,
        repo_commit=commit,
        outcome=result,
        hosts=hosts,
        checks=checks,
        notes=tuple(notes),
    )


@dataclass(frozen=True, slots=True)
class WipeResult:
    hostname: str
    ok: bool
    record: Mapping[str, Any] | None = None
    message: str = ""


def wipe(
    inventory: Inventory,
    target: str,
    *,
    repo: Path,
    extra_inventories: Sequence[Path] = (),
    on_host: HostCallback | None = None,
) -> list[WipeResult]:
    """Wipe the guest session now on one host or every PC/borne of a site (`fleet wipe`):
    trigger ``remote``."""
    site_ids = {s.id for s in inventory.sites}
    if target in site_ids:
        site = inventory.site(target)
        devices = deployed_devices(site, None, WIPED_KINDS)
        limit = site.group
    else:
        try:
            device = inventory.device(target)
        except KeyError:
            raise ConfigError(
                f"{inventory.root}: {target!r} is neither a site nor a device of the inventory"
            ) from None
        if device.kind not in WIPED_KINDS:
            raise ConfigError(f"{device.source}: {target!r} is a {device.kind.value}: "
                              "only public PCs and bornes have a session wipe")
        devices, limit = [device], device.hostname
    if not devices:
        raise ConfigError(f"{target!r}: no public PC or borne to wipe")
    return wipe_hosts(inventory, devices, repo=repo, limit=limit, trigger="remote",
                      extra_inventories=extra_inventories, on_host=on_host)


def wipe_hosts(
    inventory: Inventory,
    devices: Sequence[Device],
    *,
    repo: Path,
    trigger: str,
    canary: bool = False,
    limit: str | None = None,
    extra_inventories: Sequence[Path] = (),
    on_host: HostCallback | None = None,
) -> list[WipeResult]:
    """Run ``playbooks/wipe.yml`` on these PCs/bornes; with ``canary``, each wipe first plants
    a file of the guest where no wipe item looks and records whether its scan removed it."""

    def is_wipe(event: Mapping[str, Any]) -> bool:
        data = event.get("event_data") or {}
        return event.get("event") == "runner_on_ok" and data.get("task") == "Wipe the guest session"

    run = run_playbook(
        repo, "wipe.yml", inventories=[Path(inventory.root).resolve(), *extra_inventories],
        limit=limit or ":".join(d.hostname for d in devices),
        extravars={"relais_wipe_trigger": trigger, "relais_wipe_canary": canary},
        expected_hosts=[d.hostname for d in devices], on_host=on_host, keep_events=is_wipe,
    )
    records: dict[str, Mapping[str, Any]] = {}
    for event in run.events:
        data = event.get("event_data") or {}
        try:
            records[str(data.get("host"))] = json.loads(str((data.get("res") or {}).get("stdout")))
        except ValueError:
            continue
    out = []
    for name, state in run.hosts.items():
        rec = records.get(name)
        if rec is None:
            out.append(WipeResult(name, False, None, state.message or state.status))
        else:
            ok = rec.get("outcome") == "ok" and (not canary or rec.get("canary") == "removed")
            failed = [k for k, v in rec.get("items", {}).items() if v.get("status") != "ok"]
            residue = rec.get("residue") or {}
            why = [f"items failed: {', '.join(failed)}"] if failed else []
            if residue.get("remaining") or residue.get("processes") or "error" in residue:
                why.append(f"left behind: {residue.get('remaining')} file(s), "
                           f"{residue.get('processes')} process(es) of the guest")
            if canary and rec.get("canary") != "removed":
                why.append("the canary was not found by the wipe")
            out.append(WipeResult(name, ok, rec, "; ".join(why)))
    return out
