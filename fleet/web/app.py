"""The hotline dashboard: routes, login, the permission check on every action, rendering.

``create_app(store, inventory)`` builds the application (FastAPI + Jinja2, server-rendered,
usable without JavaScript).  Everything that varies is injected (the store, the inventory, the
clock, :class:`~fleet.web.security.WebConfig`), so tests run the real application on a real
store.  Pages call the engine's functions (:mod:`fleet.incidents`), as the CLI does.

Every route needs a session except :data:`PUBLIC` (the login page, ``/healthz``, ``/metrics``
and the static assets); :func:`tests.web.test_security` enumerates the routes to prove it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path as FilePath
from types import MappingProxyType
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from fleet.errors import (
    BadForm,
    FleetError,
    Forbidden,
    LoginRefused,
    LoginThrottled,
    NeedLogin,
    PermissionDenied,
)
from fleet.i18n import LANGUAGES, active, decimal, gettext, ngettext, parse_language, use_language
from fleet.i18n import load as load_language
from fleet.incidents import (
    IncidentError,
    acknowledge,
    add_window,
    assign,
    close,
    end_window,
    expire_acknowledgements,
    get_incident,
    note,
    resolve,
)
from fleet.incidents.lifecycle import page_incidents
from fleet.incidents.maintenance import list_windows
from fleet.incidents.status import device_detail, site_json, site_status
from fleet.inventory.hours import describe_week, format_site_time, open_now, site_instant
from fleet.inventory.models import WEEKDAYS, Device, DeviceKind, Inventory, Site
from fleet.remote.act import act as run_action
from fleet.remote.actions import ACTIONS as REMOTE_ACTIONS
from fleet.remote.restart_service import ALLOWED as RESTARTABLE
from fleet.store.db import Store
from fleet.store.deploys import list_deploys
from fleet.store.outbox import entries_of, queue_ref
from fleet.store.users import (
    SessionView,
    audit_entry,
    authenticate,
    end_session,
    list_audit,
    new_session,
    purge_sessions,
    record_audit,
    session_of,
)
from fleet.web import metrics
from fleet.web.authz import may
from fleet.web.labels import label
from fleet.web.screen import screen_router
from fleet.web.security import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SECURE_SESSION_COOKIE,
    SESSION_COOKIE,
    ProxyHeaders,
    WebConfig,
    new_token,
    same_token,
)
from fleet.web.views import Clock, Views
from fleet.words import SEVERITIES

HERE = FilePath(__file__).resolve().parent
PUBLIC = frozenset({"/login", "/healthz", "/metrics", "/static"})
STATUS_FILTERS = ("open", "acknowledged", "in_progress", "resolved", "closed", "all")
OPEN = ("open", "acknowledged", "in_progress")
AGES: Mapping[str, tuple[timedelta | None, timedelta | None]] = MappingProxyType({
    "1h": (timedelta(hours=1), None), "24h": (timedelta(hours=24), None), "7d": (timedelta(days=7), None),
    "older7d": (None, timedelta(days=7)),
})  # fmt: skip
ACK_FOR = MappingProxyType({"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24),
           "72h": timedelta(hours=72), "168h": timedelta(days=7)})  # fmt: skip
MAX_TEXT = 4000
Text = Annotated[str, Form()]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
"""A numeric id in a path: bounded, so a huge number is a 422, never a database overflow."""
"""A form field (every field is read as text and checked here, so a bad value gets a page)."""
_SAFE_NEXT = re.compile(r"^/(?![/\\])[^\s]*$")


def system_clock() -> datetime:
    return datetime.now(UTC)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates are read once per process (no stat() per request)
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


class Dashboard:
    """One running dashboard: its store, inventory, clock, configuration and memory."""

    def __init__(self, store: Store, inventory: Inventory, clock: Clock, config: WebConfig,
                 lab: bool = False) -> None:  # fmt: skip
        self.store = store
        self.inventory = inventory
        self.clock = clock
        self.config = config
        self.lab = lab
        """The remote actions target the lab copy of the sites (``fleet web --lab``)."""
        self.views = Views(store, inventory, clock, config.overview_ttl_s)
        self.env = _environment()
        self.languages = {code: load_language(code) for code in LANGUAGES}  # once per app
        self.env.globals.update(label=label, may=may, SEVERITIES=SEVERITIES, DeviceKind=DeviceKind)
        self.env.filters["sitetime"] = self._sitetime
        self.env.filters["pct"] = _pct
        self.env.filters["number"] = _number
        self.env.filters["ago"] = self._ago

    # ------------------------------------------------------------------ helpers -------

    def _sitetime(self, instant: datetime | None, site: Site | None = None, fmt: str | None = None) -> str:
        if instant is None:
            return "—"
        pattern = fmt or ("%d/%m/%Y %H:%M" if active().code == "fr" else "%Y-%m-%d %H:%M")
        if site is None:
            return instant.astimezone(UTC).strftime(pattern) + " UTC"
        return format_site_time(site, instant, pattern)

    def _ago(self, instant: datetime | None) -> str:
        if instant is None:
            return "—"
        seconds = int((self.clock() - instant).total_seconds())
        if seconds < 90:
            return ngettext("{n} second ago", "{n} seconds ago", max(seconds, 0)).format(n=max(seconds, 0))
        minutes = seconds // 60
        if minutes < 90:
            return ngettext("{n} minute ago", "{n} minutes ago", minutes).format(n=minutes)
        hours = minutes // 60
        if hours < 36:
            return ngettext("{n} hour ago", "{n} hours ago", hours).format(n=hours)
        days = hours // 24
        return ngettext("{n} day ago", "{n} days ago", days).format(n=days)

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        lang: str = request.state.lang
        sess: SessionView | None = getattr(request.state, "session", None)
        with use_language(self.languages.get(lang, lang)):
            base = {
                "request": request,
                "lang": lang,
                "languages": LANGUAGES,
                "user": sess.user if sess else None,
                "csrf": sess.csrf if sess else "",
                "now": self.clock(),
                "path": request.url.path,
                "lang_url": _lang_urls(request),
            }
            template = self.env.get_template(name)
            values = {**base, **context}
            if request.headers.get("x-relais-partial") == "1" and "live" in template.blocks:
                ctx = template.new_context(values)
                body = "".join(template.blocks["live"](ctx))
            else:
                body = template.render(values)
        response = HTMLResponse(body, status_code=status)
        response.headers["cache-control"] = "no-store"
        if getattr(request.state, "set_lang", False):
            _set_cookie(response, request, LANG_COOKIE, lang, max_age=365 * 86400, httponly=False)
        return response

    def site_or_none(self, site_id: str) -> Site | None:
        return self.views.sites.get(site_id)

    def audit(self, request: Request, sess: SessionView, action: str, target: str, outcome: str = "ok",
              text: str = "", detail: Mapping[str, Any] | None = None) -> int:  # fmt: skip
        return record_audit(self.store, at=self.clock(), user=sess.user.name, role=sess.user.role,
                            action=action, target=target, outcome=outcome, address=_client(request),
                            text=text, detail=detail)  # fmt: skip

    def housekeeping(self) -> None:
        now = self.clock()
        expire_acknowledgements(self.store, now)
        purge_sessions(self.store, at=now, idle=self.config.idle, max_age=self.config.max_age)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{decimal(value)} %"


def _number(value: float | None, digits: int = 1, trim: bool = False) -> str:
    return "—" if value is None else decimal(value, digits, trim=trim)


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None = None,
                httponly: bool = True, samesite: str = "lax") -> None:  # fmt: skip
    response.set_cookie(name, value, max_age=max_age, path="/", secure=_secure(request), httponly=httponly,
                        samesite=samesite)  # type: ignore[arg-type]  # fmt: skip


def _session_cookie_name(request: Request) -> str:
    return SECURE_SESSION_COOKIE if _secure(request) else SESSION_COOKIE


def _lang_urls(request: Request) -> dict[str, str]:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return {code: f"{request.url.path}?{urlencode([*params, ('lang', code)])}" for code in LANGUAGES}


def _choose_language(request: Request) -> tuple[str, bool]:
    """?lang= (remembered in a cookie) > cookie > Accept-Language > French."""
    asked = request.query_params.get("lang")
    if asked:
        with contextlib.suppress(FleetError):
            return parse_language(asked), True
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return str(cookie), False
    accept = request.headers.get("accept-language", "")
    first = accept.split(",")[0].split(";")[0].strip()
    if first:
        with contextlib.suppress(FleetError):
            return parse_language(first), False
    return "fr", False


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 12:
        return None
    return int(value.strip())


def _clip(value: str) -> str:
    return value.strip()[:MAX_TEXT]


def create_app(
    store: Store,
    inventory: Inventory,
    *,
    clock: Clock = system_clock,
    config: WebConfig | None = None,
    lab: bool = False,
) -> FastAPI:
    """The dashboard application for ``store`` and ``inventory``; ``lab``: the device page's
    remote actions reach the lab copy of the sites (``fleet web --lab``), else the real
    addresses."""
    cfg = config or WebConfig()
    dash = Dashboard(store, inventory, clock, cfg, lab=lab)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        if cfg.housekeeping_s > 0:

            async def loop() -> None:
                while True:
                    with contextlib.suppress(FleetError):
                        await asyncio.to_thread(dash.housekeeping)
                    await asyncio.sleep(cfg.housekeeping_s)

            task = asyncio.create_task(loop())
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="Relais — hotline dashboard", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)  # fmt: skip
    app.state.dashboard = dash
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # the hall screens' public page /screen/SITE (issue 17): no session, read-only
    app.include_router(screen_router(inventory, store))

    async def front_door(scope: Any, receive: Any, send: Any, inner: Any) -> None:
        """Language and session of the request, in ``request.state`` (plain ASGI: cheaper
        than a BaseHTTPMiddleware on every request)."""
        if scope["type"] == "http":
            request = Request(scope)
            lang, remember = _choose_language(request)
            state = scope.setdefault("state", {})
            state.update(lang=lang, set_lang=remember, session=None)
            token = request.cookies.get(_session_cookie_name(request))
            if token:
                state["session"] = await asyncio.to_thread(
                    session_of, store, token, at=clock(), idle=cfg.idle, max_age=cfg.max_age
                )
        await inner(scope, receive, send)

    # ---------------------------------------------------------------- error pages -----

    @app.exception_handler(NeedLogin)
    async def need_login(request: Request, _exc: NeedLogin) -> Response:
        if request.method == "GET" and not request.url.path.startswith("/api/"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return JSONResponse({"error": "login required"}, status_code=401)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        sess: SessionView | None = request.state.session
        if sess is not None and request.method == "POST":
            dash.audit(request, sess, exc.action, request.url.path, outcome="refused")
        return dash.render(request, "error.html", {"code": 403, "message": "forbidden"}, status=403)

    @app.exception_handler(BadForm)
    async def bad_form(request: Request, exc: BadForm) -> Response:
        context = {"code": exc.status, "message": exc.message}
        return dash.render(request, "error.html", context, status=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and request.state.session is None and not _public(request.url.path):
            return await need_login(request, NeedLogin())
        return dash.render(request, "error.html", {"code": exc.status_code, "message": "http"},
                           status=exc.status_code)  # fmt: skip

    @app.exception_handler(FleetError)
    async def fleet_error(request: Request, exc: FleetError) -> Response:
        return dash.render(request, "error.html", {"code": 409, "message": "engine", "detail": str(exc)},
                           status=409)  # fmt: skip

    # ----------------------------------------------------------------- guards ---------

    def user(request: Request, action: str = "view") -> SessionView:
        sess: SessionView | None = request.state.session
        if sess is None:
            raise NeedLogin()
        if not may(sess.user.role, action):
            raise Forbidden(action)
        return sess

    def posted(request: Request, csrf: str, action: str) -> SessionView:
        """A form post: a session, a valid CSRF token, then the role."""
        sess: SessionView | None = request.state.session
        if sess is None:
            raise NeedLogin()
        if not same_token(sess.csrf, csrf):
            dash.audit(request, sess, action, request.url.path, outcome="bad_csrf")
            raise BadForm("csrf", 403)
        if not may(sess.user.role, action):
            raise Forbidden(action)
        return sess

    # ----------------------------------------------------------------- public ---------

    @app.get("/healthz", response_class=JSONResponse)
    def healthz() -> JSONResponse:
        """Liveness and store reachability (no login)."""
        try:
            with store.read() as session:
                session.execute(text("SELECT 1"))
        except FleetError:
            return JSONResponse({"status": "store unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics_route() -> Response:
        """Prometheus metrics (no login; counts only, no names)."""
        body, content_type = metrics.exposition(dash.views, clock)
        return Response(body, media_type=content_type)

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:
        token = new_token()
        response = dash.render(request, "login.html", {"login_csrf": token, "next": _safe_next(next)})
        _set_cookie(response, request, LOGIN_CSRF_COOKIE, token, samesite="strict")
        return response

    @app.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        name: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE), csrf):
            raise BadForm("csrf", 403)
        error = None
        try:
            account = authenticate(store, name[:64], password[:1024], address=_client(request), at=clock())
        except LoginThrottled:
            error = "throttled"
        except LoginRefused:
            error = "refused"
        if error is not None:
            token = new_token()
            context = {"login_csrf": token, "next": _safe_next(next), "error": error, "name": name[:64]}
            page = dash.render(request, "login.html", context, status=401)
            _set_cookie(page, request, LOGIN_CSRF_COOKIE, token, samesite="strict")
            return page
        # a new session every time (no fixation): whatever session cookie came in is dropped
        old = request.cookies.get(_session_cookie_name(request))
        if old:
            end_session(store, old)
        token, _csrf = new_session(store, account, at=clock(), address=_client(request))
        record_audit(store, at=clock(), user=account.name, role=account.role, action="login",
                     address=_client(request))  # fmt: skip
        response = RedirectResponse(_safe_next(next), status_code=303)
        _set_cookie(response, request, _session_cookie_name(request), token)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    # ------------------------------------------------------------ signed-in pages -----

    @app.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        sess = posted(request, csrf, "view")
        token = request.cookies.get(_session_cookie_name(request), "")
        end_session(store, token)
        dash.audit(request, sess, "logout", "")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(_session_cookie_name(request), path="/")
        return response

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, page: int = Query(1, ge=1, le=100000), show: str = "all") -> Response:
        sess = user(request)
        ov = dash.views.overview()
        rows = [r for r in ov.rows if show != "problems" or r.css not in ("st-ok", "st-expected")]
        size = 100
        pages = max(1, (len(rows) + size - 1) // size)
        page = min(page, pages)
        shown = rows[(page - 1) * size : page * size]
        lang = request.state.lang
        map_svg = dash.views.fragment(("map", lang), lambda: _render_map(dash, ov, lang))
        return dash.render(request, "overview.html", {
            # the map was rendered by the same autoescaping environment: it is markup already
            "ov": ov, "rows": shown, "page": page, "pages": pages, "show": show,
            "map_svg": Markup(map_svg),  # noqa: S704
            "sess": sess, "total_rows": len(rows),
        })  # fmt: skip

    @app.get("/api/status", response_class=JSONResponse)
    def api_status(request: Request) -> JSONResponse:
        """Every site's status, as ``fleet status --json`` prints it (same function)."""
        user(request)
        ov = dash.views.overview()
        return JSONResponse([{k: v for k, v in s.to_json().items() if k != "devices"} for s in ov.statuses])

    @app.get("/api/status/{site_id}", response_class=JSONResponse)
    def api_site_status(request: Request, site_id: str) -> JSONResponse:
        """One site's status, as ``fleet status SITE --json`` prints it."""
        user(request)
        site = dash.site_or_none(site_id)
        if site is None:
            return JSONResponse({"error": "unknown site"}, status_code=404)
        [s] = site_status(store, [site], clock())
        return JSONResponse(site_json(s, site))

    @app.get("/sites/{site_id}", response_class=HTMLResponse)
    def site_page(request: Request, site_id: str) -> Response:
        sess = user(request)
        site = dash.site_or_none(site_id)
        if site is None:
            raise StarletteHTTPException(404)
        now = clock()
        [status] = site_status(store, [site], now)
        deploys = list_deploys(store, site.id, limit=1)
        week = _week(site, now)
        return dash.render(request, "site.html", {
            "site": site, "status": status, "hours": open_now(site, now), "week": week,
            "closures": _closures(site, now), "deploy": deploys[0] if deploys else None,
            "avail7": dash.views.availability(site, 7), "avail30": dash.views.availability(site, 30),
            "windows": dash.views.windows_of(site, now), "sess": sess, "css": _site_css(status),
        })  # fmt: skip

    @app.get("/devices/{hostname}", response_class=HTMLResponse)
    def device_page(request: Request, hostname: str, range: str = "24h", acted: str = "") -> Response:
        sess = user(request)
        device = dash.views.devices.get(hostname)
        if device is None:
            raise StarletteHTTPException(404)
        return _device(request, sess, device, range=range, acted=_int(acted))

    def _device(request: Request, sess: SessionView, device: Device, *, range: str = "24h",
                acted: int | None = None, error: str = "", status: int = 200) -> Response:  # fmt: skip
        hostname = device.hostname
        site = dash.views.sites[device.site_id]
        now = clock()
        span = timedelta(days=7) if range == "7d" else timedelta(hours=24)
        detail = device_detail(store, site, device, now)
        history, _next = page_incidents(store, devices=[hostname], statuses=None, limit=20)
        windows = [w for w in dash.views.windows_of(site, now) if w.device in (None, hostname)]
        result = audit_entry(store, acted) if acted is not None else None
        if result is not None and (result.user != sess.user.name or result.target != f"device:{hostname}"
                                   or not result.action.startswith("device.act.")):  # fmt: skip
            result = None  # only one's own result, about this device
        return dash.render(request, "device.html", {
            "site": site, "device": device, "detail": detail, "history": history,
            "health": dash.views.health(device, now - span, now), "range": "7d" if range == "7d" else "24h",
            "start": now - span, "windows": windows, "sess": sess,
            "remote": remote_actions(device, sess.user.role), "result": result, "act_error": error,
            "lab": dash.lab,
        }, status=status)  # fmt: skip

    @app.post("/devices/{hostname}/act")
    def device_act(
        request: Request, hostname: str, csrf: Text = "", action: Text = "", argument: Text = "",
        force: Text = "", confirm: Text = "",
    ) -> Response:  # fmt: skip
        """Run one remote action on this device: the function ``fleet act`` calls, with the
        account's name and role (the same matrix), recorded by it, audited here; then back to
        the device page, which shows the result (post/redirect/get)."""
        name = action if action in REMOTE_ACTIONS else ""
        sess = posted(request, csrf, f"device.act.{name}" if name else "view")
        device = dash.views.devices.get(hostname)
        if device is None:
            raise StarletteHTTPException(404)
        if not name:
            raise BadForm("invalid")
        forced = force == "1"
        if forced and not may(sess.user.role, "device.act.reboot.force"):
            raise Forbidden("device.act.reboot.force")
        arg = argument.strip()[:64] or None
        where = f"device:{hostname}"
        asked = {"argument": arg, "force": forced, "lab": dash.lab}
        if REMOTE_ACTIONS[name].spec.confirm and confirm != "1":  # as `fleet act` without --yes
            return _device(request, sess, device, error="confirm", status=400)
        try:
            report = run_action(dash.inventory, name, hostname, store=store, actor=sess.user.name,
                                role=sess.user.role, argument=arg, lab=dash.lab, force=forced,
                                clock=clock)  # fmt: skip
        except PermissionDenied as exc:  # the engine's own check (the same matrix): audited as refused
            raise Forbidden(f"device.act.{name}") from exc
        except FleetError as exc:
            why = " ".join(str(exc).split())[:400]
            dash.audit(request, sess, f"device.act.{name}", where, outcome="error", text=why, detail=asked)
            return _device(request, sess, device, error=why, status=409)
        what = name + (f" {arg}" if arg else "")
        entry = dash.audit(request, sess, f"device.act.{name}", where,
                           outcome="ok" if report.ok else "failed", text=what,
                           detail={**asked, **report.to_json()})  # fmt: skip
        return RedirectResponse(f"/devices/{quote(hostname, safe='')}?acted={entry}#act-result",
                                status_code=303)  # fmt: skip

    @app.get("/incidents", response_class=HTMLResponse)
    def incidents_page(
        request: Request,
        site: str = "",
        kind: str = "",
        severity: str = "",
        status: str = "open",
        age: str = "",
        before: str = "",
    ) -> Response:
        sess = user(request)
        now = clock()
        statuses: tuple[str, ...] | None = OPEN
        if status == "all":
            statuses = None
        elif status in STATUS_FILTERS:
            statuses = (status,) if status != "open" else OPEN
        devices = None
        if kind in {k.value for k in DeviceKind}:
            devices = [d.hostname for d in dash.inventory.devices if d.kind.value == kind]
        after_delta, before_delta = AGES.get(age, (None, None))
        rows, more = page_incidents(
            store,
            site_id=site.strip() or None,
            devices=devices,
            severities=(severity,) if severity in SEVERITIES else None,
            statuses=statuses,
            opened_after=now - after_delta if after_delta else None,
            opened_before=now - before_delta if before_delta else None,
            before_id=_int(before),
            limit=cfg.page_size,
        )
        filters = {"site": site.strip(), "kind": kind, "severity": severity, "status": status, "age": age}
        next_url = None
        if more is not None:
            next_url = "/incidents?" + urlencode({**{k: v for k, v in filters.items() if v}, "before": more})
        first_url = "/incidents?" + urlencode({k: v for k, v in filters.items() if v})
        return dash.render(request, "incidents.html", {
            "rows": rows, "filters": filters, "next_url": next_url, "first_url": first_url,
            "paged": bool(before), "sites": dash.views.sites, "sess": sess, "statuses": STATUS_FILTERS,
            "ages": tuple(AGES),
        })  # fmt: skip

    @app.get("/incidents/{incident_id}", response_class=HTMLResponse)
    def incident_page(request: Request, incident_id: Id, done: str = "") -> Response:
        sess = user(request)
        try:
            inc = get_incident(store, incident_id)
        except IncidentError:
            raise StarletteHTTPException(404) from None
        return _incident(request, sess, inc, done=done)

    def _incident(request: Request, sess: SessionView, inc: Any, *, done: str = "", error: str = "",
                  status: int = 200) -> Response:  # fmt: skip
        site = dash.site_or_none(inc.site_id)
        handoff = entries_of(store, inc.id)
        refs = {ch: queue_ref(store, inc.id, ch) for ch in sorted({e.channel for e in handoff})}
        return dash.render(request, "incident.html", {
            "inc": inc, "site": site, "device": dash.views.devices.get(inc.device), "handoff": handoff,
            "refs": refs, "done": done if done in _DONE else "", "error": error, "sess": sess,
            "ack_for": tuple(ACK_FOR),
        }, status=status)  # fmt: skip

    def _act(request: Request, sess: SessionView, incident_id: Id, action: str, run: Callable[[], None],
             done: str, text: str = "", detail: Mapping[str, Any] | None = None) -> Response:  # fmt: skip
        try:
            run()
        except IncidentError as exc:
            dash.audit(request, sess, action, f"incident:{incident_id}", outcome="error", text=str(exc))
            try:
                inc = get_incident(store, incident_id)
            except IncidentError:
                raise StarletteHTTPException(404) from None
            return _incident(request, sess, inc, error=str(exc), status=409)
        dash.audit(request, sess, action, f"incident:{incident_id}", text=text, detail=detail)
        return RedirectResponse(f"/incidents/{incident_id}?done={done}", status_code=303)

    @app.post("/incidents/{incident_id}/acknowledge")
    def incident_acknowledge(
        request: Request, incident_id: Id, csrf: Annotated[str, Form()] = "",
        text: Annotated[str, Form()] = "", expires: Annotated[str, Form()] = "",
    ) -> Response:  # fmt: skip
        sess = posted(request, csrf, "incident.acknowledge")
        now = clock()
        if expires and expires not in ACK_FOR:
            raise BadForm("invalid")
        until = now + ACK_FOR[expires] if expires else None
        return _act(request, sess, incident_id, "incident.acknowledge",
                    lambda: acknowledge(store, incident_id, who=sess.user.name, at=now, text=_clip(text),
                                        until=until),
                    "acknowledged", _clip(text), {"until": until.isoformat() if until else None})  # fmt: skip

    @app.post("/incidents/{incident_id}/note")
    def incident_note(request: Request, incident_id: Id, csrf: Text = "", text: Text = "") -> Response:
        sess = posted(request, csrf, "incident.note")
        if not text.strip():
            raise BadForm("empty")
        return _act(request, sess, incident_id, "incident.note",
                    lambda: note(store, incident_id, who=sess.user.name, text=_clip(text), at=clock()),
                    "noted", _clip(text))  # fmt: skip

    @app.post("/incidents/{incident_id}/assign")
    def incident_assign(request: Request, incident_id: Id, csrf: Text = "", text: Text = "") -> Response:
        sess = posted(request, csrf, "incident.assign")
        try:
            inc = get_incident(store, incident_id)
        except IncidentError:
            raise StarletteHTTPException(404) from None
        site = dash.site_or_none(inc.site_id)
        if site is None:
            raise BadForm("nosite", 409)
        supplier = site.sav
        return _act(request, sess, incident_id, "incident.assign",
                    lambda: assign(store, incident_id, to=supplier, who=sess.user.name, at=clock(),
                                   text=_clip(text)),
                    "assigned", _clip(text), {"to": supplier.name})  # fmt: skip

    @app.post("/incidents/{incident_id}/resolve")
    def incident_resolve(request: Request, incident_id: Id, csrf: Text = "", text: Text = "") -> Response:
        sess = posted(request, csrf, "incident.resolve")
        return _act(request, sess, incident_id, "incident.resolve",
                    lambda: resolve(store, incident_id, who=sess.user.name, at=clock(), text=_clip(text)),
                    "resolved", _clip(text))  # fmt: skip

    @app.post("/incidents/{incident_id}/close")
    def incident_close(request: Request, incident_id: Id, csrf: Text = "", text: Text = "") -> Response:
        sess = posted(request, csrf, "incident.close")
        return _act(request, sess, incident_id, "incident.close",
                    lambda: close(store, incident_id, who=sess.user.name, at=clock(), text=_clip(text)),
                    "closed", _clip(text))  # fmt: skip

    @app.get("/maintenance", response_class=HTMLResponse)
    def maintenance_page(request: Request, target: str = "", done: str = "") -> Response:
        sess = user(request)
        return _maintenance(request, sess, {"target": target.strip()[:128]}, done=done)

    def _maintenance(request: Request, sess: SessionView, form: Mapping[str, Any], *, done: str = "",
                     error: str = "", status: int = 200) -> Response:  # fmt: skip
        now = clock()
        windows = list_windows(store, at=now)
        return dash.render(request, "maintenance.html", {
            "windows": windows[:200], "more": len(windows) > 200, "form": form, "error": error,
            "done": done if done in _DONE else "", "sess": sess, "sites": dash.views.sites,
            "devices": dash.views.devices, "weekdays": WEEKDAYS,
        }, status=status)  # fmt: skip

    @app.post("/maintenance")
    def maintenance_add(
        request: Request,
        csrf: Annotated[str, Form()] = "",
        target: Annotated[str, Form()] = "",
        start: Annotated[str, Form()] = "",
        end: Annotated[str, Form()] = "",
        why: Annotated[str, Form()] = "",
        weekly: Annotated[str, Form()] = "",
        until: Annotated[str, Form()] = "",
    ) -> Response:
        sess = posted(request, csrf, "maintenance.add")
        form = {"target": target.strip()[:128], "start": start[:32], "end": end[:32], "why": why[:MAX_TEXT],
                "weekly": bool(weekly), "until": until[:32]}  # fmt: skip
        name = target.strip()[:128]
        site = dash.site_or_none(name)
        device = dash.views.devices.get(name)
        if site is None and device is None:
            return _maintenance(request, sess, form, error="target", status=400)
        tz_site = site if site is not None else dash.views.sites[device.site_id] if device else None
        assert tz_site is not None
        try:
            begin = site_instant(tz_site, datetime.fromisoformat(start))
            stop = site_instant(tz_site, datetime.fromisoformat(end))
            repeat = (site_instant(tz_site, datetime.fromisoformat(until + "T23:59"))
                      if weekly and until else None)  # fmt: skip
        except ValueError:
            return _maintenance(request, sess, form, error="dates", status=400)
        if stop <= begin:
            return _maintenance(request, sess, form, error="order", status=400)
        if not why.strip():
            return _maintenance(request, sess, form, error="why", status=400)
        try:
            window = add_window(
                store, start=begin, end=stop, who=sess.user.name, why=_clip(why), now=clock(),
                site_id=site.id if site is not None else None,
                device=device.hostname if site is None and device is not None else None,
                weekly=bool(weekly), repeat_until=repeat, timezone=tz_site.timezone if weekly else None,
            )  # fmt: skip
        except IncidentError as exc:
            return _maintenance(request, sess, form, error="engine", status=400) if not str(exc) else \
                _maintenance(request, sess, {**form, "detail": str(exc)}, error="engine", status=400)
        dash.audit(request, sess, "maintenance.add", f"maintenance:{window.id}", text=window.why,
                   detail=window.to_json())  # fmt: skip
        return RedirectResponse("/maintenance?done=planned", status_code=303)

    @app.post("/maintenance/{window_id}/end")
    def maintenance_end(request: Request, window_id: Id, csrf: Annotated[str, Form()] = "") -> Response:
        sess = posted(request, csrf, "maintenance.end")
        try:
            end_window(store, window_id, at=clock())
        except IncidentError:
            return _maintenance(request, sess, {}, error="ended", status=409)
        dash.audit(request, sess, "maintenance.end", f"maintenance:{window_id}")
        return RedirectResponse("/maintenance?done=ended", status_code=303)

    @app.get("/search", response_class=HTMLResponse)
    def search_page(request: Request, q: str = "") -> Response:
        sess = user(request)
        query = q.strip()[:200]
        found = dash.inventory.search(query) if query else None
        incident = None
        digits = query.lstrip("#")
        if digits.isdigit() and len(digits) < 12:
            with contextlib.suppress(IncidentError):
                incident = get_incident(store, int(digits))
        return dash.render(request, "search.html", {
            "q": query, "sites": found.sites[:50] if found else (),
            "devices": found.devices[:50] if found else (),
            "more_sites": len(found.sites) > 50 if found else False,
            "more_devices": len(found.devices) > 50 if found else False,
            "incident": incident, "sess": sess, "site_of": dash.views.sites,
        })  # fmt: skip

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, before: str = "") -> Response:
        sess = user(request, "audit.view")
        rows = list_audit(store, limit=101, before=_int(before))
        more = rows[99].id if len(rows) > 100 else None
        return dash.render(request, "audit.html", {"rows": rows[:100], "more": more, "sess": sess})

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        user(request)
        return JSONResponse(app.openapi())

    app.add_middleware(FrontDoor, handler=front_door)
    # outermost (added last): the scheme and client address every other layer sees
    app.add_middleware(ProxyHeaders, proxies=cfg.trusted_proxies)
    return app


class FrontDoor:
    """ASGI middleware calling ``handler(scope, receive, send, inner_app)``."""

    def __init__(self, app: Any, handler: Callable[..., Any]) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.handler(scope, receive, send, self.app)


_DONE = frozenset({"acknowledged", "noted", "assigned", "resolved", "closed", "planned", "ended"})


def remote_actions(device: Device, role: str) -> list[dict[str, Any]]:
    """The remote actions the device page offers: those of the device's kind that ``role`` may
    run (the matrix of ``fleet act``), with the choices of their argument and whether the role
    may force a reboot."""
    out = []
    for name, action in REMOTE_ACTIONS.items():
        spec = action.spec
        if device.kind not in spec.kinds or not may(role, f"device.act.{name}"):
            continue
        out.append({
            "name": name, "argument": spec.argument, "confirm": spec.confirm,
            "choices": sorted(RESTARTABLE.get(device.kind, {})) if spec.argument else [],
            "force": name == "reboot" and may(role, "device.act.reboot.force"),
        })  # fmt: skip
    return out


def _safe_next(value: str) -> str:
    """Only a path of this site (never ``//evil``, never a full URL) may follow the login."""
    return value if _SAFE_NEXT.match(value or "") and len(value) < 512 else "/"


def _public(path: str) -> bool:
    return path in PUBLIC or path.startswith(("/static/", "/screen/"))


def _site_css(status: Any) -> str:
    from fleet.web.views import site_class

    return site_class(status)


def _week(site: Site, now: datetime) -> list[dict[str, Any]]:
    """This week (Monday to Sunday, site-local) with its ranges and closures."""
    local = now.astimezone(site.tz).date()
    monday = local - timedelta(days=local.weekday())
    ranges = describe_week(site)
    days = []
    for i, code in enumerate(WEEKDAYS):
        day = monday + timedelta(days=i)
        closure = next((c for c in site.hours.closures if c.start <= day.isoformat() <= c.end), None)
        days.append({"code": code, "date": day, "ranges": ranges.get(code, []), "closure": closure,
                     "today": day == local})  # fmt: skip
    return days


def _closures(site: Site, now: datetime) -> list[Any]:
    today = now.astimezone(site.tz).date().isoformat()
    return [c for c in site.hours.closures if c.end >= today][:10]


def _render_map(dash: Dashboard, ov: Any, lang: str) -> str:
    with use_language(dash.languages.get(lang, lang)):
        return dash.env.get_template("_map.html").render({"m": ov.map, "rows": ov.rows})
