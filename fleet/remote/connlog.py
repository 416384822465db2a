"""Fetch the legal connection log from gateways (read-only: nothing changes on the gateway).

The day files are streamed over SSH (``sudo cat``; no readable temporary copy is ever made on
the gateway) into a local directory, one sub-directory per gateway, which
:func:`fleet.gateway.collect.import_dir` then loads into the store."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from fleet.remote import fetch
from fleet.remote.pyinfra_run import HostOutcome, Target

LOG_DIR = "/var/lib/relais/connlog"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\.jsonl$")


def split_stream(lines: Sequence[str]) -> dict[str, list[str]]:
    """The fetch stream -> {day file name: lines} (see :func:`fleet.remote.fetch.split_stream`)."""
    return fetch.split_stream(lines, _DAY)


def fetch_connlog(targets: Sequence[Target], dest: Path,
                  log_dir: str = LOG_DIR) -> list[HostOutcome]:
    """Copy each target's day files to ``dest/<hostname>/`` (the one fetch path of
    :mod:`fleet.remote.fetch`, shared with the wipe-record collection of the audit)."""
    return fetch.fetch_files(targets, dest, f"{log_dir}/*.jsonl", _DAY)
