"""Fetch the legal connection log from gateways (read-only: nothing changes on the gateway).

The day files are streamed over SSH (``sudo cat``; no readable temporary copy is ever made on
the gateway) into a local directory, one sub-directory per gateway, which
:func:`fleet.gateway.collect.import_dir` then loads into the store."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pyinfra.api.state import State

from fleet.remote.pyinfra_run import HostOutcome, Target, run

LOG_DIR = "/var/lib/relais/connlog"
_MARK = "### relais-connlog "
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\.jsonl$")


def split_stream(lines: Sequence[str]) -> dict[str, list[str]]:
    """``### relais-connlog NAME`` headers followed by that file's lines -> {name: lines}."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line.startswith(_MARK):
            name = Path(line[len(_MARK):].strip()).name
            current = out.setdefault(name, []) if _DAY.match(name) else None
        elif current is not None and line.strip():
            current.append(line)
    return out


def fetch_connlog(targets: Sequence[Target], dest: Path,
                  log_dir: str = LOG_DIR) -> list[HostOutcome]:
    """Copy each target's day files to ``dest/<hostname>/``."""

    def after(state: State) -> dict[str, str]:
        messages: dict[str, str] = {}
        for host in state.inventory.get_active_hosts():
            cmd = (f"for f in {log_dir}/*.jsonl; do [ -f \"$f\" ] || continue; "
                   f"echo '{_MARK}'\"$f\"; cat \"$f\"; done")
            ok, output = host.run_shell_command(cmd, _sudo=True)
            if not ok:
                messages[host.name] = f"cannot read {log_dir}: {output.stderr[-200:]}"
                continue
            files = split_stream(output.stdout_lines)
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
