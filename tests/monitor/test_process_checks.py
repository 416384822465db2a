"""Issue 9.9: "is the kiosk / the wipe watcher running" read from UCD-SNMP-MIB prTable (snmpd
``proc`` directives) instead of walking the whole process table, against a real snmpd."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

from fleet.monitor import ber
from fleet.monitor.poller import poll_devices
from fleet.monitor.profiles import Data, Profile, read_process_checks
from tests.monitor.agents import SNMPD_V3_AUTH, SNMPD_V3_PRIV, SNMPD_V3_USER, device, snmpd

PR_NAMES = (1, 3, 6, 1, 4, 1, 2021, 2, 1, 2)


def test_reader_counts_only_rows_with_running_processes() -> None:
    data = Data({}, {
        "name": {(1,): (ber.OCTET_STRING, b"chromium"), (2,): (ber.OCTET_STRING, b"relais-wipe")},
        "count": {(1,): (ber.INTEGER, 0), (2,): (ber.INTEGER, 2)},
    })
    got = read_process_checks(data, {"expect": ["chromium", "relais-wipe", "absent"]})
    assert got == {"proc_running:chromium": 0, "proc_running:relais-wipe": 1,
                   "proc_running:absent": 0}


def test_pc_profile_reads_prtable_not_the_process_table(
    profiles: dict[str, Profile], tmp_path: Path
) -> None:
    pc_profile = profiles["public_pc"]
    assert not any(o[:9] == (1, 3, 6, 1, 2, 1, 25, 4, 2) for o in pc_profile.column_oids)
    assert PR_NAMES in pc_profile.column_oids
    stand_in = tmp_path / "relais-wipe"
    shutil.copy("/bin/sleep", stand_in)
    with snmpd() as agent:
        pc = device("pc1", "public_pc", agent.port,
                    v3=(SNMPD_V3_USER, SNMPD_V3_AUTH, SNMPD_V3_PRIV))

        def running() -> object:
            [sample] = asyncio.run(poll_devices([pc], profiles, timeout=2.0))
            assert sample.ok, sample.error
            return sample.metrics["proc_running:relais-wipe"]

        sleeper = subprocess.Popen([str(stand_in), "300"])
        try:
            deadline = time.monotonic() + 30  # snmpd rescans processes every few seconds
            while running() != 1:
                assert time.monotonic() < deadline, "prTable never saw relais-wipe running"
                time.sleep(0.5)
        finally:
            sleeper.kill()
            sleeper.wait(timeout=10)
        others = subprocess.run(["pgrep", "-x", "relais-wipe"], capture_output=True, text=True)
        if others.stdout.strip():
            return  # a lab host on this machine runs the real one: "not running" cannot show
        deadline = time.monotonic() + 30
        while running() != 0:
            assert time.monotonic() < deadline, "prTable still says relais-wipe runs"
            time.sleep(0.5)
