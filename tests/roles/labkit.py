"""Helpers shared by the lab tests of the roles (tests/roles/test_lab_*.py): deploy the lab site,
act as the guest, read the wipe record, wait for a condition (never sleep then assert)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from fleet.deploy import DeployOutcome
from fleet.deploy.playbook import PlaybookRun, run_playbook
from fleet.lab.pytest_plugin import LabSite
from tests.deployed import deploy_lab_site

REPO = Path(__file__).resolve().parents[2]
PC = "florac-fs-pc2"
BORNE = "florac-fs-borne1"
GW = "florac-fs-gw"
RECORD = "/var/log/relais/wipe.jsonl"
STATUS = "/run/relais-wipe/status.json"

T = TypeVar("T")


def deploy(site: LabSite, store_url: str, **options: Any) -> DeployOutcome:
    """``fleet deploy --lab`` of the whole lab site, through the engine."""
    return deploy_lab_site(site, store_url, **options)


def tune(site: LabSite, hosts: list[str], tags: list[str], extravars: Mapping[str, Any]) -> PlaybookRun:
    """Re-deploy some concerns of the desktops playbook with role variables (the lab's tiny
    timeouts), as ``ansible-playbook -e`` would."""
    # the borne's browser keeps its two cores busy: give sudo's prompt more than 12 s
    run = run_playbook(REPO, "desktops.yml", inventories=[REPO / "inventory", site.ansible_overlay],
                       limit=",".join(hosts), tags=tags, extravars=dict(extravars),
                       expected_hosts=hosts, envvars={"ANSIBLE_TIMEOUT": "30"})
    bad = {h: s.message for h, s in run.hosts.items() if s.failed or s.unreachable}
    assert not bad and run.status == "successful", bad
    return run


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 90, every: float = 0.5) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def sh(site: LabSite, host: str, script: str, timeout: float = 60) -> Any:
    return site.exec(host, "sh", "-c", script, timeout=timeout)


def ok(site: LabSite, host: str, script: str, timeout: float = 60) -> str:
    done = sh(site, host, script, timeout)
    assert done.returncode == 0, f"{host}: {script}: {done.stdout}{done.stderr}"
    return str(done.stdout)


def as_guest(site: LabSite, host: str, script: str, timeout: float = 60) -> Any:
    """Run as the guest without PAM (no logind session of its own)."""
    return site.exec(host, "setpriv", "--reuid=guest", "--regid=guest", "--init-groups",
                     "env", "HOME=/home/guest", "sh", "-c", script, timeout=timeout)


def records(site: LabSite, host: str) -> list[dict[str, Any]]:
    out = site.exec(host, "cat", RECORD)
    return [json.loads(ln) for ln in out.stdout.splitlines() if ln.strip()]


def wipe_under_way(site: LabSite, host: str) -> bool:
    """A wipe holds relais-wipe's lock (asking the question, scanning the disk)."""
    return bool(sh(site, host, "flock -n /run/relais-wipe/lock true").returncode != 0)


def wait_record(site: LabSite, host: str, before: int, trigger: str, timeout: float = 120) -> dict[str, Any]:
    """The first record after the ``before`` first ones with this trigger.

    ``timeout`` bounds the wait for the wipe to happen; one found under way then (the question
    and the scan last longer on a loaded machine) is waited for up to 5 more minutes: the
    verdict is whether the wipe comes, not how fast.  A failure says what the watcher saw."""

    def probe() -> dict[str, Any] | None:
        new = [r for r in records(site, host)[before:] if r["trigger"] == trigger]
        return new[0] if new else None

    what = f"a {trigger} wipe record on {host}"
    try:
        try:
            return wait_for(what, probe, timeout)
        except AssertionError:
            if not wipe_under_way(site, host):
                raise
            return wait_for(what + " (a wipe was under way)", probe, 300)
    except AssertionError as exc:
        other = [{k: r.get(k) for k in ("time", "trigger", "outcome", "duration_ms")}
                 for r in records(site, host)[before:]]
        raise AssertionError(f"{exc}; records since: {other}; watcher: {status(site, host)}; "
                             f"journal: {watcher_journal(site, host)}") from None


def watcher_journal(site: LabSite, host: str) -> str:
    out = sh(site, host, "journalctl -u relais-wipe.service --no-pager -o cat -n 15")
    return " | ".join(out.stdout.splitlines()[-15:])


def status(site: LabSite, host: str) -> dict[str, Any]:
    out = site.exec(host, "cat", STATUS)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else {}


def guest_uid(site: LabSite, host: str) -> int:
    return int(ok(site, host, "id -u guest").strip())
