"""One error root for the whole engine.

Every error a user can cause is a :class:`FleetError`; subtrees also inherit the matching
built-in so callers may catch either.  Third-party exceptions are translated at the boundary
with ``raise ... from exc``.  Only the CLI turns these into a one-line message and an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass


class FleetError(Exception):
    """Root of every error the engine raises on purpose."""

    exit_code = 1


class ConfigError(FleetError, ValueError):
    """A setting, CLI argument or configuration file is wrong."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in an input file, located precisely enough to fix it."""

    file: str
    line: int | None
    field: str
    value: object
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class InventoryError(FleetError, ValueError):
    """The inventory is invalid; carries every problem found in one run."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        first = str(problems[0]) if problems else "invalid inventory"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


class SecretError(FleetError, ValueError):
    """A secret is missing or the vault cannot be opened."""

    exit_code = 2


class LabError(FleetError, RuntimeError):
    """The lab could not be built, brought up or down."""


class StoreError(FleetError, RuntimeError):
    """The store (database) failed or is in an unexpected state."""


class DeployError(FleetError, RuntimeError):
    """A deploy could not run (not: a host failed, which is a per-host result)."""


class SnmpError(FleetError, RuntimeError):
    """An SNMP exchange failed; ``reason`` is a short machine-readable cause."""

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


class NetdevError(FleetError, RuntimeError):
    """A network device (switch, access point) could not be reached, logged into or configured;
    ``reason`` is a short machine-readable cause (timeout, auth, prompt, connection_lost...)."""

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason
