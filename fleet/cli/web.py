"""`fleet web`: serve the hotline dashboard (uvicorn, one process).

Thin: resolve the settings, load the inventory, open the store, build the application
(:func:`fleet.web.create_app`), run it.  Behind a reverse proxy that terminates TLS, name the
proxy with ``--trusted-proxy`` so HTTPS is recognised (docs/operations.md).  ``--lab``: the
remote actions of the device pages reach the lab copy of the sites, as every device-reaching
command's ``--lab`` does; without it, the real addresses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleet import settings
from fleet.cli.common import opened_store
from fleet.inventory import load_inventory


def web(
    host: Annotated[
        str | None, typer.Option("--host", help="Listen address (default: FLEET_WEB_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Listen port (default: FLEET_WEB_PORT or 8080).",
                                             min=1, max=65535)] = None,
    db: Annotated[str | None, typer.Option("--db", help="Store URL (default: FLEET_DB_URL).")] = None,
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option("--trusted-proxy", help="Reverse proxy address or network whose X-Forwarded-* headers "
                     "are believed (repeatable; default: FLEET_WEB_TRUSTED_PROXIES)."),
    ] = None,
    lab: Annotated[bool, typer.Option("--lab", help="The device pages' remote actions reach the lab copy "
                                      "of the sites (as `fleet act --lab`).")] = False,
) -> None:
    """Serve the hotline dashboard (log in with an account from `fleet users add`)."""
    import uvicorn

    from fleet.web import WebConfig, create_app
    from fleet.web.security import parse_proxies

    bind: str = settings.get("web_host", host)
    listen: int = settings.get("web_port", port)
    proxies = parse_proxies(trusted_proxy or settings.get("web_trusted_proxies"))
    inv = load_inventory(inventory)
    with opened_store(db, create=True) as store:
        app = create_app(store, inv, config=WebConfig(trusted_proxies=proxies), lab=lab)
        uvicorn.run(app, host=bind, port=listen, proxy_headers=False, server_header=False, log_level="info")


app = typer.Typer()
app.command("web", help=((web.__doc__ or "").split("\n\n")[0]))(web)
