"""Pure logic: fold Ansible events into per-host results, and name the outcome of a deploy.

No I/O here, so the unit tests feed it recorded event dicts (the shape ansible-runner gives)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from fleet.store.deploys import HostResult

# ansible-runner event names -> the counter they bump
_COUNTERS = MappingProxyType({
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
})


@dataclass(frozen=True, slots=True)
class HostState:
    """What is known about one host while a playbook runs (immutable; a new one per event)."""

    hostname: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    ignored: int = 0
    task: str = ""
    message: str = ""
    done: bool = False
    changed_tasks: tuple[str, ...] = ()  # the tasks that reported a change, in order

    @property
    def status(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        if not self.done:
            return "running"
        return "changed" if self.changed else "ok"

    def to_result(self) -> HostResult:
        return HostResult(
            hostname=self.hostname,
            ok=self.ok,
            changed=self.changed,
            failed=self.failed,
            unreachable=self.unreachable,
            skipped=self.skipped,
            message=self.message,
        )


def _reason(task: str, res: Mapping[str, Any]) -> str:
    """One line saying why a task failed: the module's msg, else stderr, else rc."""
    msg = res.get("msg") or ""
    if not msg and res.get("stderr"):
        msg = str(res["stderr"]).strip().splitlines()[-1]
    if not msg and "rc" in res:
        msg = f"exit code {res['rc']}"
    text = " ".join(str(msg).split())
    if len(text) > 240:
        text = text[:237] + "..."
    return f"{task}: {text}" if task else text


@dataclass(slots=True)
class Tally:
    """Folds events in; ``hosts`` is the current state of every host seen."""

    hosts: dict[str, HostState] = field(default_factory=dict)
    stats_seen: bool = False

    def host(self, name: str) -> HostState:
        return self.hosts.setdefault(name, HostState(name))

    def feed(self, event: Mapping[str, Any]) -> HostState | None:
        """Apply one ansible-runner event; returns the host it changed, if any."""
        kind = str(event.get("event", ""))
        data: Mapping[str, Any] = event.get("event_data") or {}
        if kind == "playbook_on_stats":
            self._final(data)
            return None
        name = data.get("host")
        if not name:
            return None
        state = self.host(str(name))
        task = str(data.get("task") or "")
        if kind == "runner_on_start":
            new = replace(state, task=task)
        elif kind in _COUNTERS:
            res: Mapping[str, Any] = data.get("res") or {}
            if kind == "runner_on_failed" and data.get("ignore_errors"):
                new = replace(state, ignored=state.ignored + 1, task=task)
            else:
                counter = _COUNTERS[kind]
                new = replace(state, task=task, **{counter: getattr(state, counter) + 1})
                if kind == "runner_on_ok" and res.get("changed"):
                    new = replace(new, changed=new.changed + 1,
                                  changed_tasks=(*state.changed_tasks, task))
                if kind in ("runner_on_failed", "runner_on_unreachable") and not state.message:
                    new = replace(new, message=_reason(task, res))
        else:
            return None
        self.hosts[state.hostname] = new
        return new

    def _final(self, stats: Mapping[str, Any]) -> None:
        """The recap is authoritative for the counters (it counts like ansible-playbook)."""
        self.stats_seen = True
        names: set[str] = set()
        for key in ("ok", "changed", "failures", "dark", "skipped", "processed"):
            names |= set((stats.get(key) or {}).keys())
        for name in names:
            st = self.host(name)
            self.hosts[name] = replace(
                st,
                ok=int((stats.get("ok") or {}).get(name, 0)),
                changed=int((stats.get("changed") or {}).get(name, 0)),
                failed=int((stats.get("failures") or {}).get(name, 0)),
                unreachable=int((stats.get("dark") or {}).get(name, 0)),
                skipped=int((stats.get("skipped") or {}).get(name, 0)),
                ignored=int((stats.get("ignored") or {}).get(name, 0)),
                task="",
                done=True,
            )

    def finish(self, expected: Iterable[str] = ()) -> dict[str, HostState]:
        """Close the run: hosts expected but never seen are failed with a reason."""
        for name in expected:
            if name not in self.hosts:
                self.hosts[name] = HostState(
                    name, failed=1, message="not run: no event for this host", done=True
                )
        for name, st in list(self.hosts.items()):
            if not st.done:
                msg = st.message or "run ended before this host finished"
                self.hosts[name] = replace(st, done=True, failed=max(st.failed, 1), message=msg)
        return dict(sorted(self.hosts.items()))


def outcome(hosts: Mapping[str, HostState], *, aborted: bool = False) -> str:
    """The deploy's outcome as the store names it."""
    if aborted:
        return "aborted"
    if not hosts:
        return "failed"
    bad = [h for h in hosts.values() if h.failed or h.unreachable]
    if len(bad) == len(hosts):
        return "failed"
    if bad:
        return "partial"
    return "changed" if any(h.changed for h in hosts.values()) else "ok"
