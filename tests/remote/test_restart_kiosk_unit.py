"""restart-kiosk's question to the borne, without a borne: the shell command runs here against
stand-in ``systemctl`` and ``ps`` (the real ones need the borne's systemd), and its answer is
read.  The lab tests (test_lab_actions.py, the demo) run it on the lab borne."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fleet.remote.restart_kiosk import UNIT, _command, parse

X11 = ("ActiveState=active\nMainPID=1907\n"
       "proc 1 0 systemd\nproc 1907 1 xinit\nproc 1910 1907 Xorg\nproc 1915 1907 relais-kiosk\n"
       "proc 1922 1915 chromium\nproc 1950 1922 chromium\n")


def test_the_browser_is_a_chromium_descending_from_the_main_process() -> None:
    assert parse(X11) == ("active", "1907", "xinit", "1922")
    # xinit alone is active, but the browser did not come up: no browser
    started = "ActiveState=active\nMainPID=1907\nproc 1907 1 xinit\nproc 1910 1907 Xorg\n"
    assert parse(started) == ("active", "1907", "xinit", "")
    # headless: the main process is the browser
    assert parse("ActiveState=active\nMainPID=30\nproc 30 1 chromium\n")[2:] == ("chromium", "30")
    # the main process gone from the table (it just exited): no name, no browser
    assert parse("ActiveState=active\nMainPID=31\nproc 30 1 chromium\n") == ("active", "31", "", "")
    assert parse("") == ("", "0", "", "")


def _stand_ins(tmp_path: Path, table: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  "show -p ActiveState -p MainPID {UNIT}") printf "ActiveState=active\\nMainPID=1907\\n";;\n'
        f'  "show -p MainPID --value {UNIT}") echo 1907;;\n'
        '  *) echo "unexpected: $*" >&2; exit 1;;\n'
        "esac\n")
    (bin_dir / "ps").write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  "-e -o pid=,ppid=,comm=") cat {tmp_path / "table"};;\n'
        '  *) echo "unexpected: $*" >&2; exit 1;;\n'
        "esac\n")
    for tool in ("systemctl", "ps"):
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "table").write_text(table)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.mark.parametrize(("table", "browser"), [
    # the kiosk's browser, under xinit and the launcher (listed before its parent: any order)
    ("    1     0 systemd\n 1922  1915 chromium\n 1907     1 xinit\n 1915  1907 relais-kiosk\n",
     "1922"),
    # a chromium of another process tree (the hall screen's, a guest's session) is not the kiosk's
    ("    1     0 systemd\n 1907     1 xinit\n 2001     1 chromium\n", ""),
])
def test_the_command_reads_the_process_tree(tmp_path: Path, table: str, browser: str) -> None:
    env = _stand_ins(tmp_path, table)
    out = subprocess.run(["sh", "-c", _command()], capture_output=True, text=True, env=env,
                         timeout=10, check=True)
    assert out.stderr == ""
    assert parse(out.stdout) == ("active", "1907", "xinit", browser)
