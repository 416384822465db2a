"""Typed results of the post-deploy / audit checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = ("passed", "failed", "skipped", "not_applicable", "error")
"""``skipped``: the check could not run because a precondition was not met (e.g. no wipe yet):
nothing was proven, so it is never counted as a pass.  ``not_applicable``: the check does not
concern this host (another kind of device, a site without printer, a kernel setting inside a
container): nothing to prove there."""
ACCEPTED = ("passed", "not_applicable")
SETTLE = 60.0
"""Seconds a unit restarted by the deploy's handlers (or by its canary wipe) may take to be up
again, with its process: a check run right after the deploy asks again until then."""


def settled(what: str, ok: Callable[[], Any], within: float = SETTLE, every: float = 1.0) -> None:
    """Assert that ``ok()`` becomes true within ``within`` seconds (asked every ``every`` s):
    a running process is judged after its unit had time to start, never on one look."""
    deadline = time.monotonic() + within
    while not ok():
        assert time.monotonic() < deadline, f"{what} (not within {within:g} s)"
        time.sleep(every)


@dataclass(frozen=True, slots=True)
class HostExpect:
    """What the inventory says one host should look like (input of every check)."""

    hostname: str
    address: str
    kind: str
    site_id: str
    management: str
    controller_networks: tuple[str, ...] = ()
    pmr: bool = False
    admin_user: str = "relais"
    guest_user: str = "guest"
    homepage: str = "https://www.service-public.fr/"
    allowlist: tuple[str, ...] = ()
    printer_queue: str = ""
    child_area: bool = False  # the site hosts young children (PMI): strict DNS filter profile

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["controller_networks"] = list(self.controller_networks)
        data["allowlist"] = list(self.allowlist)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HostExpect:
        values = dict(data)
        values["controller_networks"] = tuple(values.get("controller_networks", ()))
        values["allowlist"] = tuple(values.get("allowlist", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check on one host."""

    host: str
    module: str
    check: str
    outcome: str
    refs: tuple[str, ...] = ()
    message: str = ""

    @property
    def ok(self) -> bool:
        """Passed, or not applicable to this host; a skip is not ok (nothing was proven)."""
        return self.outcome in ACCEPTED

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "error")

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "module": self.module,
            "check": self.check,
            "outcome": self.outcome,
            "refs": list(self.refs),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every result of one verification run, plus hosts that could not be checked at all."""

    results: tuple[CheckResult, ...]
    host_errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def hosts(self) -> tuple[str, ...]:
        names = {r.host for r in self.results} | set(self.host_errors)
        return tuple(sorted(names))

    def for_host(self, host: str) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.host == host)

    def failures(self, host: str | None = None) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.failed and (host is None or r.host == host))

    def skips(self, host: str | None = None) -> tuple[CheckResult, ...]:
        """Checks that did not run for want of a precondition: nothing proven."""
        return tuple(
            r for r in self.results if r.outcome == "skipped" and (host is None or r.host == host)
        )

    def host_status(self, host: str) -> str:
        """``green`` (everything applicable passed), ``red`` (a failure, or the host could not
        be checked) or ``incomplete`` (no failure, but some checks were skipped)."""
        if host in self.host_errors or self.failures(host) or not self.for_host(host):
            return "red"
        return "incomplete" if self.skips(host) else "green"

    def host_ok(self, host: str) -> bool:
        return self.host_status(host) == "green"

    @property
    def ok(self) -> bool:
        return bool(self.hosts) and all(self.host_ok(h) for h in self.hosts)

    def counts(self, host: str) -> dict[str, int]:
        out = dict.fromkeys(OUTCOMES, 0)
        for r in self.for_host(host):
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "hosts": {
                h: {
                    "ok": self.host_ok(h),
                    "status": self.host_status(h),
                    "error": self.host_errors.get(h),
                    "counts": self.counts(h),
                    "failures": [r.to_json() for r in self.failures(h)],
                    "skipped": [r.to_json() for r in self.skips(h)],
                }
                for h in self.hosts
            },
            "results": [r.to_json() for r in self.results],
        }


def merge(reports: Sequence[CheckReport]) -> CheckReport:
    results: list[CheckResult] = []
    errors: dict[str, str] = {}
    for rep in reports:
        results.extend(rep.results)
        errors.update(rep.host_errors)
    return CheckReport(tuple(results), errors)
