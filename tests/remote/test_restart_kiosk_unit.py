"""restart-kiosk's question to the borne, without a borne: the shell command runs here against
stand-in ``systemctl`` and ``ps`` (the real ones need the borne's systemd), and its answer is
read.  The lab tests (test_lab_actions.py, the demo) run it on the lab borne."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fleet.remote.restart_kiosk import UNIT, _command, parse

X11 = ("ActiveState=active\nMainPID=1907\nxinit\n"
       "proc 1907 xinit\nproc 1910 Xorg\nproc 1915 relais-kiosk\nproc 1922 chromium\n"
       "proc 1950 chromium\n")


def test_the_browser_is_a_chromium_process_of_the_unit() -> None:
    assert parse(X11) == ("active", "1907", "xinit", "1922")
    # xinit alone is active, but the browser did not come up: no browser
    started = "ActiveState=active\nMainPID=1907\nxinit\nproc 1907 xinit\nproc 1910 Xorg\n"
    assert parse(started) == ("active", "1907", "xinit", "")
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
        '  "-o comm= -p 1907") echo xinit;;\n'
        f'  "-e -o pid=,comm=,unit=") cat {tmp_path / "table"};;\n'
        '  *) echo "unexpected: $*" >&2; exit 1;;\n'
        "esac\n")
    for tool in ("systemctl", "ps"):
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "table").write_text(table)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.mark.parametrize(("table", "browser"), [
    # the browser of the kiosk unit
    (f"  1 systemd -\n 1907 xinit {UNIT}\n 1922 chromium {UNIT}\n", "1922"),
    # a chromium of another unit (the hall screen's, a guest's session) is not the kiosk's
    (f" 1907 xinit {UNIT}\n 2001 chromium relais-screen.service\n", ""),
])
def test_the_command_reads_the_units_processes(tmp_path: Path, table: str, browser: str) -> None:
    env = _stand_ins(tmp_path, table)
    out = subprocess.run(["sh", "-c", _command()], capture_output=True, text=True, env=env,
                         timeout=10, check=True)
    assert out.stderr == ""
    assert parse(out.stdout) == ("active", "1907", "xinit", browser)
