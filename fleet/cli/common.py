"""What every CLI command shares: the error boundary, console, JSON output, and the one helper
that opens and closes the store for a command (:func:`opened_store`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from fleet.errors import FleetError, InventoryError

if TYPE_CHECKING:
    from fleet.store import Store


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Machine-readable output: stable keys, UTF-8, one document."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line red error and return the Exit to raise."""
    console(stderr=True).print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def escape(text: str) -> str:
    """Text shown through rich: brackets are not markup."""
    return text.replace("[", r"\[")


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


def report_error(exc: FleetError) -> int:
    err = console(stderr=True)
    if isinstance(exc, InventoryError):
        for problem in exc.problems:
            err.print(f"[bold red]error:[/] {escape(str(problem))}")
        n = len(exc.problems)
        err.print(f"[red]{n} problem{'s' if n != 1 else ''} found[/]")
    else:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
    return exc.exit_code


def run_app(app: typer.Typer, argv: Sequence[str]) -> int:
    """Run the typer app; FleetError becomes a one-line message and an exit code, never a
    traceback.  Usage errors (bad flags) keep click's one-line message and exit code 2."""
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=list(argv), prog_name="fleet", standalone_mode=False)
    except FleetError as exc:
        return report_error(exc)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        console(stderr=True).print("[red]aborted[/]")
        return 130
    except KeyboardInterrupt:
        return 130
    except typer.TyperException as exc:
        # Usage errors from typer's (vendored) click: one line, click's exit code (2).
        message = exc.format_message()
        if message:  # empty when the help was shown for a bare group
            console(stderr=True).print(f"[bold red]error:[/] {escape(message)}")
        return int(exc.exit_code)
    # Without standalone mode, click hands a raised typer.Exit back as the return value.
    return rv if isinstance(rv, int) else 0
