"""`fleet users add | list | disable | passwd`: the hotline dashboard's accounts.

Thin: parse, call :mod:`fleet.store.users` (the functions the dashboard uses), print.  A
password is never an argument (it would sit in the shell's history and in ``ps``): it is read
from standard input when that is not a terminal (``printf '%s\\n' "$PW" | fleet users add ...``),
else asked twice without echo.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from fleet.cli.common import console, opened_store, print_json
from fleet.errors import UserError
from fleet.store.users import ROLES, create_user, list_users, set_disabled, set_password

app = typer.Typer(help="Accounts of the hotline dashboard (fleet web).", no_args_is_help=True)

DbOpt = Annotated[
    str | None, typer.Option("--db", help="Store URL (default: FLEET_DB_URL or sqlite:///var/fleet.sqlite).")
]


def _now() -> datetime:
    return datetime.now(UTC)


def read_password() -> str:
    """From standard input when it is not a terminal (first line), else asked twice."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise UserError("password: nothing on standard input (give it on the first line)")
        return password
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise UserError("password: the two entries differ")
    return first


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Login name (letters, digits, - _ . @).")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")],
    db: DbOpt = None,
) -> None:
    """Create an account; the password comes from standard input (or is asked)."""
    password = read_password()
    with opened_store(db, create=True) as store:
        user = create_user(store, name, role, password, _now())
        console().print(f"user {user.name} created (role {user.role})")


@app.command("list")
def list_(
    db: DbOpt = None, json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False
) -> None:
    """Every account, its role, whether it is disabled, its last login."""
    with opened_store(db) as store:
        users = list_users(store)
        if json:
            print_json([u.to_json() for u in users])
            return
        if not users:
            console().print("no users: fleet users add NAME --role admin")
            return
        table = Table()
        for col in ("name", "role", "state", "last login (UTC)"):
            table.add_column(col)
        for u in users:
            last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "-"
            table.add_row(u.name, u.role, "disabled" if u.disabled else "active", last)
        console().print(table)


@app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="Login name.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable the account again instead.")] = False,
    db: DbOpt = None,
) -> None:
    """Disable an account (its sessions end at once), or --enable it again."""
    with opened_store(db) as store:
        set_disabled(store, name, not enable)
        console().print(f"user {name} {'enabled' if enable else 'disabled'}")


@app.command("passwd")
def passwd(name: Annotated[str, typer.Argument(help="Login name.")], db: DbOpt = None) -> None:
    """Set a new password (standard input, or asked); the user's sessions end."""
    password = read_password()
    with opened_store(db) as store:
        set_password(store, name, password, _now())
        console().print(f"password of {name} changed")
