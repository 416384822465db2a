"""Reading ``monitoring/rules.yml``: YAML -> :class:`fleet.monitor.ruleset.RuleSet`, errors as
one :class:`fleet.errors.ConfigError` line naming the file, the field and the value.

Kept apart from the schema (:mod:`fleet.monitor.ruleset`) and the state machine
(:mod:`fleet.monitor.rules`); it reads with the inventory's YAML loader and
validation, so its errors carry line numbers like the inventory's.
"""

from __future__ import annotations

from pathlib import Path

from fleet.errors import ConfigError, Problem
from fleet.inventory.validate import config_error, validate_with_lines
from fleet.inventory.yamlsrc import load_yaml
from fleet.monitor.ruleset import RuleSet


def load_rules(path: Path) -> RuleSet:
    """Load and validate ``monitoring/rules.yml``; errors name the file, the line and the field
    (through :func:`fleet.inventory.validate.validate_with_lines`, as the inventory's do)."""
    problems: list[Problem] = []
    raw = load_yaml(path, str(path), problems)
    if problems:
        raise config_error(problems)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping (defaults, reachability, rules, ...)")
    return validate_with_lines(RuleSet, raw, str(path), error=config_error)
