"""RGPD session wipe installed and armed (the wipe itself is proven by the lab tests).

Read-only: the checks look at units, the watcher process and the wipe record.  ``fleet
deploy`` runs a canary wipe (trigger ``deploy``) on each station before verifying, so the
record checks have a wipe to read; without any wipe they are skipped (nothing proven: the
verification is incomplete, not green)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.checks.model import HostExpect, settled

RECORD = "/var/log/relais/wipe.jsonl"
RECORD_KEYS = frozenset({"time", "host", "trigger", "outcome", "items", "residue", "duration_ms",
               "session_seconds", "canary"})
RESIDUE_KEYS = frozenset({"scanned", "found", "removed", "remaining", "processes", "error"})


def _records(host: Any) -> list[dict[str, Any]]:
    f = host.file(RECORD)
    if not f.exists:
        pytest.skip("no wipe yet")
    return [json.loads(line) for line in f.content_string.splitlines()[-50:] if line.strip()]


@pytest.mark.ref("RGPD art. 5.1.c/e (Relais session wipe)")
@pytest.mark.kinds("public_pc", "borne")
def test_watcher_process_running(host: Any, expect: HostExpect) -> None:
    settled("no process named relais-wipe",  # restarted by the deploy's handlers a moment ago
            lambda: host.service("relais-wipe").is_running and host.process.filter(comm="relais-wipe"))


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
    records = _records(host)
    assert host.file(RECORD).mode & 0o007 == 0, "wipe record readable by others"
    for rec in records:
        assert set(rec) <= RECORD_KEYS, f"unexpected keys {set(rec) - RECORD_KEYS}"
        for item in rec["items"].values():
            assert set(item) <= {"status", "removed", "error"}
        assert set(rec.get("residue", {})) <= RESIDUE_KEYS
        assert "/" not in json.dumps(rec.get("residue", {})), "a path in the residue counts"


@pytest.mark.ref("RGPD art. 5.1.e (Relais session wipe: nothing of the guest survives)")
@pytest.mark.kinds("public_pc", "borne")
def test_last_wipe_left_nothing(host: Any, expect: HostExpect) -> None:
    """The last wipe's own check: no file of the guest's uid outside the fresh home, no process
    of that uid.  After a deploy's canary wipe, the canary itself was found and removed: the
    scan by uid works on this host."""
    last = _records(host)[-1]
    residue = last.get("residue")
    assert residue is not None, "the last wipe did not check for residue (old relais-wipe?)"
    assert last["outcome"] == "ok", f"last wipe ({last['trigger']}) failed: {last['items']}"
    assert residue.get("remaining") == 0 and residue.get("processes") == 0, residue
    if last["trigger"] == "deploy":
        assert last.get("canary") == "removed", "the deploy's canary was not found by the scan"


@pytest.mark.ref("RGPD art. 5.1.e (Relais session wipe)")
@pytest.mark.kinds("public_pc", "borne")
def test_guest_home_private(host: Any, expect: HostExpect) -> None:
    home = host.file(host.user(expect.guest_user).home)
    assert home.user == expect.guest_user and home.mode == 0o700
