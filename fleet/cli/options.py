"""Options shared by several commands, declared once (name, help, default source)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleet.i18n import N_

InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i",
                 help=N_("Inventory directory (default: FLEET_INVENTORY or ./inventory).")),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help=N_("Store URL (default: FLEET_DB_URL, else fleet.sqlite in the state "
                                 "directory, FLEET_STATE_DIR or /var/lib/relais).")),
]
JsonOpt = Annotated[bool, typer.Option("--json", help=N_("Machine-readable output (errors too)."))]
ClockOpt = Annotated[
    str | None,
    typer.Option("--clock", help=N_("Judge ages and what is current at this instant (ISO, with its "
                                    "offset) instead of now (rehearsals, tests).")),
]
ByOpt = Annotated[
    str | None,
    typer.Option("--by", help=N_("Who acts, recorded on the event (default: your login)."))]
