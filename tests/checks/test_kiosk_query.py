""""The kiosk's browser runs" (fleet/checks/kiosk.py), the one answer of the deploy's check and
of restart-kiosk, without a borne: the answer is read from stand-in tables, then the real query
runs here against the real ``ps`` on a real process tree (a ``chromium`` under a stand-in main
process; ``systemctl`` is a stand-in: the real one needs the borne's systemd).  The lab tests
(test_lab_actions.py, the deploy's checks, the demo) run it on the lab borne."""

from __future__ import annotations

import getpass
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.checks.kiosk import QUERY, UNIT, KioskState, parse

X11 = ("ActiveState=active\nMainPID=1907\n"
       "proc 1 0 root systemd\nproc 1907 1 root xinit\nproc 1910 1907 root Xorg\n"
       "proc 1915 1907 guest relais-kiosk\nproc 1922 1915 guest chromium\n"
       "proc 1950 1922 guest chromium\n")


def test_the_browser_is_a_chromium_descending_from_the_main_process() -> None:
    assert parse(X11) == KioskState("active", "1907", "xinit", "1922")
    assert parse(X11, user="guest").running()
    # the guest's browser, not another account's
    assert parse(X11, user="visitor") == KioskState("active", "1907", "xinit", "")
    # xinit alone is active, but the browser did not come up: not running
    started = "ActiveState=active\nMainPID=1907\nproc 1907 1 root xinit\nproc 1910 1907 root Xorg\n"
    assert parse(started) == KioskState("active", "1907", "xinit", "")
    assert not parse(started).running()
    # headless: the main process is the browser
    headless = parse("ActiveState=active\nMainPID=30\nproc 30 1 guest chromium\n", user="guest")
    assert (headless.main_name, headless.browser_pid, headless.running()) == ("chromium", "30", True)
    # a chromium of another tree (the hall screen's, a guest's desktop) is not the kiosk's
    other = "ActiveState=active\nMainPID=1907\nproc 1907 1 root xinit\nproc 2001 1 guest chromium\n"
    assert not parse(other).running()
    # the main process gone from the table (it just exited); the unit stopped; nothing
    assert parse("ActiveState=active\nMainPID=31\nproc 30 1 guest chromium\n").browser_pid == ""
    assert not parse(X11.replace("ActiveState=active", "ActiveState=deactivating")).running()
    assert parse("") == KioskState("", "0", "", "")


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[int, int, dict[str, str]]]:
    """A real process tree: a shell (the unit's main process) whose child is named chromium,
    and a stand-in systemctl that names the shell as the unit's main process."""
    (tmp_path / "chromium").symlink_to("/bin/sleep")
    # the shell says its child's PID once the child exists: no waiting on the fork
    main = subprocess.Popen(["sh", "-c", f"{tmp_path / 'chromium'} 60 & echo $!; wait"],
                            stdout=subprocess.PIPE, text=True)
    assert main.stdout is not None
    child = int(main.stdout.readline())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(
        "#!/bin/sh\n"
        f'[ "$*" = "show -p ActiveState -p MainPID {UNIT}" ] || {{ echo "unexpected: $*" >&2; exit 1; }}\n'
        f'printf "ActiveState=active\\nMainPID={main.pid}\\n"\n')
    (bin_dir / "systemctl").chmod(0o755)
    try:
        yield main.pid, child, {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    finally:
        subprocess.run(["pkill", "-P", str(main.pid)], check=False)
        main.kill()
        main.wait()


def _ask(env: dict[str, str]) -> str:
    out = subprocess.run(["sh", "-c", QUERY], capture_output=True, text=True, env=env, timeout=10,
                         check=True)
    assert out.stderr == ""
    return out.stdout


def test_the_query_reads_the_real_process_tree(tree: tuple[int, int, dict[str, str]]) -> None:
    main, child, env = tree
    state = parse(_ask(env), user=getpass.getuser())
    assert state == KioskState("active", str(main), "sh", str(child))
    assert state.running()
    # the same tree, judged for another account: the browser is not the guest's
    assert not parse(_ask(env), user="nobody-else").running()
