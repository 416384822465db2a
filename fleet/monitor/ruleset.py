"""The health rules as data: the pydantic models of ``monitoring/rules.yml``.

Schema only: what a rule set may say, validated field by field (titles' placeholders, one
threshold per rule, reserved check names...).  Reading the file is :mod:`fleet.monitor.rules_file`;
applying the rules to samples is :mod:`fleet.monitor.rules` (the state machine).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet.inventory.models import DeviceKind

REACHABILITY = "reachability"
SNMP_ACCESS = "snmp_access"

Severity = Literal["info", "minor", "major", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "minor", "major", "critical")

TITLE_FIELDS = (
    "device",
    "site",
    "kind",
    "check",
    "metric",
    "suffix",
    "value",
    "limit",
    "reason",
    "behind",
)


def as_number(value: float | int | str | None) -> float | None:
    if value is None or isinstance(value, bool):
        return float(value) if isinstance(value, bool) else None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# ------------------------------------------------------------------------ rule set (data) --


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Policy(_Model):
    """Hysteresis and timing, in polls and seconds."""

    fail_after: int = Field(3, ge=1)
    recover_after: int = Field(2, ge=1)
    flap_window: float = Field(3600, gt=0)
    flap_changes: int = Field(6, ge=2)
    flap_quiet: float = Field(1800, gt=0)
    opening_grace: float = Field(1800, ge=0)


def _check_title(template: str) -> str:
    try:
        template.format(**dict.fromkeys(TITLE_FIELDS, "x"))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"title {template!r}: unknown placeholder {exc}; use {', '.join(TITLE_FIELDS)}"
        ) from exc
    return template


def _default_severity() -> dict[str, Severity]:
    return {"default": "major"}


class ReachabilityRule(_Model):
    title: str = "{device} ne répond pas"
    root_cause_title: str = "Site {site} injoignable : {device} ({kind}) ne répond pas"
    not_back_title: str = "{device} pas revenu à l'ouverture"
    severity: Mapping[str, Severity] = Field(default_factory=_default_severity)
    fail_after: int | None = Field(None, ge=1)
    recover_after: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _valid(self) -> ReachabilityRule:
        for t in (self.title, self.root_cause_title, self.not_back_title):
            _check_title(t)
        for key in self.severity:
            if key != "default" and key not in {k.value for k in DeviceKind}:
                raise ValueError(f"severity: unknown device kind {key!r}")
        return self

    def severity_for(self, kind: DeviceKind) -> Severity:
        return self.severity.get(kind.value, self.severity.get("default", "major"))


class AccessRule(_Model):
    title: str = "{device} refuse SNMP ({reason})"
    severity: Severity = "major"
    fail_after: int | None = Field(None, ge=1)
    recover_after: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _valid(self) -> AccessRule:
        _check_title(self.title)
        return self


class Rule(_Model):
    """A threshold on one metric (``metric: "disk_used_pct:*"`` makes one check per mount)."""

    check: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    metric: str
    kinds: tuple[DeviceKind, ...] | None = None
    over: float | None = None
    under: float | None = None
    equals: float | str | None = None
    ignore_below: float | None = None
    absent: float | str | None = None
    """Value assumed when an answering device does not report the metric (e.g. the poller
    reports only the printer error flags that are set)."""
    reason: str | None = None
    severity: Severity = "major"
    fail_after: int | None = Field(None, ge=1)
    recover_after: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _valid(self) -> Rule:
        _check_title(self.title)
        given = [x for x in (self.over, self.under, self.equals) if x is not None]
        if len(given) != 1:
            raise ValueError("exactly one of over, under, equals is required")
        if self.check in (REACHABILITY, SNMP_ACCESS):
            raise ValueError(f"check name {self.check!r} is reserved")
        if "*" in self.metric and not self.metric.endswith(":*"):
            raise ValueError(f"metric {self.metric!r}: a wildcard must be the whole ':*' suffix")
        if self.absent is not None and self.metric.endswith(":*"):
            raise ValueError(f"metric {self.metric!r}: 'absent' cannot apply to a wildcard")
        return self

    @property
    def limit(self) -> float | str:
        return next(x for x in (self.over, self.under, self.equals) if x is not None)

    @property
    def fail_reason(self) -> str:
        if self.reason:
            return self.reason
        if self.over is not None:
            return "over_threshold"
        if self.under is not None:
            return "under_threshold"
        return "value"

    def applies_to(self, kind: DeviceKind) -> bool:
        return self.kinds is None or kind in self.kinds

    def failing(self, value: float | int | str) -> bool | None:
        """True when ``value`` breaks the rule, False when fine, None when not a reading."""
        if self.equals is not None:
            if isinstance(self.equals, str) or isinstance(value, str):
                return str(value) == str(self.equals)
            return as_number(value) == float(self.equals)
        number = as_number(value)
        if number is None or (self.ignore_below is not None and number < self.ignore_below):
            return None
        if self.over is not None:
            return number > self.over
        assert self.under is not None
        return number < self.under


class RuleSet(_Model):
    defaults: Policy = Field(default_factory=Policy)
    reachability: ReachabilityRule = Field(default_factory=ReachabilityRule)
    snmp_access: AccessRule = Field(default_factory=AccessRule)
    dependencies: tuple[DeviceKind, ...] = (DeviceKind.GATEWAY, DeviceKind.SWITCH)
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        seen: set[str] = set()
        for r in self.rules:
            if r.check in seen:
                raise ValueError(f"check {r.check!r} is defined twice")
            seen.add(r.check)
        return self

    def fail_after(self, check: str) -> int:
        return self._policy(check)[0]

    def recover_after(self, check: str) -> int:
        return self._policy(check)[1]

    def _policy(self, check: str) -> tuple[int, int]:
        base = check.split(":", 1)[0]
        src: ReachabilityRule | AccessRule | Rule | None
        if base == REACHABILITY:
            src = self.reachability
        elif base == SNMP_ACCESS:
            src = self.snmp_access
        else:
            src = next((r for r in self.rules if r.check == base), None)
        fail = src.fail_after if src is not None and src.fail_after else self.defaults.fail_after
        rec = src.recover_after if src is not None and src.recover_after else self.defaults.recover_after
        return fail, rec

    def rule(self, check: str) -> Rule | None:
        base = check.split(":", 1)[0]
        return next((r for r in self.rules if r.check == base), None)
