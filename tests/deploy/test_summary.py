"""Folding ansible-runner events into per-host results; the deploy outcome and its summary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fleet.checks.model import CheckReport, CheckResult
from fleet.deploy.service import DeployOutcome
from fleet.deploy.summary import HostState, Tally, outcome


def ev(kind: str, host: str | None = None, task: str = "t", **data: Any) -> dict[str, Any]:
    event_data: dict[str, Any] = {"task": task, **data}
    if host is not None:
        event_data["host"] = host
    return {"event": kind, "event_data": event_data}


def stats(**per_host: dict[str, int]) -> dict[str, Any]:
    keys = ("ok", "changed", "failures", "dark", "skipped", "ignored")
    data = {k: {h: v[k] for h, v in per_host.items() if v.get(k)} for k in keys}
    return {"event": "playbook_on_stats", "event_data": data}


def test_live_states_while_running() -> None:
    t = Tally()
    assert t.feed(ev("runner_on_start", "pc1", task="Nftables ruleset")).status == "running"  # type: ignore[union-attr]
    st = t.feed(ev("runner_on_ok", "pc1", task="Nftables ruleset", res={"changed": True}))
    assert st is not None and (st.ok, st.changed, st.task) == (1, 1, "Nftables ruleset")
    st = t.feed(ev("runner_on_failed", "pc2", task="Chromium", res={"msg": "No package\n matching"}))
    assert st is not None and st.status == "failed"
    assert st.message == "Chromium: No package matching"
    assert t.feed(ev("playbook_on_play_start")) is None


def test_ignored_errors_do_not_fail_the_host() -> None:
    t = Tally()
    st = t.feed(ev("runner_on_failed", "pc1", res={"msg": "x"}, ignore_errors=True))
    assert st is not None and st.failed == 0 and st.ignored == 1


def test_reason_falls_back_to_stderr_then_rc() -> None:
    t = Tally()
    a = t.feed(ev("runner_on_failed", "a", task="lpadmin", res={"stderr": "warn\nlpadmin: bad URI", "rc": 1}))
    b = t.feed(ev("runner_on_failed", "b", task="cmd", res={"rc": 3}))
    assert a is not None and a.message == "lpadmin: lpadmin: bad URI"
    assert b is not None and b.message == "cmd: exit code 3"


def test_first_failure_is_the_reason_kept() -> None:
    t = Tally()
    t.feed(ev("runner_on_unreachable", "pc2", task="Gathering Facts",
              res={"msg": "ssh: connect to host 10.48.12.12 port 22: No route to host"}))
    t.feed(ev("runner_on_failed", "pc2", task="later", res={"msg": "other"}))
    assert t.hosts["pc2"].message.startswith("Gathering Facts: ssh: connect")


def test_recap_is_authoritative_and_missing_hosts_fail() -> None:
    t = Tally()
    t.feed(ev("runner_on_ok", "pc1", res={"changed": True}))
    t.feed(ev("runner_on_failed", "pc2", task="Chromium", res={"msg": "boom"}))
    t.feed(stats(pc1={"ok": 40, "changed": 3}, pc2={"ok": 12, "failures": 1},
                 borne1={"ok": 50}))
    hosts = t.finish(expected=["pc1", "pc2", "borne1", "borne2"])
    assert [(h.ok, h.changed, h.failed) for h in hosts.values()] == [
        (50, 0, 0), (0, 0, 1), (40, 3, 0), (12, 0, 1)]
    assert list(hosts) == ["borne1", "borne2", "pc1", "pc2"]
    assert hosts["borne2"].message == "not run: no event for this host"
    assert hosts["pc2"].message == "Chromium: boom"  # kept across the recap
    assert hosts["pc1"].status == "changed" and hosts["borne1"].status == "ok"
    assert outcome(hosts) == "partial"


def test_a_run_cut_short_marks_unfinished_hosts_failed() -> None:
    t = Tally()
    t.feed(ev("runner_on_ok", "pc1"))
    hosts = t.finish()
    assert hosts["pc1"].failed == 1
    assert hosts["pc1"].message == "run ended before this host finished"


def test_outcomes() -> None:
    ok = HostState("a", ok=3, done=True)
    changed = HostState("b", ok=3, changed=1, done=True)
    bad = HostState("c", failed=1, done=True)
    down = HostState("d", unreachable=1, done=True)
    assert outcome({"a": ok}) == "ok"
    assert outcome({"a": ok, "b": changed}) == "changed"
    assert outcome({"a": ok, "c": bad}) == "partial"
    assert outcome({"c": bad, "d": down}) == "failed"
    assert outcome({}) == "failed"
    assert outcome({"a": ok}, aborted=True) == "aborted"
    assert down.status == "unreachable" and down.to_result().unreachable == 1


def _outcome(hosts: dict[str, HostState], checks: CheckReport | None) -> DeployOutcome:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    return DeployOutcome("florac-fs", 7, now, now, "abc", outcome(hosts), hosts, checks)


def test_summary_names_each_failed_host_and_why() -> None:
    hosts = {
        "pc1": HostState("pc1", ok=40, changed=2, done=True),
        "pc2": HostState("pc2", ok=3, failed=1, message="Chromium: boom", done=True),
        "borne1": HostState("borne1", ok=50, done=True),
    }
    checks = CheckReport(
        (
            CheckResult("pc1", "firewall", "inbound_default_drop", "passed", ("CIS 4.3.x",)),
            CheckResult("borne1", "kiosk", "kiosk_running", "failed", ("Relais kiosk",),
                        "AssertionError: no Chromium running as the guest"),
            CheckResult("borne1", "kiosk", "watchdog_armed", "failed", (), "x"),
        ),
        {"pc2": "unreachable over SSH"},
    )
    out = _outcome(hosts, checks)
    assert not out.ok
    assert out.failed_hosts() == {
        "borne1": "verification: kiosk/kiosk_running: AssertionError: no Chromium running as "
                  "the guest (+1 more)",
        "pc2": "Chromium: boom",
    }
    data = out.to_json()
    assert data["outcome"] == "partial" and data["checks"]["hosts"]["pc1"]["ok"] is True
    assert data["checks"]["hosts"]["borne1"]["counts"]["failed"] == 2


def test_green_deploy_is_ok() -> None:
    hosts = {"pc1": HostState("pc1", ok=40, done=True)}
    checks = CheckReport((CheckResult("pc1", "ssh", "sshd_setting", "passed"),
                          CheckResult("pc1", "kiosk", "kiosk_running", "not_applicable")))
    assert _outcome(hosts, checks).ok
    assert checks.host_status("pc1") == "green"
    assert not _outcome(hosts, CheckReport(())).ok  # no result at all is not a green check
    assert _outcome(hosts, None).ok  # verification not asked for


def test_a_skipped_check_is_not_a_pass() -> None:
    """Issue 10: a check skipped for a precondition (no wipe yet) proved nothing: the host is
    'incomplete', the deploy not ok, and the summary says which check was skipped and why."""
    hosts = {"pc1": HostState("pc1", ok=40, done=True)}
    checks = CheckReport((
        CheckResult("pc1", "ssh", "sshd_setting", "passed"),
        CheckResult("pc1", "session_wipe", "last_wipe_left_nothing", "skipped", ("RGPD",),
                    "no wipe yet"),
    ))
    out = _outcome(hosts, checks)
    assert not checks.results[1].ok and not checks.ok and not out.ok
    assert checks.host_status("pc1") == "incomplete" and not checks.failures()
    assert out.failed_hosts() == {
        "pc1": "verification incomplete, skipped: session_wipe/last_wipe_left_nothing: no wipe yet"
    }
    data = out.to_json()["checks"]["hosts"]["pc1"]
    assert data["status"] == "incomplete" and data["counts"]["skipped"] == 1
    assert data["skipped"][0]["message"] == "no wipe yet"
    # a failure wins over a skip
    red = CheckReport((*checks.results, CheckResult("pc1", "ssh", "x", "failed", (), "boom")))
    assert red.host_status("pc1") == "red"
