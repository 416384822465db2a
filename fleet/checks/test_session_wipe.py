"""RGPD session wipe installed and armed (the wipe itself is proven by the lab tests).

Read-only: the checks look at units, the watcher process and the wipe record's shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.checks.model import HostExpect

RECORD = "/var/log/relais/wipe.jsonl"
RECORD_KEYS = frozenset({"time", "host", "trigger", "outcome", "items", "duration_ms", "session_seconds"})


@pytest.mark.ref("RGPD art. 5.1.c/e (Relais session wipe)")
@pytest.mark.kinds("public_pc", "borne")
def test_watcher_process_running(host: Any, expect: HostExpect) -> None:
    assert host.service("relais-wipe").is_running
    assert host.process.filter(comm="relais-wipe"), "no process named relais-wipe"


@pytest.mark.ref("RGPD art. 5.1.c/e (Relais session wipe)")
@pytest.mark.kinds("public_pc", "borne")
def test_triggers_armed(host: Any, expect: HostExpect) -> None:
    assert host.service("relais-wipe-nightly.timer").is_enabled
    assert host.service("relais-wipe-nightly.timer").is_running
    assert host.service("relais-wipe-boot").is_enabled
    conf = json.loads(host.file("/etc/relais/session-wipe.json").content_string)
    assert conf["user"] == expect.guest_user
    assert conf["idle_timeout"] > conf["idle_warning"] > 0
    assert conf["max_session"] > 0
    for item in ("home", "browser_profiles", "downloads", "tmp", "var_tmp", "dev_shm",
                 "print_jobs", "wifi", "keyrings", "clipboard", "recent_files", "mounted_media"):
        assert item in conf["items"], f"{item} not wiped"


@pytest.mark.ref("RGPD art. 5.1.c (no personal data in records)")
@pytest.mark.kinds("public_pc", "borne")
def test_wipe_records_hold_no_personal_data(host: Any, expect: HostExpect) -> None:
    f = host.file(RECORD)
    if not f.exists:
        pytest.skip("no wipe yet")
    assert f.mode & 0o007 == 0, "wipe record readable by others"
    for line in f.content_string.splitlines()[-50:]:
        rec = json.loads(line)
        assert set(rec) <= RECORD_KEYS, f"unexpected keys {set(rec) - RECORD_KEYS}"
        for item in rec["items"].values():
            assert set(item) <= {"status", "removed", "error"}


@pytest.mark.ref("RGPD art. 5.1.e (Relais session wipe)")
@pytest.mark.kinds("public_pc", "borne")
def test_guest_home_private(host: Any, expect: HostExpect) -> None:
    home = host.file(host.user(expect.guest_user).home)
    assert home.user == expect.guest_user and home.mode == 0o700
