"""Run a playbook through ansible-runner and fold its events into per-host results."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.deploy.summary import HostState, Tally
from fleet.errors import DeployError

HostCallback = Callable[[HostState], None]


@dataclass(frozen=True, slots=True)
class PlaybookRun:
    """The result of one ansible-runner run."""

    status: str  # ansible-runner: successful, failed, timeout, canceled
    rc: int
    hosts: Mapping[str, HostState]
    events: tuple[Mapping[str, Any], ...] = ()

    @property
    def aborted(self) -> bool:
        return self.status in ("timeout", "canceled") or (not self.hosts and self.rc != 0)


def run_playbook(
    repo: Path,
    playbook: str,
    *,
    inventories: Sequence[Path],
    limit: str | None = None,
    tags: Sequence[str] = (),
    check: bool = False,
    extravars: Mapping[str, Any] | None = None,
    expected_hosts: Sequence[str] = (),
    on_host: HostCallback | None = None,
    keep_events: Callable[[Mapping[str, Any]], bool] | None = None,
    envvars: Mapping[str, str] | None = None,
    timeout: int | None = None,
) -> PlaybookRun:
    """Run ``playbooks/<playbook>`` from ``repo`` (its ansible.cfg applies).

    ``on_host`` is called with a host's new state after every event about it (the live
    display).  A host that fails does not stop the others: the result has one state per host.
    """
    try:
        import ansible_runner  # heavy import: only when a run happens
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise DeployError("ansible-runner is not installed") from exc
    book = repo / "playbooks" / playbook
    if not book.is_file():
        raise DeployError(f"{book}: playbook not found")
    tally = Tally()
    kept: list[Mapping[str, Any]] = []

    def handler(event: Mapping[str, Any]) -> bool:
        changed = tally.feed(event)
        if changed is not None and on_host is not None:
            on_host(changed)
        if keep_events is not None and keep_events(event):
            kept.append(event)
        return False  # ansible-runner need not keep the event on disk

    cmdline: list[str] = []
    if check:
        cmdline += ["--check", "--diff"]
    if tags:
        cmdline += ["--tags", ",".join(tags)]
    env = {"ANSIBLE_CONFIG": str(repo / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    env.update(envvars or {})
    # the ansible-playbook of this environment first (a virtualenv's bin/ need not be on PATH)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if shutil.which("ansible-playbook", path=path) is None:
        raise DeployError("ansible-playbook not found (install ansible-core)")
    env["PATH"] = path
    with tempfile.TemporaryDirectory(prefix="relais-runner-") as private:
        try:
            runner = ansible_runner.run(
                private_data_dir=private,
                project_dir=str(repo),
                playbook=str(book),
                inventory=[str(p) for p in inventories],
                limit=limit,
                cmdline=" ".join(cmdline) or None,
                extravars=dict(extravars or {}),
                envvars=env,
                event_handler=handler,
                quiet=True,
                timeout=timeout,
                suppress_env_files=True,
            )
        except Exception as exc:  # ansible-runner raises bare exceptions on setup problems
            raise DeployError(f"ansible-runner could not start: {exc}") from exc
        if not tally.hosts and runner.rc not in (0, None):
            # nothing ran at all: a syntax error, a bad inventory, a missing vault password...
            lines = [ln.strip() for ln in runner.stdout.read().splitlines() if ln.strip()]
            errors = [ln for ln in lines if "ERROR" in ln] or lines[-1:] or ["no output"]
            raise DeployError(f"ansible-playbook {playbook} did not run: {errors[0][:400]}")
    hosts = tally.finish(expected_hosts)
    for state in hosts.values():
        if on_host is not None:
            on_host(state)
    return PlaybookRun(str(runner.status), int(runner.rc or 0), hosts, tuple(kept))
