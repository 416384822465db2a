"""What every CLI command shares: the error boundary (one line, one exit code, JSON with
``--json``), the console, JSON output, help texts in the active language, and the one helper
that opens and closes the store for a command (:func:`opened_store`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import typer

from fleet.cli.exits import ExitCode
from fleet.errors import FleetError, InventoryError
from fleet.i18n import N_, ngettext
from fleet.i18n import gettext as _

if TYPE_CHECKING:
    from rich.console import Console

    from fleet.store import Store


def console(stderr: bool = False) -> Console:
    from fleet.cli.render import make_console

    return make_console(stderr)


def print_json(data: Any) -> None:
    """Machine-readable output: stable keys, UTF-8, one document."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def escape(text: str) -> str:
    """Text shown through rich markup: brackets are not markup."""
    return text.replace("[", r"\[")


def fail(message: str, code: int = ExitCode.FAILED) -> typer.Exit:
    """Print a one-line red error and return the Exit to raise."""
    console(stderr=True).print(f"[bold red]{_('error:')}[/] {escape(message)}")
    return typer.Exit(code)


@contextmanager
def opened_store(db: str | None, *, create: bool = False) -> Iterator[Store]:
    """The store of one command: opened at the start, always disposed at the end (also when the
    command fails).  Every command that needs the store uses this, nothing else.

    Only the commands that own the store's content pass ``create`` (``fleet poll``, deploy
    records, the connection-log import): any other command refuses a store that is not there
    (a mistyped ``--db`` is an error, never a new empty store that says "no incidents")."""
    from fleet.store import open_store

    store = open_store(db, create=create)
    try:
        yield store
    finally:
        store.dispose()


# ------------------------------------------------------------------ the error boundary -----


def _json_error(code: int, kind: str, message: str, problems: Sequence[str] = ()) -> None:
    error: dict[str, Any] = {"code": code, "kind": kind, "message": message}
    if problems:
        error["problems"] = list(problems)
    print_json({"error": error})


def report_error(exc: FleetError, as_json: bool = False) -> int:
    """A FleetError as one line on stderr (each problem of an invalid inventory on its own
    line), or as one JSON document on stdout with ``--json``; returns its exit code."""
    problems = [str(p) for p in exc.problems] if isinstance(exc, InventoryError) else []
    if as_json:
        _json_error(exc.exit_code, type(exc).__name__, str(exc), problems)
        return exc.exit_code
    err = console(stderr=True)
    label = _("error:")
    if problems:
        for problem in problems:
            err.print(f"[bold red]{label}[/] {escape(problem)}")
        n = len(problems)
        err.print("[red]" + ngettext("{n} problem found", "{n} problems found", n).format(n=n) + "[/]")
    else:
        err.print(f"[bold red]{label}[/] {escape(str(exc))}")
    return exc.exit_code


def report_usage(message: str, code: int, as_json: bool = False) -> int:
    if as_json:
        _json_error(code, "UsageError", message)
    elif message:  # empty when the help was shown for a bare group
        console(stderr=True).print(f"[bold red]{_('error:')}[/] {escape(message)}")
    return code


def run_command(command: Any, argv: Sequence[str], *, as_json: bool = False) -> int:
    """Run a click command built by typer; FleetError becomes a one-line message (or JSON) and
    its exit code, never a traceback.  Usage errors (bad flags) exit 2, Ctrl-C 130."""
    try:
        rv = command.main(args=list(argv), prog_name="fleet", standalone_mode=False)
    except FleetError as exc:
        return report_error(exc, as_json)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        console(stderr=True).print("[red]" + _("aborted") + "[/]")
        return ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except typer.TyperException as exc:
        # usage errors of typer's (vendored) click: its one-line message and exit code (2)
        return report_usage(exc.format_message(), int(exc.exit_code), as_json)
    # Without standalone mode, click hands a raised typer.Exit back as the return value.
    return rv if isinstance(rv, int) else 0


def run_app(app: typer.Typer, argv: Sequence[str], *, as_json: bool = False) -> int:
    """:func:`run_command` on a Typer app, its help texts in the active language."""
    command = typer.main.get_command(app)
    localize(command)
    return run_command(command, argv, as_json=as_json)


# ---------------------------------------------------------------------------- help texts ----

_FRAMEWORK_HELP = MappingProxyType({
    # typer's own options, whose help it writes in English
    "help": N_("Show this message and exit."),
    "install_completion": N_("Install completion for the current shell."),
    "show_completion": N_("Show completion for the current shell, to copy it or customize the "
                          "installation."),
})


def localize(command: Any) -> None:
    """Translate the help texts of a freshly built click command tree, in place (the texts are
    English in the code, marked with N_; the active language is chosen by the entry point)."""
    for attr in ("help", "short_help"):
        text = getattr(command, attr, None)
        if text:
            setattr(command, attr, _(text))
    for param in getattr(command, "params", ()):
        text = getattr(param, "help", None)
        if text:
            param.help = _(text)
        if hasattr(param, "rich_help_panel") and param.rich_help_panel is None:
            param.rich_help_panel = _("Arguments") if param.param_type_name == "argument" \
                else _("Options")
        if getattr(param, "name", "") in _FRAMEWORK_HELP:
            param.help = _(_FRAMEWORK_HELP[param.name])
    get_help_option = getattr(command, "get_help_option", None)
    if get_help_option is not None:

        def translated_help_option(ctx: Any) -> Any:
            option = get_help_option(ctx)
            if option is not None:
                option.help = _(_FRAMEWORK_HELP["help"])
            return option

        command.get_help_option = translated_help_option
    for sub in getattr(command, "commands", {}).values():
        if getattr(sub, "rich_help_panel", "") is None:
            sub.rich_help_panel = _("Commands")
        localize(sub)
