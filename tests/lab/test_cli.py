"""`fleet lab` user mistakes: one-line messages, no tracebacks (no lab needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def fleet(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "fleet"), "lab", *args],
                          capture_output=True, text=True, timeout=60, cwd=repo, check=False)


def test_unknown_site_is_one_line_with_a_hint(repo: Path) -> None:
    proc = fleet(repo, "up", "florac-f")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "no site 'florac-f'" in proc.stderr and "did you mean 'florac-fs'" in proc.stderr


def test_down_needs_a_site_or_all(repo: Path) -> None:
    proc = fleet(repo, "down")
    assert proc.returncode == 1
    assert "name one site or use --all" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_exec_on_an_unknown_host_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    proc = fleet(repo, "exec", "--lab-root", str(tmp_path), "no-such-host", "--", "true")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "no lab host named 'no-such-host'" in proc.stderr or "needs root" in proc.stderr
