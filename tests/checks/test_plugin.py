"""The checks plugin run for real (pytest + testinfra's local backend, as fleet.checks.run_checks
runs it over SSH): a check that does not run is reported as what it is (issue 10)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fleet.checks.model import CheckReport, CheckResult, HostExpect
from fleet.checks.runner import CHECKS_DIR

CHECKS = '''
import pytest
from fleet.checks.plugin import not_applicable

@pytest.mark.kinds("borne")
def test_borne_only(host, expect):
    assert False, "never runs on a public PC"

def test_no_printer_here(host, expect):
    not_applicable("the site has no printer")

def test_needs_a_wipe(host, expect):
    pytest.skip("no wipe yet")

@pytest.mark.ref("CIS 5.1.x")
def test_passes(host, expect):
    assert host.file("/").is_directory
'''


def test_skips_are_skips_and_not_applicable_is_apart(tmp_path: Path) -> None:
    (tmp_path / "test_demo.py").write_text(CHECKS)
    expect = HostExpect("pc1", "127.0.0.1", "public_pc", "florac-fs", "10.48.12.0/24")
    (tmp_path / "expect.json").write_text(json.dumps({"local": expect.to_json()}))
    results = tmp_path / "results.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "fleet.checks.plugin", "-p",
         "no:cacheprovider", "-c", str(CHECKS_DIR / "pytest.ini"), "--rootdir", str(tmp_path),
         "--hosts=local://", f"--relais-expect={tmp_path / 'expect.json'}",
         f"--relais-results={results}", str(tmp_path / "test_demo.py")],
        capture_output=True, text=True, timeout=120, check=False)
    lines = [json.loads(ln) for ln in results.read_text().splitlines()]
    got = {r["check"]: (r["outcome"], r["message"]) for r in lines}
    assert got == {
        "borne_only": ("not_applicable", "not a borne"),
        "no_printer_here": ("not_applicable", "the site has no printer"),
        "needs_a_wipe": ("skipped", "no wipe yet"),
        "passes": ("passed", ""),
    }, proc.stdout + proc.stderr
    report = CheckReport(tuple(CheckResult(r["host"], r["module"], r["check"], r["outcome"],
                                           tuple(r["refs"]), r["message"]) for r in lines))
    host = lines[0]["host"]
    assert report.host_status(host) == "incomplete" and not report.ok
    assert [r.check for r in report.skips()] == ["needs_a_wipe"]


def test_settled_asks_again_until_up_then_fails_with_what() -> None:
    """A process restarted by the deploy is judged after it had time to start (the hall
    screen's Chromium was looked at once), and a process that never comes is a failure."""
    import pytest

    from fleet.checks.model import settled

    answers = iter([False, False, True])
    settled("no Chromium on the screen", lambda: next(answers), within=5, every=0.01)
    assert next(answers, "asked three times") == "asked three times"
    with pytest.raises(AssertionError, match=r"no Chromium on the screen \(not within 0.05 s\)"):
        settled("no Chromium on the screen", lambda: False, within=0.05, every=0.01)
