"""Reading ``monitoring/rules.yml``: YAML -> :class:`fleet.monitor.ruleset.RuleSet`, errors as
one :class:`fleet.errors.ConfigError` line naming the file, the field and the value.

Kept apart from the schema (:mod:`fleet.monitor.ruleset`) and the state machine
(:mod:`fleet.monitor.rules`) so the reading can move to the inventory's YAML loader (errors
with line numbers) without touching either.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fleet.errors import ConfigError
from fleet.monitor.ruleset import RuleSet


def load_rules(path: Path) -> RuleSet:
    """Load and validate ``monitoring/rules.yml``; errors name the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read rules: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping (defaults, reachability, rules, ...)")
    try:
        return RuleSet.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _locate(raw, err["loc"])
        value = err.get("input")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(
            f"{path}: {where}: {err['msg']} (value {value!r}){more}".replace("Value error, ", "")
        ) from exc


def _locate(raw: Any, loc: Sequence[int | str]) -> str:
    """``rules[3] (check 'disk').over`` from a pydantic error location."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and "check" in node:
                    label += f" (check {node['check']!r})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"
