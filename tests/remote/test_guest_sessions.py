"""How the reboot action counts a guest's sessions: the real shell pipeline (loginctl's columns
through awk), against a stand-in loginctl printing what systemd 252 prints.  The lab run of
2026-11-30 rebooted a PC with a guest session open: the name was read as an awk variable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fleet.remote import base

SESSIONS = """\
     c1 1001 guest  seat0 tty7
      3    0 root   -     pts/0
     c4 1002 relais seat0 tty1
"""


@pytest.mark.parametrize(("user", "expected"), [("guest", 1), ("relais", 1), ("nobody", 0)])
def test_guest_sessions_counts_the_users_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  user: str, expected: int) -> None:
    stand_in = tmp_path / "loginctl"
    stand_in.write_text(f"#!/bin/sh\ncat <<'END'\n{SESSIONS}END\n", encoding="utf-8")
    stand_in.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}

    def fact(host: Any, command: str) -> str:
        return subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env,
                              check=True).stdout.strip()

    monkeypatch.setattr(base, "fact", fact)
    assert base.guest_sessions(object(), user) == expected
