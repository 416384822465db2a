"""Options shared by several commands, declared once (name, help, default source)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", help="Inventory directory (default: FLEET_INVENTORY or ./inventory)."),
]
DbOpt = Annotated[
    str | None, typer.Option("--db", help="Store URL (default: FLEET_DB_URL or sqlite:///var/fleet.sqlite).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ByOpt = Annotated[
    str | None, typer.Option("--by", help="Operator name recorded on the event (default: $USER).")
]
