"""A GLPI **stand-in** for the hand-off tests and ``fleet demo``: no GLPI runs here (it needs PHP,
a web server and MariaDB), so this small real HTTP server on 127.0.0.1 implements the endpoints
Relais uses, as GLPI's own sources describe them, over one shared state (one GLPI, both APIs):

* API v1, ``/apirest.php``: ``initSession`` (``App-Token`` + ``Authorization: user_token``),
  ``killSession``, ``Session-Token`` on every call (else 401 ``ERROR_SESSION_TOKEN_INVALID``);
  ``GET /:itemtype?searchText[field]=`` (Ticket, Supplier, Computer, Printer,
  NetworkEquipment, Peripheral), ``GET|PUT /Ticket/:id``, ``GET /Ticket/:id/:sub``
  (ITILFollowup, ITILSolution, Item_Ticket, Supplier_Ticket), ``POST /:itemtype`` with
  ``{"input": {...}}`` answering ``201 {"id": N, "message": ""}``; errors as
  ``["ERROR_X", "message"]``.
* API v2, GLPI 11 ``/api.php``: ``POST /token`` (OAuth2 password grant), Bearer tokens (401
  when unknown or expired); ``/v2/Assistance/Ticket`` (``?filter=field==value`` RSQL),
  ``/v2/Assistance/Ticket/:id`` (GET, PATCH), ``…/Timeline/Followup``, ``…/Timeline/Solution``,
  ``…/TeamMember`` (members shown as GLPI does: role name and form URL), and
  ``/v2/Management/Supplier``; errors as ``{"status", "title", "detail"}``.

Like GLPI, adding a solution sets the ticket's status to 5 (solved).

Fault injection (:meth:`GlpiStandIn.fault`): on the Nth matching request, answer 500, hang
without acting (the client times out), act then hang (the request took effect but its answer
is lost), act then block and signal (the fault's ``reached`` event: the test kills the sender
at that exact point), expire every session/token first, or hold until N clients are there (a
barrier that proves two senders overlap).  Nothing here depends on timing: hung requests stay
hung until their fault's ``release`` is set (:meth:`GlpiStandIn.release_all` at the end).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fleet.errors import GlpiReply as Reply

HOLD_LIMIT = 120.0  # a hung request is released at the latest after this (teardown safety)

STATUS_NAMES = MappingProxyType({
    1: "New",
    2: "Processing (assigned)",
    3: "Processing (planned)",
    4: "Pending",
    5: "Solved",
    6: "Closed",
})
ASSET_TYPES = ("Computer", "Printer", "NetworkEquipment", "Peripheral")


@dataclass
class Fault:
    method: str
    path: str
    """A regular expression searched in the request path."""
    action: str
    """``500``, ``hang``, ``apply_then_hang``, ``apply_then_block``, ``expire``, ``barrier``."""
    times: int = 1
    skip: int = 0
    parties: int = 2
    seen: int = 0
    hits: int = 0
    arrived: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    """Set when a request hit this fault (after acting, for ``apply_then_block``)."""
    release: threading.Event = field(default_factory=threading.Event)
    """Set to let hung or blocked requests of this fault go."""

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(self.path, path) is not None


@dataclass
class GlpiStandIn:
    app_token: str = "standin-app-token-1234"  # noqa: S105 - the stand-in\'s own throwaway credential
    user_token: str = "standin-user-token-5678"  # noqa: S105 - the stand-in\'s own throwaway credential
    client_id: str = "relais-client"
    client_secret: str = "standin-client-secret-9012"  # noqa: S105 - the stand-in\'s own throwaway credential
    username: str = "relais-bot"
    password: str = "standin-password-3456"  # noqa: S105 - the stand-in\'s own throwaway credential

    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    followups: list[dict[str, Any]] = field(default_factory=list)
    solutions: list[dict[str, Any]] = field(default_factory=list)
    item_tickets: list[dict[str, Any]] = field(default_factory=list)
    supplier_tickets: list[dict[str, Any]] = field(default_factory=list)
    suppliers: dict[int, dict[str, Any]] = field(default_factory=dict)
    assets: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    log: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._barrier_cond = threading.Condition()
        self.barrier_broken = False
        self._ids: Counter[str] = Counter()
        self.server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------- lifecycle ----

    def start(self) -> GlpiStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                standin.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/glpi"

    def fault(
        self, method: str, path: str, action: str, times: int = 1, skip: int = 0, parties: int = 2
    ) -> Fault:
        f = Fault(method, path, action, times, skip, parties)
        with self.lock:
            self.faults.append(f)
        return f

    def release_all(self) -> None:
        with self.lock:
            for f in self.faults:
                f.release.set()
        with self._barrier_cond:
            self._barrier_cond.notify_all()

    # ----------------------------------------------------------------------- data -----

    def next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def add_supplier(self, name: str) -> int:
        with self.lock:
            sid = self.next_id("Supplier")
            self.suppliers[sid] = {"id": sid, "name": name}
            return sid

    def add_asset(self, itemtype: str, name: str, serial: str | None = None) -> int:
        with self.lock:
            aid = self.next_id(itemtype)
            self.assets.setdefault(itemtype, {})[aid] = {"id": aid, "name": name, "serial": serial}
            return aid

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for m, p, _ in self.log if m == method and re.search(pattern, p))

    def followups_of(self, ticket: int) -> list[str]:
        return [f["content"] for f in self.followups if f["items_id"] == ticket]

    def solutions_of(self, ticket: int) -> list[str]:
        return [s["content"] for s in self.solutions if s["items_id"] == ticket]

    def suppliers_of(self, ticket: int) -> list[int]:
        return [
            s["suppliers_id"] for s in self.supplier_tickets if s["tickets_id"] == ticket and s["type"] == 2
        ]

    # ------------------------------------------------------------------- requests -----

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        path, query = parts.path, parse_qs(parts.query)
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        method = req.command
        fault = self._fault_for(method, path)
        after: str | None = None
        try:
            if fault is not None:
                after = self._before(fault)
                if after is None:
                    fault.reached.set()
            with self.lock:
                status, body, headers = self._dispatch(method, path, query, raw, req.headers)
        except Reply as r:
            status, body, headers = r.status, r.body, r.headers
        with self.lock:
            self.log.append((method, path, status))
        if fault is not None and after in ("hang", "block"):
            fault.reached.set()
            fault.release.wait(HOLD_LIMIT)
            return
        self._send(req, status, body, headers)

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.matches(method, path):
                    f.seen += 1
                    if f.seen > f.skip and f.hits < f.times:
                        f.hits += 1
                        return f
        return None

    def _before(self, f: Fault) -> str | None:
        if f.action == "500":
            raise Reply(500, ["ERROR", "stand-in: injected internal error"])
        if f.action == "hang":
            f.reached.set()
            f.release.wait(HOLD_LIMIT)
            raise Reply(504, ["ERROR", "stand-in: released"])
        if f.action == "expire":
            with self.lock:
                self.sessions.clear()
                self.tokens.clear()
            return None
        if f.action == "barrier":
            with self._barrier_cond:
                f.arrived += 1
                self._barrier_cond.notify_all()
                ok = self._barrier_cond.wait_for(
                    lambda: f.arrived >= f.parties or f.release.is_set(), timeout=60
                )
                if not ok or f.arrived < f.parties:
                    self.barrier_broken = True
            return None
        if f.action == "apply_then_hang":
            return "hang"
        if f.action == "apply_then_block":
            return "block"
        raise AssertionError(f.action)

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str]) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/json; charset=UTF-8")
            req.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                req.send_header(k, v)
            req.end_headers()
            req.wfile.write(data)
        except OSError:
            pass  # the client is gone (timed out or killed)

    def _dispatch(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes, headers: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if path.startswith("/glpi/apirest.php/"):
            return self._v1(method, path.removeprefix("/glpi/apirest.php/"), query, raw, headers)
        if path == "/glpi/api.php/token":
            return self._v2_token(method, raw)
        if path.startswith("/glpi/api.php/v2/"):
            return self._v2(method, path.removeprefix("/glpi/api.php/v2/"), query, raw, headers)
        raise Reply(404, ["ERROR_ITEMTYPE_NOT_FOUND_NOR_COMMONDBTM", "stand-in: unknown path"])

    # ------------------------------------------------------------------------- v1 -----

    def _v1(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes, headers: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if headers.get("App-Token") != self.app_token:
            raise Reply(400, ["ERROR_WRONG_APP_TOKEN_PARAMETER", "parameter app_token seems wrong"])
        if path == "initSession":
            if headers.get("Authorization") != f"user_token {self.user_token}":
                raise Reply(401, ["ERROR_GLPI_LOGIN_USER_TOKEN", "parameter user_token seems invalid"])
            token = uuid.uuid4().hex
            self.sessions.add(token)
            return 200, {"session_token": token}, {}
        if headers.get("Session-Token") not in self.sessions:
            raise Reply(401, ["ERROR_SESSION_TOKEN_INVALID", "session_token seems invalid"])
        if path == "killSession":
            self.sessions.discard(headers.get("Session-Token"))
            return 200, None, {}
        segs = path.strip("/").split("/")
        body = json.loads(raw) if raw else {}
        if method == "GET" and len(segs) == 1:
            return 200, self._v1_list(segs[0], query), {}
        if segs[0] == "Ticket" and len(segs) >= 2:
            ticket = self._ticket(int(segs[1]), v1=True)
            if len(segs) == 2 and method == "GET":
                return 200, self._v1_ticket(ticket), {}
            if len(segs) == 2 and method == "PUT":
                ticket["status"] = int(body["input"]["status"])
                return 200, [{str(ticket["id"]): True, "message": ""}], {}
            if len(segs) == 3 and method == "GET":
                return 200, self._v1_sub(ticket["id"], segs[2]), {}
        if method == "POST" and len(segs) == 1:
            if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
                raise Reply(400, ["ERROR_BAD_ARRAY", "input parameter must be an array of objects"])
            new_id = self._v1_add(segs[0], body["input"])
            return (
                201,
                {"id": new_id, "message": ""},
                {"Location": f"{self.url}/apirest.php/{segs[0]}/{new_id}"},
            )
        raise Reply(400, ["ERROR_METHOD_NOT_ALLOWED", f"stand-in: {method} {path}"])

    @staticmethod
    def _v1_ticket(t: dict[str, Any]) -> dict[str, Any]:
        return {
            k: t[k] for k in ("id", "name", "content", "status", "urgency", "impact", "type", "externalid")
        }

    def _v1_list(self, itemtype: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]]
        if itemtype == "Ticket":
            rows = [self._v1_ticket(t) for t in self.tickets.values()]
        elif itemtype == "Supplier":
            rows = list(self.suppliers.values())
        elif itemtype in ASSET_TYPES:
            rows = list(self.assets.get(itemtype, {}).values())
        else:
            raise Reply(400, ["ERROR_ITEMTYPE_NOT_FOUND_NOR_COMMONDBTM", itemtype])
        for key, values in query.items():
            m = re.fullmatch(r"searchText\[(\w+)\]", key)
            if m:  # GLPI: a LIKE '%value%' on that field
                rows = [r for r in rows if values[0].casefold() in str(r.get(m[1]) or "").casefold()]
        return rows

    def _v1_sub(self, ticket: int, sub: str) -> list[dict[str, Any]]:
        if sub == "ITILFollowup":
            return [f for f in self.followups if f["items_id"] == ticket]
        if sub == "ITILSolution":
            return [s for s in self.solutions if s["items_id"] == ticket]
        if sub == "Item_Ticket":
            return [i for i in self.item_tickets if i["tickets_id"] == ticket]
        if sub == "Supplier_Ticket":
            return [s for s in self.supplier_tickets if s["tickets_id"] == ticket]
        raise Reply(400, ["ERROR_ITEMTYPE_NOT_FOUND_NOR_COMMONDBTM", sub])

    def _v1_add(self, itemtype: str, data: dict[str, Any]) -> int:
        if itemtype == "Ticket":
            return self._new_ticket(
                data["name"],
                data["content"],
                data.get("urgency", 3),
                data.get("impact", 3),
                data.get("externalid"),
            )
        if itemtype in ("ITILFollowup", "ITILSolution"):
            if data.get("itemtype") != "Ticket":
                raise Reply(400, ["ERROR_GLPI_ADD", "stand-in: itemtype must be Ticket"])
            ticket = self._ticket(int(data["items_id"]), v1=True)
            return self._timeline(itemtype, ticket, str(data["content"]))
        if itemtype == "Item_Ticket":
            ticket = self._ticket(int(data["tickets_id"]), v1=True)
            if int(data["items_id"]) not in self.assets.get(data["itemtype"], {}):
                raise Reply(400, ["ERROR_GLPI_ADD", "stand-in: unknown item"])
            iid = self.next_id("Item_Ticket")
            self.item_tickets.append(
                {
                    "id": iid,
                    "tickets_id": ticket["id"],
                    "itemtype": data["itemtype"],
                    "items_id": int(data["items_id"]),
                }
            )
            return iid
        if itemtype == "Supplier_Ticket":
            ticket = self._ticket(int(data["tickets_id"]), v1=True)
            return self._assign(ticket, int(data["suppliers_id"]), int(data["type"]), v1=True)
        raise Reply(400, ["ERROR_ITEMTYPE_NOT_FOUND_NOR_COMMONDBTM", itemtype])

    # ---------------------------------------------------------------------- common -----

    def _ticket(self, tid: int, v1: bool) -> dict[str, Any]:
        t = self.tickets.get(tid)
        if t is None:
            raise Reply(
                404,
                ["ERROR_ITEM_NOT_FOUND", "Item not found"]
                if v1
                else {"status": "ERROR_ITEM_NOT_FOUND", "title": "Not found", "detail": None},
            )
        return t

    def _new_ticket(self, name: str, content: str, urgency: int, impact: int, key: str | None) -> int:
        tid = self.next_id("Ticket")
        self.tickets[tid] = {
            "id": tid,
            "name": name,
            "content": content,
            "status": 1,
            "urgency": int(urgency),
            "impact": int(impact),
            "type": 1,
            "externalid": key,
        }
        return tid

    def _timeline(self, itemtype: str, ticket: dict[str, Any], content: str) -> int:
        if ticket["status"] == 6:
            raise Reply(400, ["ERROR_GLPI_ADD", "stand-in: the ticket is closed"])
        iid = self.next_id(itemtype)
        row = {"id": iid, "itemtype": "Ticket", "items_id": ticket["id"], "content": content}
        if itemtype == "ITILFollowup":
            self.followups.append(row)
        else:
            self.solutions.append(row)
            ticket["status"] = 5  # as GLPI does when a solution is added
        return iid

    def _assign(self, ticket: dict[str, Any], supplier: int, kind: int, v1: bool) -> int:
        if supplier not in self.suppliers:
            raise Reply(
                400,
                ["ERROR_GLPI_ADD", "stand-in: unknown supplier"]
                if v1
                else {"status": "ERROR_INVALID_PARAMETER", "title": "unknown supplier"},
            )
        sid = self.next_id("Supplier_Ticket")
        self.supplier_tickets.append(
            {"id": sid, "tickets_id": ticket["id"], "suppliers_id": supplier, "type": kind}
        )
        if ticket["status"] == 1:
            ticket["status"] = 2
        return sid

    # ------------------------------------------------------------------------- v2 -----

    def _v2_token(self, method: str, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if method != "POST" or form.get("grant_type") != "password":
            raise Reply(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            raise Reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        if (form.get("username"), form.get("password")) != (self.username, self.password):
            raise Reply(
                400, {"error": "invalid_grant", "error_description": "The user credentials were incorrect."}
            )
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return 200, {"token_type": "Bearer", "expires_in": 3600, "access_token": token}, {}

    @staticmethod
    def _rsql(query: dict[str, list[str]]) -> tuple[str, str] | None:
        text = (query.get("filter") or [""])[0]
        if not text:
            return None
        m = re.fullmatch(r'(\w+)==(?:"((?:[^"\\]|\\.)*)"|([^;,]*))', text)
        if m is None:
            raise Reply(400, {"status": "ERROR_RSQL_QUERY", "title": "stand-in: unsupported filter"})
        value = m[2] if m[2] is not None else m[3]
        return m[1], re.sub(r"\\(.)", r"\1", value)

    def _v2_ticket(self, t: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": t["id"],
            "name": t["name"],
            "content": t["content"],
            "external_id": t["externalid"],
            "urgency": t["urgency"],
            "impact": t["impact"],
            "type": t["type"],
            "status": {"id": t["status"], "name": STATUS_NAMES[t["status"]]},
        }

    def _v2(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes, headers: Any
    ) -> tuple[int, Any, dict[str, str]]:
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
            raise Reply(
                401,
                {
                    "status": "ERROR_UNAUTHENTICATED",
                    "title": "You are not authenticated",
                    "detail": "Invalid or expired token",
                },
            )
        body = json.loads(raw) if raw else {}
        segs = path.strip("/").split("/")
        if segs == ["Management", "Supplier"] and method == "GET":
            rows = list(self.suppliers.values())
            flt = self._rsql(query)
            if flt:
                rows = [r for r in rows if str(r.get(flt[0])) == flt[1]]
            return 200, rows, {}
        if segs[:2] != ["Assistance", "Ticket"]:
            raise Reply(404, {"status": "ERROR_ITEM_NOT_FOUND", "title": "Not found"})
        rest = segs[2:]
        if not rest and method == "GET":
            rows = [self._v2_ticket(t) for t in self.tickets.values()]
            flt = self._rsql(query)
            if flt:
                rows = [r for r in rows if str(r.get(flt[0])) == flt[1]]
            return 200, rows, {}
        if not rest and method == "POST":
            for k in ("name", "content", "external_id"):
                if k not in body:
                    raise Reply(400, {"status": "ERROR_INVALID_PARAMETER", "title": f"missing {k}"})
            tid = self._new_ticket(
                body["name"],
                body["content"],
                body.get("urgency", 3),
                body.get("impact", 3),
                body["external_id"],
            )
            href = f"/Assistance/Ticket/{tid}"
            return 201, {"id": tid, "href": href}, {"Location": href}
        ticket = self._ticket(int(rest[0]), v1=False)
        if len(rest) == 1 and method == "GET":
            return 200, self._v2_ticket(ticket), {}
        if len(rest) == 1 and method == "PATCH":
            status = body.get("status")
            ticket["status"] = int(status["id"] if isinstance(status, dict) else str(status))
            return 200, self._v2_ticket(ticket), {}
        if rest[1:] in (["Timeline", "Followup"], ["Timeline", "Solution"]):
            kind = "ITILFollowup" if rest[2] == "Followup" else "ITILSolution"
            if method == "GET":
                rows = self.followups if kind == "ITILFollowup" else self.solutions
                return 200, [r for r in rows if r["items_id"] == ticket["id"]], {}
            if method == "POST":
                iid = self._timeline(kind, ticket, str(body["content"]))
                href = f"/Assistance/Ticket/{ticket['id']}/Timeline/{rest[2]}/{iid}"
                return 201, {"id": iid, "href": href}, {"Location": href}
        if rest[1:] == ["TeamMember"]:
            if method == "GET":
                team = [
                    {
                        "role": "assigned",
                        "name": self.suppliers[s["suppliers_id"]]["name"],
                        "href": f"/front/supplier.form.php?id={s['suppliers_id']}",
                    }
                    for s in self.supplier_tickets
                    if s["tickets_id"] == ticket["id"] and s["type"] == 2
                ]
                return 200, team, {}
            if method == "POST":
                if body.get("type") != "Supplier" or int(body.get("role", 0)) != 2:
                    raise Reply(400, {"status": "ERROR_INVALID_PARAMETER", "title": "stand-in: bad member"})
                self._assign(ticket, int(body["id"]), 2, v1=False)
                return 201, None, {}
        raise Reply(404, {"status": "ERROR_ITEM_NOT_FOUND", "title": "Not found"})
