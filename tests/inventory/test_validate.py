"""validate_with_lines: pydantic errors → file:line for any YAML file, not only the inventory
(the way monitoring/rules.yml and the profiles can use it)."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from fleet.errors import ConfigError, InventoryError, Problem
from fleet.errors import FieldError
from fleet.inventory.validate import validate_with_lines
from fleet.inventory.yamlsrc import line_at, load_yaml_text


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    HINTS: ClassVar[dict[str, str]] = {"seuil": "warn"}

    warn: int
    crit: int

    @model_validator(mode="after")
    def _order(self) -> Threshold:
        if self.crit < self.warn:
            raise FieldError(("crit",), f"crit ({self.crit}) is below warn ({self.warn})")
        return self


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    every: int = 60
    thresholds: list[Threshold] = []

    @field_validator("every")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("every must be a positive number of seconds")
        return v


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule]


TEXT = """\
rules:
  - name: cpu
    every: 0
    thresholds:
      - {warn: 80, crit: 90}
      - warn: 90
        crit: 50
  - name: disk
    evry: 30
    thresholds:
      - seuil: 1
        crit: 2
"""


def load(text: str) -> object:
    problems: list[Problem] = []
    data = load_yaml_text(text, "monitoring/rules.yml", problems)
    assert not problems
    return data


def test_every_error_has_its_line_field_and_a_readable_message() -> None:
    with pytest.raises(InventoryError) as info:
        validate_with_lines(Rules, load(TEXT), "monitoring/rules.yml")
    got = {(p.line, p.field, p.message) for p in info.value.problems}
    assert got == {
        (3, "rules[0].every", "every must be a positive number of seconds"),
        (7, "rules[0].thresholds[1].crit", "crit (50) is below warn (90)"),
        (9, "rules[1].evry", "unknown key 'evry' (did you mean 'every'?)"),
        (11, "rules[1].thresholds[0].seuil", "unknown key 'seuil' (did you mean 'warn'?)"),
        (11, "rules[1].thresholds[0].warn", "required key missing"),
    }
    assert all(str(p).startswith(f"monitoring/rules.yml:{p.line}: rules[")
               for p in info.value.problems)


def test_valid_data_validates_and_the_error_class_is_chosen_by_the_caller() -> None:
    ok = validate_with_lines(Rules, load("rules:\n  - name: cpu\n"), "monitoring/rules.yml")
    assert ok.rules[0].every == 60
    with pytest.raises(ConfigError):
        validate_with_lines(Rules, load("rules: 3\n"), "x.yml",
                            error=lambda problems: ConfigError(str(problems[0])))


def test_type_errors_say_what_yaml_read() -> None:
    with pytest.raises(InventoryError) as info:
        validate_with_lines(Rules, load("rules:\n  - name: cpu\n    every: ten\n"), "r.yml")
    (p,) = info.value.problems
    assert p.line == 3 and p.message == "must be a whole number, not the text 'ten'"


def test_line_at_walks_mappings_and_lists() -> None:
    data = load(TEXT)
    assert line_at(data, ("rules", 1, "thresholds", 0, "crit")) == 12
    assert line_at(data, ("rules", 0, "nothing-here")) == 2  # the deepest known
