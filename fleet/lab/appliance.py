"""Things that happen to a lab appliance: what a real printer would start reporting on its own.

A lab printer is snmpsim answering from a copy of a real recording (``run/<site>/snmp/<host>/``,
:func:`fleet.lab.hostconf.prepare_snmpsim`).  snmpsim reopens a data file whose modification
time changed, so rewriting one value in that copy changes what the printer answers from its
next request on: no restart, nothing else touched.  The recordings themselves
(``tests/fixtures/snmprec``) are never modified.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from fleet.errors import LabError
from fleet.lab.state import Lab

HR_PRINTER_DETECTED_ERROR_STATE = "1.3.6.1.2.1.25.3.5.1.2.1"
#: hrPrinterDetectedErrorState bits (RFC 3805), first octet, most significant bit first: the
#: same order as fleet.monitor.profiles.PRINTER_ERROR_FLAGS (the poller's reading of them).
PRINTER_FLAGS = ("low_paper", "no_paper", "low_toner", "no_toner", "door_open", "jammed",
                 "offline", "service_requested")


def error_state(flags: Iterable[str]) -> str:
    """hrPrinterDetectedErrorState as the recording's hex (``4x``) for these flags."""
    value = 0
    for flag in flags:
        if flag not in PRINTER_FLAGS:
            raise LabError(f"printer flag {flag!r}: expected one of {', '.join(PRINTER_FLAGS)}")
        value |= 0x80 >> PRINTER_FLAGS.index(flag)
    return f"{value:02x}"


def set_printer_errors(lab: Lab, site_id: str, hostname: str, flags: Iterable[str]) -> None:
    """The lab printer ``hostname`` reports exactly ``flags`` from now on (none: healthy)."""
    data = lab.paths.site_run(site_id) / "snmp" / hostname
    files = sorted(data.glob("*.snmprec")) if data.is_dir() else []
    if len(files) != 1:
        raise LabError(f"{hostname}: not a lab printer that is up ({data}: no recording)")
    path = files[0]
    value = error_state(flags)
    lines = path.read_text("utf-8").splitlines()
    prefix = HR_PRINTER_DETECTED_ERROR_STATE + "|"
    found = False
    for i, line in enumerate(lines):
        if line.startswith(prefix):
            lines[i] = f"{prefix}4x|{value}"
            found = True
    if not found:
        raise LabError(f"{hostname}: its recording has no hrPrinterDetectedErrorState ({path})")
    before = path.stat().st_mtime
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(path)
    # snmpsim compares whole seconds: make the change visible even within the same second
    stamp = max(time.time(), before + 2)
    os.utime(path, (stamp, stamp))
