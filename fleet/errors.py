"""One error root for the whole engine.

Every error a user can cause is a :class:`FleetError`; subtrees also inherit the matching
built-in so callers may catch either.  Third-party exceptions are translated at the boundary
with ``raise ... from exc``.  Only the CLI turns these into a one-line message and an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


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


class NotFoundError(FleetError, KeyError):
    """A site id or hostname the inventory does not hold (``Inventory.site``/``.device``).

    Worded once, with suggestions: ``unknown site 'florac-f' (did you mean 'florac-fs'?)``.
    Also a KeyError, so ``except KeyError`` keeps working; unlike KeyError, ``str()`` is the
    plain message (no quotes)."""

    exit_code = 2

    def __init__(self, message: str, name: str = "", suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.suggestions = suggestions

    def __str__(self) -> str:
        return str(self.args[0])


class SecretError(FleetError, ValueError):
    """A secret is missing or the vault cannot be opened."""

    exit_code = 2


class LabError(FleetError, RuntimeError):
    """The lab could not be built, brought up or down."""


class StoreError(FleetError, RuntimeError):
    """The store (database) failed or is in an unexpected state."""


class DeployError(FleetError, RuntimeError):
    """A deploy could not run (not: a host failed, which is a per-host result)."""


SnmpReason = Literal[
    "timeout",
    "unreachable",
    "auth_error",
    "priv_error",
    "unknown_user",
    "not_in_time_window",
    "decode_error",
    "error",
]
"""Why an SNMP exchange failed: a closed set, the same words for every engine, in samples,
rules, incidents and ``fleet snmp test`` (explained in ``docs/snmp.md``)."""


class SnmpError(FleetError, RuntimeError):
    """An SNMP exchange failed; ``reason`` is one of :data:`SnmpReason`."""

    def __init__(self, message: str, reason: SnmpReason = "error") -> None:
        super().__init__(message)
        self.reason: SnmpReason = reason


class AgendaError(FleetError, ValueError):
    """A site's agenda (ICS feed or file) that cannot be read or is not an iCalendar; one line
    naming the site and the source.  The last good agenda is kept (fleet.agenda)."""
