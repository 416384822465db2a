"""GLPI connectors: the same small set of operations over API v1 and API v2 (httpx).

:class:`GlpiV1` speaks ``apirest.php`` (``initSession`` with ``App-Token`` and
``Authorization: user_token ...``, ``killSession`` at the end; ``session_write=true`` on the
calls that write); :class:`GlpiV2` speaks GLPI 11's ``api.php`` (OAuth2 password grant on
``/api.php/token``, ``Authorization: Bearer``; resources under ``/api.php/v2``).  Both are
read apart from write: ``find_*``/``ticket_*``/``followups``/``solutions`` only look; the verbs
(``create_ticket``, ``add_followup``, ``assign_supplier``...) change GLPI.  The idempotent
delivery built on them is :mod:`fleet.handoff.tickets`.

Errors (see :mod:`fleet.handoff.errors`): a timeout, a connection error, 5xx, 408 and 429 are
transient; a rejected session (v1 ``ERROR_SESSION_TOKEN_INVALID``, v2 401) is re-opened once
and the call repeated, and a second rejection is a :class:`ChannelError` — never a loop; other
4xx are :class:`RefusedError` with GLPI's own message.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from fleet.handoff.config import GlpiConfig
from fleet.handoff.errors import ChannelError, RefusedError, TransientError
from fleet.handoff.models import (
    V1Created,
    V1ItemTicket,
    V1ItemTicketInput,
    V1Named,
    V1Session,
    V1SolutionInput,
    V1StatusInput,
    V1SupplierTicket,
    V1SupplierTicketInput,
    V1Ticket,
    V1TicketInput,
    V1TimelineInput,
    V1TimelineItem,
    V2Created,
    V2Named,
    V2SolutionInput,
    V2StatusPatch,
    V2TeamMember,
    V2TeamMemberInput,
    V2Ticket,
    V2TicketInput,
    V2TimelineInput,
    V2TimelineItem,
    V2Token,
)

M = TypeVar("M", bound=BaseModel)
LIST_RANGE = "0-999"
USER_AGENT = "Relais-fleet (SAV hand-off)"


@dataclass(frozen=True, slots=True)
class NewTicket:
    key: str
    """Our incident's key (``relais-<instance>-<id>``): ``external_id``, and in the name."""
    name: str
    content: str
    urgency: int
    impact: int


@dataclass(frozen=True, slots=True)
class FoundTicket:
    id: int
    name: str
    status: int


class GlpiApi(Protocol):
    """What the hand-off needs from GLPI, whatever the API version."""

    version: str
    supports_items: bool

    def find_ticket(self, key: str) -> FoundTicket | None: ...
    def get_ticket(self, ticket: int) -> FoundTicket: ...
    def create_ticket(self, ticket: NewTicket) -> int: ...
    def set_status(self, ticket: int, status: int) -> None: ...
    def followups(self, ticket: int) -> list[str]: ...
    def add_followup(self, ticket: int, content: str) -> int: ...
    def solutions(self, ticket: int) -> list[str]: ...
    def add_solution(self, ticket: int, content: str) -> int: ...
    def find_supplier(self, name: str) -> int | None: ...
    def ticket_suppliers(self, ticket: int) -> set[int]: ...
    def assign_supplier(self, ticket: int, supplier: int) -> None: ...
    def find_asset(self, itemtype: str, name: str, serial: str | None) -> int | None: ...
    def ticket_items(self, ticket: int) -> set[tuple[str, int]]: ...
    def link_item(self, ticket: int, itemtype: str, item: int) -> None: ...
    def close(self) -> None: ...


def connect(cfg: GlpiConfig, transport: httpx.BaseTransport | None = None) -> GlpiApi:
    """The connector for the configured API version (nothing is sent until first use)."""
    return GlpiV1(cfg, transport) if cfg.api == "v1" else GlpiV2(cfg, transport)


def _error_text(resp: httpx.Response) -> str:
    """GLPI's own error: v1 answers ``["ERROR_X", "message"]``, v2 ``{status, title, detail}``."""
    try:
        body = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = " ".join(resp.text.split())
        return text[:200] or resp.reason_phrase
    if isinstance(body, list) and body:
        return ": ".join(str(x) for x in body[:2])
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("status", "title", "detail", "error", "message") if body.get(k)]
        extra = body.get("additional_messages")
        if isinstance(extra, list):
            parts += [str(m.get("message", m)) if isinstance(m, dict) else str(m) for m in extra[:3]]
        if parts:
            return " — ".join(parts)
    return str(body)[:200]


class _Http:
    """The HTTP part both versions share: one httpx client, errors mapped at this boundary."""

    version = ""

    def __init__(self, cfg: GlpiConfig, transport: httpx.BaseTransport | None) -> None:
        self.cfg = cfg
        verify: Any = str(cfg.ca_file) if cfg.ca_file else True
        self.client = httpx.Client(
            timeout=cfg.timeout,
            verify=verify,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        what = f"GLPI {self.version} {method} {url.split('?', maxsplit=1)[0].removeprefix(self.cfg.url)}"
        try:
            return self.client.request(
                method, url, headers=headers, params=params, json=json_body, data=form
            )
        except httpx.TimeoutException as exc:
            raise TransientError(f"{what}: no answer within {self.cfg.timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"{what}: {exc.__class__.__name__}: {exc}") from exc

    def check(self, resp: httpx.Response, what: str) -> httpx.Response:
        code = resp.status_code
        if code < 300:
            return resp
        detail = f"GLPI {self.version} {what}: HTTP {code} {_error_text(resp)}"
        if code >= 500 or code in (408, 425, 429):
            raise TransientError(detail)
        if code in (301, 302, 303, 307, 308):
            where = resp.headers.get("location", "?")
            raise ChannelError(f"{detail} (redirected to {where}: check FLEET_GLPI_URL)")
        raise RefusedError(detail)

    def parse(self, resp: httpx.Response, model: type[M], what: str) -> M:
        try:
            return model.model_validate(resp.json())
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
            raise TransientError(
                f"GLPI {self.version} {what}: unexpected answer ({exc.__class__.__name__}): "
                f"{' '.join(resp.text.split())[:160]}"
            ) from exc

    def parse_list(self, resp: httpx.Response, model: type[M], what: str) -> list[M]:
        try:
            body = resp.json()
            if isinstance(body, dict) and "data" in body:
                body = body["data"]
            if body is None:
                return []
            if not isinstance(body, list):
                raise TypeError(f"expected a list, got {type(body).__name__}")
            return [model.model_validate(x) for x in body]
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError, TypeError) as exc:
            raise TransientError(
                f"GLPI {self.version} {what}: unexpected answer ({exc.__class__.__name__}): "
                f"{' '.join(resp.text.split())[:160]}"
            ) from exc

    def close(self) -> None:
        self.client.close()


# ---------------------------------------------------------------------------------- v1 -----


class GlpiV1(_Http):
    """GLPI's legacy REST API, ``apirest.php``."""

    version = "v1"
    supports_items = True

    def __init__(self, cfg: GlpiConfig, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(cfg, transport)
        self.base = f"{cfg.url}/apirest.php"
        self.session: str | None = None

    def _auth_headers(self) -> dict[str, str]:
        headers = {}
        if self.cfg.app_token is not None:
            headers["App-Token"] = self.cfg.app_token.get_secret_value()
        return headers

    def _init_session(self) -> str:
        assert self.cfg.user_token is not None  # checked by load_config
        headers = {
            **self._auth_headers(),
            "Authorization": f"user_token {self.cfg.user_token.get_secret_value()}",
        }
        resp = self.send("GET", f"{self.base}/initSession", headers=headers)
        if resp.status_code >= 500:
            self.check(resp, "initSession")
        if resp.status_code >= 300:
            raise ChannelError(f"GLPI v1 initSession refused: HTTP {resp.status_code} {_error_text(resp)}")
        self.session = self.parse(resp, V1Session, "initSession").session_token
        return self.session

    @staticmethod
    def _session_rejected(resp: httpx.Response) -> bool:
        return resp.status_code == 401 and "ERROR_SESSION_TOKEN_INVALID" in resp.text

    def call(self, method: str, path: str, *, params: Any = None, body: Any = None) -> httpx.Response:
        """One call with the session; a rejected session is re-opened once, then it fails."""
        what = f"{method} {path}"
        write = method in ("POST", "PUT", "PATCH", "DELETE")
        query = dict(params or {})
        if write:
            query["session_write"] = "true"
        for attempt in (1, 2):
            token = self.session or self._init_session()
            headers = {**self._auth_headers(), "Session-Token": token, "Content-Type": "application/json"}
            resp = self.send(method, f"{self.base}/{path}", headers=headers, params=query or None,
                             json_body=body)  # fmt: skip
            if not self._session_rejected(resp):
                return self.check(resp, what)
            self.session = None
            if attempt == 2:
                raise ChannelError(
                    f"GLPI v1 {what}: session rejected again right after a new one "
                    f"({_error_text(resp)}); not retrying now"
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _created(self, resp: httpx.Response, what: str) -> int:
        body = resp.json() if resp.content else None
        if isinstance(body, list) and body:  # some versions answer a list for one input
            body = body[0]
        try:
            created = V1Created.model_validate(body)
        except ValidationError as exc:
            raise TransientError(f"GLPI v1 {what}: unexpected answer: {resp.text[:160]}") from exc
        return created.id

    def find_ticket(self, key: str) -> FoundTicket | None:
        resp = self.call("GET", "Ticket", params={"searchText[name]": f"[{key}]", "range": LIST_RANGE,
                                                  "is_deleted": 0})  # fmt: skip
        for t in self.parse_list(resp, V1Ticket, "GET Ticket"):
            if f"[{key}]" in t.name or t.externalid == key:
                return FoundTicket(t.id, t.name, t.status)
        return None

    def get_ticket(self, ticket: int) -> FoundTicket:
        t = self.parse(self.call("GET", f"Ticket/{ticket}"), V1Ticket, f"GET Ticket/{ticket}")
        return FoundTicket(t.id, t.name, t.status)

    def create_ticket(self, ticket: NewTicket) -> int:
        payload = V1TicketInput(name=ticket.name, content=ticket.content, urgency=ticket.urgency,
                                impact=ticket.impact, externalid=ticket.key)  # fmt: skip
        resp = self.call("POST", "Ticket", body={"input": payload.model_dump()})
        return self._created(resp, "POST Ticket")

    def set_status(self, ticket: int, status: int) -> None:
        self.call("PUT", f"Ticket/{ticket}", body={"input": V1StatusInput(status=status).model_dump()})

    def _timeline(self, ticket: int, sub: str) -> list[str]:
        resp = self.call("GET", f"Ticket/{ticket}/{sub}", params={"range": LIST_RANGE})
        return [x.content for x in self.parse_list(resp, V1TimelineItem, f"GET Ticket/{ticket}/{sub}")]

    def followups(self, ticket: int) -> list[str]:
        return self._timeline(ticket, "ITILFollowup")

    def add_followup(self, ticket: int, content: str) -> int:
        payload = V1TimelineInput(items_id=ticket, content=content)
        return self._created(self.call("POST", "ITILFollowup", body={"input": payload.model_dump()}),
                             "POST ITILFollowup")  # fmt: skip

    def solutions(self, ticket: int) -> list[str]:
        return self._timeline(ticket, "ITILSolution")

    def add_solution(self, ticket: int, content: str) -> int:
        payload = V1SolutionInput(items_id=ticket, content=content)
        return self._created(self.call("POST", "ITILSolution", body={"input": payload.model_dump()}),
                             "POST ITILSolution")  # fmt: skip

    def _find(self, itemtype: str, field: str, value: str) -> list[V1Named]:
        resp = self.call("GET", itemtype, params={f"searchText[{field}]": value, "range": LIST_RANGE})
        return self.parse_list(resp, V1Named, f"GET {itemtype}")

    def find_supplier(self, name: str) -> int | None:
        for s in self._find("Supplier", "name", name):
            if (s.name or "").strip().casefold() == name.strip().casefold():
                return s.id
        return None

    def ticket_suppliers(self, ticket: int) -> set[int]:
        resp = self.call("GET", f"Ticket/{ticket}/Supplier_Ticket", params={"range": LIST_RANGE})
        rows = self.parse_list(resp, V1SupplierTicket, f"GET Ticket/{ticket}/Supplier_Ticket")
        return {r.suppliers_id for r in rows if r.type == 2}

    def assign_supplier(self, ticket: int, supplier: int) -> None:
        payload = V1SupplierTicketInput(tickets_id=ticket, suppliers_id=supplier)
        self.call("POST", "Supplier_Ticket", body={"input": payload.model_dump()})

    def find_asset(self, itemtype: str, name: str, serial: str | None) -> int | None:
        if serial:
            for a in self._find(itemtype, "serial", serial):
                if (a.serial or "").strip().casefold() == serial.strip().casefold():
                    return a.id
        for a in self._find(itemtype, "name", name):
            if (a.name or "").strip().casefold() == name.strip().casefold():
                return a.id
        return None

    def ticket_items(self, ticket: int) -> set[tuple[str, int]]:
        resp = self.call("GET", f"Ticket/{ticket}/Item_Ticket", params={"range": LIST_RANGE})
        return {(r.itemtype, r.items_id)
                for r in self.parse_list(resp, V1ItemTicket, f"GET Ticket/{ticket}/Item_Ticket")}  # fmt: skip

    def link_item(self, ticket: int, itemtype: str, item: int) -> None:
        payload = V1ItemTicketInput(tickets_id=ticket, itemtype=itemtype, items_id=item)
        self.call("POST", "Item_Ticket", body={"input": payload.model_dump()})

    def close(self) -> None:
        if self.session is not None:
            with contextlib.suppress(TransientError):  # else the session expires by itself
                self.send("GET", f"{self.base}/killSession",
                          headers={**self._auth_headers(), "Session-Token": self.session})  # fmt: skip
            self.session = None
        super().close()


# ---------------------------------------------------------------------------------- v2 -----


def _rsql(value: str) -> str:
    """A quoted RSQL value (``name=="Lozère SAV (48)"``)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class GlpiV2(_Http):
    """GLPI 11's high-level API, ``api.php`` (OAuth2)."""

    version = "v2"
    supports_items = False  # the HL API of GLPI 11 has no route to link an asset to a ticket

    def __init__(self, cfg: GlpiConfig, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(cfg, transport)
        self.base = f"{cfg.url}/api.php/v2"
        self.token: str | None = None

    def _authenticate(self) -> str:
        assert self.cfg.client_secret is not None and self.cfg.password is not None  # load_config
        form = {
            "grant_type": "password",
            "client_id": self.cfg.client_id or "",
            "client_secret": self.cfg.client_secret.get_secret_value(),
            "username": self.cfg.username or "",
            "password": self.cfg.password.get_secret_value(),
            "scope": "api",
        }
        resp = self.send("POST", f"{self.cfg.url}/api.php/token", form=form)
        if resp.status_code >= 500:
            self.check(resp, "POST /token")
        if resp.status_code >= 300:
            raise ChannelError(f"GLPI v2 token refused: HTTP {resp.status_code} {_error_text(resp)}")
        self.token = self.parse(resp, V2Token, "POST /token").access_token
        return self.token

    def call(self, method: str, path: str, *, params: Any = None, body: Any = None) -> httpx.Response:
        """One call with the bearer token; an expired token is renewed once, then it fails."""
        what = f"{method} /{path}"
        for attempt in (1, 2):
            token = self.token or self._authenticate()
            headers = {"Authorization": f"Bearer {token}"}
            resp = self.send(method, f"{self.base}/{path}", headers=headers, params=params, json_body=body)
            if resp.status_code != 401:
                return self.check(resp, what)
            self.token = None
            if attempt == 2:
                raise ChannelError(
                    f"GLPI v2 {what}: token rejected again right after a new one "
                    f"({_error_text(resp)}); not retrying now"
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def find_ticket(self, key: str) -> FoundTicket | None:
        resp = self.call("GET", "Assistance/Ticket", params={"filter": f"external_id=={_rsql(key)}",
                                                              "limit": 100})  # fmt: skip
        for t in self.parse_list(resp, V2Ticket, "GET /Assistance/Ticket"):
            if t.external_id == key or f"[{key}]" in t.name:
                return FoundTicket(t.id, t.name, t.status.id if t.status else 1)
        return None

    def get_ticket(self, ticket: int) -> FoundTicket:
        what = f"GET /Assistance/Ticket/{ticket}"
        t = self.parse(self.call("GET", f"Assistance/Ticket/{ticket}"), V2Ticket, what)
        return FoundTicket(t.id, t.name, t.status.id if t.status else 1)

    def create_ticket(self, ticket: NewTicket) -> int:
        payload = V2TicketInput(name=ticket.name, content=ticket.content, urgency=ticket.urgency,
                                impact=ticket.impact, external_id=ticket.key)  # fmt: skip
        resp = self.call("POST", "Assistance/Ticket", body=payload.model_dump())
        return self.parse(resp, V2Created, "POST /Assistance/Ticket").id

    def set_status(self, ticket: int, status: int) -> None:
        self.call("PATCH", f"Assistance/Ticket/{ticket}", body=V2StatusPatch(status=status).model_dump())

    def _timeline(self, ticket: int, sub: str) -> list[str]:
        path = f"Assistance/Ticket/{ticket}/Timeline/{sub}"
        return [x.content for x in self.parse_list(self.call("GET", path), V2TimelineItem, f"GET /{path}")]

    def followups(self, ticket: int) -> list[str]:
        return self._timeline(ticket, "Followup")

    def add_followup(self, ticket: int, content: str) -> int:
        path = f"Assistance/Ticket/{ticket}/Timeline/Followup"
        resp = self.call("POST", path, body=V2TimelineInput(content=content).model_dump())
        return self.parse(resp, V2Created, f"POST /{path}").id

    def solutions(self, ticket: int) -> list[str]:
        return self._timeline(ticket, "Solution")

    def add_solution(self, ticket: int, content: str) -> int:
        path = f"Assistance/Ticket/{ticket}/Timeline/Solution"
        resp = self.call("POST", path, body=V2SolutionInput(content=content).model_dump())
        return self.parse(resp, V2Created, f"POST /{path}").id

    def find_supplier(self, name: str) -> int | None:
        params = {"filter": f"name=={_rsql(name)}", "limit": 100}
        resp = self.call("GET", "Management/Supplier", params=params)
        for s in self.parse_list(resp, V2Named, "GET /Management/Supplier"):
            if (s.name or "").strip().casefold() == name.strip().casefold():
                return s.id
        return None

    def ticket_suppliers(self, ticket: int) -> set[int]:
        path = f"Assistance/Ticket/{ticket}/TeamMember"
        out: set[int] = set()
        for m in self.parse_list(self.call("GET", path), V2TeamMember, f"GET /{path}"):
            # GLPI gives the member's form URL, e.g. /front/supplier.form.php?id=3
            if str(m.role) in ("assigned", "2") and "supplier.form.php?id=" in m.href:
                tail = m.href.rsplit("id=", 1)[1].split("&")[0]
                if tail.isdigit():
                    out.add(int(tail))
        return out

    def assign_supplier(self, ticket: int, supplier: int) -> None:
        path = f"Assistance/Ticket/{ticket}/TeamMember"
        self.call("POST", path, body=V2TeamMemberInput(id=supplier).model_dump())

    def find_asset(self, itemtype: str, name: str, serial: str | None) -> int | None:
        return None

    def ticket_items(self, ticket: int) -> set[tuple[str, int]]:
        return set()

    def link_item(self, ticket: int, itemtype: str, item: int) -> None:
        raise RefusedError("GLPI v2: linking an asset to a ticket is not available in this API")
