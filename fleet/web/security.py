"""The dashboard's protections that are not about roles: where a request really comes from
(a reverse proxy is believed only when it is a configured trusted one), security headers,
cookies, CSRF tokens.

* ``X-Forwarded-Proto`` / ``X-Forwarded-For`` are honoured only when the TCP peer is one of
  :attr:`WebConfig.trusted_proxies`; anyone else could claim HTTPS and get cookies without
  ``Secure``, or forge an address to dodge the login throttle.
* Session cookie: ``HttpOnly``, ``SameSite=Lax``, ``Path=/``; ``Secure`` (and the ``__Host-``
  name prefix) when the request came over HTTPS.
* CSRF: every form carries the session's token (synchronizer token); the login form, before
  any session exists, a double-submit token (cookie + field).  Compared in constant time.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fleet.errors import ConfigError
from fleet.store.users import IDLE, MAX_AGE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SESSION_COOKIE = "relais_session"
SECURE_SESSION_COOKIE = "__Host-relais_session"
LOGIN_CSRF_COOKIE = "relais_login_csrf"
LANG_COOKIE = "relais_lang"

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


@dataclass(frozen=True, slots=True)
class WebConfig:
    trusted_proxies: tuple[Network, ...] = ()
    """Peers whose X-Forwarded-Proto/-For are believed (the reverse proxy)."""
    idle: timedelta = IDLE
    max_age: timedelta = MAX_AGE
    page_size: int = 50
    housekeeping_s: float = 30.0
    """Period of the background housekeeping (acknowledgement expiry, old sessions); 0: off."""
    overview_ttl_s: float = 15.0
    """The overview is computed again after this long even when the store did not change
    (opening hours and maintenance windows move with time)."""
    extra: dict[str, Any] = field(default_factory=dict)


def parse_proxies(text: str | Sequence[str] | None) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` -> networks; a clear error names the bad item."""
    if not text:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[Network] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"trusted proxy {item!r}: not an IP address or network") from None
    return tuple(out)


def _trusted(host: str | None, proxies: Sequence[Network]) -> bool:
    if not host or not proxies:
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(addr in net for net in proxies)


class ProxyHeaders:
    """ASGI middleware: scheme and client from a trusted reverse proxy; security headers on
    every response."""

    def __init__(self, app: ASGIApp, proxies: Sequence[Network]) -> None:
        self.app = app
        self.proxies = tuple(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if _trusted(client[0] if client else None, self.proxies):
            headers = {k.lower(): v for k, v in scope.get("headers", [])}
            proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
            forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            # the right-most address the trusted proxies did not add is the real client
            while hops and _trusted(hops[-1], self.proxies):
                hops.pop()
            if hops:
                try:
                    ipaddress.ip_address(hops[-1])
                    scope["client"] = (hops[-1], 0)
                except ValueError:
                    pass

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in existing]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return secrets.compare_digest(expected.encode(), given.encode())
