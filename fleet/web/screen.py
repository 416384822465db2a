"""The hall screen's page, ``GET /screen/SITE``: public, read-only, rate-limited.

A self-contained router (FastAPI) that any application mounts with one line::

    app.include_router(screen_router(inventory, store))

It renders :func:`fleet.incidents.publicstatus.screen_page` (hours, closures, the week's
agenda, what works now) in French, readable from three metres.  The hall screen asks for
``/screen/SITE?ecran=1`` and gets a page that reloads itself every minute (``<meta http-
equiv="refresh">``, no script at all): a screen without input, where WCAG's "timing adjustable"
does not apply; anyone else's browser gets the same page without the reload. Anonymous by
design: it shows nothing a passer-by may not read.  Only GET and HEAD; a client asking too
often gets 429 (a token bucket per client address, in this router's own memory); an unknown
site is a plain 404 that names no other site.  The stylesheet is inlined (one request per
refresh, allowed by its hash in the Content-Security-Policy).

The site's agenda is read from the controller's cache (:func:`fleet.agenda.current`), fetched
again when older than ``agenda_refresh_s``.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from fleet.agenda import cache_dir, current, http_fetch
from fleet.agenda.feed import Fetch
from fleet.errors import NotFoundError
from fleet.incidents.publicstatus import screen_page
from fleet.inventory.models import Inventory
from fleet.store.db import Store

HERE = Path(__file__).resolve().parent
REFRESH_S = 60
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RateLimit:
    """At most ``burst`` requests at once per client, refilled at ``per_minute``."""

    per_minute: float = 30.0
    burst: float = 10.0
    monotonic: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, client: str) -> bool:
        now = self.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.per_minute / 60.0)
            if len(self._buckets) > 10_000:  # bounded memory: forget the quiet ones
                self._buckets.clear()
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return False
            self._buckets[client] = (tokens - 1.0, now)
            return True


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"),
                       autoescape=select_autoescape(["html"], default=True),
                       trim_blocks=True, lstrip_blocks=True)


def _headers(css_hash: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (f"default-src 'none'; style-src '{css_hash}'; img-src data:; "
                                    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def screen_router(
    inventory: Inventory,
    store: Store | None,
    *,
    clock: Clock = utcnow,
    agenda_cache: Path | None = None,
    fetch: Fetch = http_fetch,
    rate: RateLimit | None = None,
) -> APIRouter:
    """The ``/screen/{site}`` route over this inventory and store (None: no monitoring line)."""
    env = _environment()
    template = env.get_template("screen/screen.html")
    css = (HERE / "static" / "screen" / "screen.css").read_text(encoding="utf-8")
    css_hash = "sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    headers = _headers(css_hash)
    limiter = rate if rate is not None else RateLimit()
    cache = cache_dir(agenda_cache)
    router = APIRouter()

    def page(request: Request, site_id: str, ecran: str | None = None) -> Response:
        client = request.client.host if request.client is not None else "?"
        if not limiter.allow(client):
            return PlainTextResponse("Trop de demandes : réessayez dans une minute.", 429,
                                     headers={**headers, "Retry-After": "60"})
        try:
            site = inventory.site(site_id)
        except NotFoundError:
            return PlainTextResponse("Page inconnue.", 404, headers=headers)
        now = clock()
        agenda = current(site, Path(inventory.root), cache, now, fetch=fetch)
        data = screen_page(site, store, now, agenda)
        html = template.render(page=data, css=css, refresh=REFRESH_S if ecran == "1" else None)
        return HTMLResponse(html, headers=headers)

    router.add_api_route("/screen/{site_id}", page, methods=["GET", "HEAD"],
                         response_class=HTMLResponse, include_in_schema=False)
    return router


__all__ = ["REFRESH_S", "RateLimit", "screen_router"]
