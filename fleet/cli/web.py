"""`fleet web`: serve the web pages (uvicorn, one process).

Until the hotline dashboard is merged this serves only the hall screens' public page,
``/screen/SITE`` (:mod:`fleet.web.screen`); the dashboard's ``create_app`` mounts the same
router with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleet.inventory import load_inventory


def web(
    host: Annotated[str, typer.Option("--host", help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Listen port.", min=1, max=65535)] = 8080,
    db: Annotated[str | None, typer.Option("--db", help="Store URL (default: FLEET_DB_URL); "
                                           "without a store, no 'what works now' line.")] = None,
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i",
                                                   help="Inventory directory.")] = None,
    agenda_cache: Annotated[Path | None, typer.Option(
        "--agenda-cache", help="Agenda cache directory (default: FLEET_AGENDA_CACHE).")] = None,
) -> None:
    """Serve the hall screens' page /screen/SITE (public, read-only)."""
    import uvicorn
    from fastapi import FastAPI

    from fleet.store.db import open_store
    from fleet.web.screen import screen_router

    inv = load_inventory(inventory)
    store = open_store(db) if db is not None else None
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(screen_router(inv, store, agenda_cache=agenda_cache))
    try:
        uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False,
                    log_level="warning")
    finally:
        if store is not None:
            store.dispose()
