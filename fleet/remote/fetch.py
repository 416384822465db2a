"""Copy log files from hosts to the controller (read-only: nothing changes on the host).

One mechanism for every "collect what the hosts wrote" job: the gateways' legal connection
log (:mod:`fleet.remote.connlog`) and the stations' wipe records (:mod:`fleet.audit.usage`).
The files matching a remote glob are streamed over SSH in one ``sudo`` shell command (no
readable temporary copy is ever made on the host), each preceded by a marker line, and written
under ``dest/<hostname>/`` (directory 0700, files 0600: they may hold personal data).  Only
file names matching ``accept`` are kept.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from pyinfra.api.state import State

from fleet.remote.pyinfra_run import HostOutcome, Target, run

MARK = "### relais-file "


def split_stream(lines: Sequence[str], accept: re.Pattern[str]) -> dict[str, list[str]]:
    """Marker lines (``### relais-file PATH``) each followed by that file's lines ->
    {file name: non-empty lines}; files whose name ``accept`` refuses are dropped."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line.startswith(MARK):
            name = Path(line[len(MARK) :].strip()).name
            current = out.setdefault(name, []) if accept.match(name) else None
        elif current is not None and line.strip():
            current.append(line)
    return out


def fetch_files(
    targets: Sequence[Target], dest: Path, remote_glob: str, accept: re.Pattern[str]
) -> list[HostOutcome]:
    """Copy each target's files matching ``remote_glob`` (expanded by root on the host) to
    ``dest/<hostname>/``; one outcome per host (an unreachable one is marked, the rest go on)."""
    directory, pattern = remote_glob.rsplit("/", 1)
    glob = f"{shlex.quote(directory)}/{pattern}"

    def after(state: State) -> dict[str, str]:
        messages: dict[str, str] = {}
        for host in state.inventory.get_active_hosts():
            cmd = f'for f in {glob}; do [ -f "$f" ] || continue; echo \'{MARK}\'"$f"; cat "$f"; echo; done'
            ok, output = host.run_shell_command(cmd, _sudo=True)
            if not ok:
                messages[host.name] = f"cannot read {remote_glob}: {output.stderr[-200:]}"
                continue
            files = split_stream(output.stdout_lines, accept)
            folder = dest / host.name
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
            for name, lines in files.items():
                path = folder / name
                path.write_text("".join(line + "\n" for line in lines), "utf-8")
                path.chmod(0o600)
            messages[host.name] = f"{len(files)} files"
        return messages

    return run(targets, lambda _state: None, after)
