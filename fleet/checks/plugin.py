"""pytest plugin loaded by :func:`fleet.checks.run_checks` (``-p fleet.checks.plugin``).

Gives checks the ``expect`` fixture (the host's :class:`HostExpect`), registers the ``ref``
and ``kinds`` markers, marks checks whose ``kinds`` exclude the host as not applicable, and
writes one JSON line per result to the file named by ``--relais-results``.

Two ways for a check not to run, reported apart: :func:`not_applicable` (the check does not
concern this host: outcome ``not_applicable``, accepted) and a plain ``pytest.skip`` (a
precondition is missing: outcome ``skipped``, never counted as a pass)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import pytest

from fleet.checks.model import HostExpect

NOT_APPLICABLE = "not applicable: "


def not_applicable(reason: str) -> NoReturn:
    """End a check that does not concern this host (reported ``not_applicable``, not
    ``skipped``): another kind of device, a site without the equipment, a kernel setting
    inside a container."""
    pytest.skip(NOT_APPLICABLE + reason)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("relais")
    group.addoption("--relais-expect", help="JSON file: host alias -> HostExpect")
    group.addoption("--relais-results", help="JSON-lines file the results are appended to")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ref(*ids): reference ids (ANSSI-BP-028, CIS) of a check")
    config.addinivalue_line("markers", "kinds(*kinds): device kinds a check applies to")


def _expectations(config: pytest.Config) -> dict[str, HostExpect]:
    path = config.getoption("--relais-expect")
    if not path:
        return {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {alias: HostExpect.from_json(v) for alias, v in data.items()}


@pytest.fixture(autouse=True)
def _relais_kinds(request: pytest.FixtureRequest) -> None:
    """A check marked ``kinds`` is skipped on other kinds of host (desktop hardening on the
    gateway, gateway checks on a PC), whether or not it asks for ``expect``."""
    kinds = request.node.get_closest_marker("kinds")
    if kinds is None or "host" not in request.fixturenames:
        return
    alias = request.getfixturevalue("host").backend.get_hostname()
    found = _expectations(request.config).get(alias)
    if found is not None and found.kind not in kinds.args:
        not_applicable(f"not a {'/'.join(kinds.args)}")


@pytest.fixture
def expect(host: Any, request: pytest.FixtureRequest) -> HostExpect:
    """What the inventory says this host should be."""
    alias = host.backend.get_hostname()
    found = _expectations(request.config).get(alias)
    if found is None:
        pytest.skip(f"no inventory expectation for {alias}")
    return found  # a check marked for other kinds was already skipped by _relais_kinds


def _short(report: pytest.TestReport) -> str:
    """A one-line reason: the first ``E`` line of a failure, or a skip's reason."""
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = report.longreprtext or str(report.longrepr or "")
    errors = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    lines = errors or [ln.strip() for ln in text.splitlines() if ln.strip()][-1:]
    return (lines[0] if lines else "")[:300]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    refs: list[str] = []
    for mark in item.iter_markers("ref"):
        refs.extend(str(a) for a in mark.args)
    report.user_properties.append(("refs", refs))
    host = ""
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        param = callspec.params.get("_testinfra_host")
        backend = getattr(param, "backend", None)
        host = str(backend.get_hostname()) if backend is not None else str(param or "")
    report.user_properties.append(("host", host))


class _Recorder:
    """Appends one JSON line per check result to the results file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and report.passed:
            return
        if report.when == "teardown" and not report.failed:
            return
        outcome: str = report.outcome
        if report.when != "call" and report.failed:
            outcome = "error"
        message = _short(report)
        if report.skipped and message.startswith(NOT_APPLICABLE):
            outcome, message = "not_applicable", message.removeprefix(NOT_APPLICABLE)
        props = dict(report.user_properties)
        module, _, name = report.nodeid.partition("::")
        line = {
            "host": props.get("host", ""),
            "module": Path(module).stem.removeprefix("test_"),
            "check": name.split("[", 1)[0].removeprefix("test_"),
            "outcome": outcome,
            "refs": props.get("refs", []),
            "message": message,
        }
        with Path(self.path).open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    path = session.config.getoption("--relais-results")
    if path:
        session.config.pluginmanager.register(_Recorder(str(path)), "relais-recorder")
