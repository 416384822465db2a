"""The colours of the CLI's words for the engine's codes; the words themselves are
:mod:`fleet.words`'s (the dashboard's too).  The JSON output keeps the codes themselves."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

STYLE: Mapping[str, str] = MappingProxyType({
    "ok": "green", "up": "green", "incident": "red", "down": "red", "watch": "yellow",
    "degraded": "yellow", "expected": "cyan", "unknown": "dim", "stale": "magenta",
    "open": "red", "acknowledged": "yellow", "in_progress": "cyan", "resolved": "green",
    "closed": "dim", "critical": "bold red", "major": "red", "minor": "yellow",
})
