"""Entry point of the `fleet` command.  Each area registers its own small sub-app here,
one line each; the commands themselves live in sibling modules."""

from __future__ import annotations

import sys

import typer

from fleet.cli import agenda, blocklists, demo, deploy, handoff, inventory, lab, monitor, portal, snmp, web
from fleet.cli.common import run_app

app = typer.Typer(
    name="fleet",
    help="Relais: describe, rehearse, deploy, watch and audit public digital-access sites.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# --- sub-commands: one line per area -------------------------------------------------------
app.command("demo")(demo.demo)
app.add_typer(inventory.app, name="inventory")
# (other areas add their line below)
app.add_typer(lab.app, name="lab")
app.command("poll")(monitor.poll)
app.command("status")(monitor.status)
app.add_typer(monitor.incidents_app, name="incidents")
app.add_typer(monitor.maintenance_app, name="maintenance")
app.add_typer(snmp.app, name="snmp")
app.command("deploy")(deploy.deploy)
app.command("wipe")(deploy.wipe)
app.add_typer(portal.app, name="portal")
app.add_typer(blocklists.app, name="blocklists")
app.add_typer(handoff.app, name="handoff")
app.add_typer(agenda.app, name="agenda")
app.command("web")(web.web)


def main(argv: list[str] | None = None) -> int:
    return run_app(app, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
