"""One error root for the whole engine, and every error class of it, here.

Every error a user can cause is a :class:`FleetError`; subtrees also inherit the matching
built-in so callers may catch either.  Third-party exceptions are translated at the boundary
with ``raise ... from exc``.  Only the CLI turns these into a one-line message and an exit code
(``exit_code``: 1 the command ran and failed, 2 the input is wrong; see ``fleet/cli/exits.py``).

The programs shipped to a gateway (``fleet/gateway/ut1.py``, ``connlog.py``, ``portalhours.py``
run there on the standard library alone) import their error from here and, only where ``fleet``
is not installed, fall back to a plain ``ValueError`` of the same name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal


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


class NotRootError(LabError, PermissionError):
    """The lab needs root (namespaces, mounts, systemd-nspawn)."""


class MissingToolError(LabError, FileNotFoundError):
    """A system tool the lab needs is not installed."""


class NetnsError(LabError):
    """A network namespace is missing or cannot be entered."""


class StoreError(FleetError, RuntimeError):
    """The store (database) failed or is in an unexpected state."""


class StoreMissingError(StoreError, FileNotFoundError):
    """No store where one was named (a mistyped ``--db``, another state directory, no poll yet):
    read commands never create one."""

    exit_code = 2


class PostgresUnavailable(StoreError):
    """The PostgreSQL server binaries are not installed (throwaway test clusters)."""


class IncidentError(FleetError, ValueError):
    """An incident operation is not possible (unknown id, wrong status)."""

    exit_code = 2


class RemoteError(FleetError, RuntimeError):
    """A remote action could not run at all (not: one host failed, which is a result)."""


class DeployError(FleetError, RuntimeError):
    """A deploy could not run (not: a host failed, which is a per-host result)."""


class ListError(ConfigError):
    """A blocklist set (UT1 format) or an argument is unusable; names the file and value."""


class RecordError(ConfigError):
    """A line of the gateway's connection log is not a valid record; names the file and line."""


class HoursError(ConfigError):
    """The gateway's opening-hours file is unusable."""


class BerError(FleetError, ValueError):
    """The bytes are not a well-formed SNMP message."""


class BerUnsupported(BerError):
    """Legal BER perhaps, but outside the fast decoder's subset: let pysnmp decode it."""


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


class ActionRefused(FleetError, ValueError):
    """A remote action or diagnostic is refused before it starts: unknown action or device, a
    device of the wrong kind, a service not on the allowlist, an incident about another device."""

    exit_code = 2


class PermissionDenied(FleetError, PermissionError):
    """The actor's role may not do this (fleet/permissions.yml)."""

    exit_code = 3  # ExitCode.FORBIDDEN (fleet/cli/exits.py)


class NetdevError(FleetError, RuntimeError):
    """A network device (switch, access point) could not be reached, logged into or configured;
    ``reason`` is a short machine-readable cause (timeout, auth, prompt, connection_lost...)."""

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason
class AgendaError(FleetError, ValueError):
    """A site's agenda (ICS feed or file) that cannot be read or is not an iCalendar; one line
    naming the site and the source.  The last good agenda is kept (fleet.agenda)."""


# --- errors of one area, declared here with all the others ---------------------------------


# fleet/web/app.py
class NeedLogin(FleetError):
    """No valid session: a page redirects to the login, anything else gets 401."""


# fleet/web/app.py
class Forbidden(FleetError, PermissionError):
    """The role does not allow this action."""

    def __init__(self, action: str) -> None:
        super().__init__(action)
        self.action = action


# fleet/web/app.py
class BadForm(FleetError, ValueError):
    """A form that cannot be accepted (bad CSRF token, bad value): 400 with a message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# fleet/store/users.py
class UserError(FleetError, ValueError):
    """A user operation is not possible (unknown name, bad role, weak password)."""

    exit_code = 2


# fleet/store/users.py
class LoginRefused(FleetError, PermissionError):
    """Wrong name or password, or a disabled account (never said which)."""


# fleet/store/users.py
class LoginThrottled(LoginRefused):
    """Too many failures for this name or address: wait, then try again."""


# fleet/monitor/usm.py
class _Rediscover(SnmpError):
    """The agent reported usmStatsUnknownEngineIDs: it changed engine ID, discover again."""


# fleet/inventory/validate.py
Loc = tuple[str | int, ...]


class FieldError(FleetError, ValueError):
    """Raised by a validator to report one or more errors below the field it validates.

    ``FieldError(("guest",), "overlaps the management network")`` from a validator of
    ``site_networks`` is reported at ``site_networks.guest``, on the line of ``guest:``.
    Several at once: ``FieldError.many([(loc, message, value), ...])``.  ``value`` replaces the
    refused value in the report (``"***"`` for a secret)."""

    def __init__(self, loc: Loc, message: str, value: object = ...) -> None:
        super().__init__(message)
        self.errors: tuple[tuple[Loc, str, object], ...] = ((tuple(loc), message, value),)

    @classmethod
    def many(cls, errors: Iterable[tuple[Loc, str, object]]) -> FieldError:
        items = tuple((tuple(loc), msg, value) for loc, msg, value in errors)
        first = items[0] if items else ((), "invalid", ...)
        exc = cls(first[0], first[1], first[2])
        exc.errors = items
        return exc


# fleet/handoff/errors.py
class HandoffError(FleetError, RuntimeError):
    """Root of the hand-off's errors."""


# fleet/handoff/errors.py
class TransientError(HandoffError):
    """Try again later."""


# fleet/handoff/errors.py
class RefusedError(HandoffError):
    """The remote refused this change: stop and tell the hotline."""


# fleet/handoff/errors.py
class ChannelError(HandoffError):
    """The channel cannot be used right now (authentication, TLS...)."""


# fleet/audit/entries.py
class AuditInputError(InventoryError):
    """A checklist or counting-grid file is wrong; carries every problem found (file:line)."""


# fleet/lab/glpi_standin.py (the GLPI stand-in: an answer that ends a request's handling)
class GlpiReply(FleetError):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}
