"""The dashboard's protections, each shown refusing and, as a control, allowing.

Routes are enumerated from the application itself, so a route added later is covered."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from fleet.incidents import get_incident
from fleet.incidents.lifecycle import open_incident
from fleet.store import Store
from fleet.store.users import MAX_FAILURES, THROTTLE_WINDOW, audit_actions, list_audit, set_disabled
from fleet.web import WebConfig, create_app
from fleet.web.app import PUBLIC
from fleet.web.security import parse_proxies
from tests.web.conftest import csrf_of
from tests.web.world import NOW, PASSWORD, Clock, World

ANONYMOUS_OK = {"/login", "/healthz", "/metrics"}


def _new_incident(store: Store, device: str = "florac-fs-pc1", check: str = "cpu") -> int:
    with store.write() as session:
        row = open_incident(
            session,
            device=device,
            site_id=device.rsplit("-", 1)[0],
            check=check,
            reason="over",
            severity="minor",
            title=f"{device}: {check}",
            at=NOW,
        )
        assert row is not None
        return row.id


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            out += [(m, route.path) for m in sorted(route.methods or ())]
        elif isinstance(route, Mount):
            out.append(("GET", route.path + "/style.css"))
    return out


def _concrete(path: str, incident: int, window: int) -> str:
    return (
        path.replace("{site_id}", "florac-fs")
        .replace("{hostname}", "florac-fs-pc1")
        .replace("{incident_id}", str(incident))
        .replace("{window_id}", str(window))
    )


def test_every_route_refuses_anonymous_access(
    app: FastAPI, store: Store, client_as: Callable[[str], TestClient], world: World
) -> None:
    from fleet.incidents import list_windows

    routes = _routes(app)
    paths = {p for _, p in routes}
    # the enumeration sees the application's routes (it cannot pass by finding none)
    assert {
        "/",
        "/sites/{site_id}",
        "/incidents/{incident_id}/acknowledge",
        "/devices/{hostname}/act",
        "/maintenance",
        "/audit",
    } <= paths
    incident = world.incidents["florac-fs-borne1/reachability"]
    window = list_windows(store, at=NOW)[0].id
    anonymous = TestClient(app)
    admin = client_as("admin")
    checked = 0
    for method, path in routes:
        url = _concrete(path, incident, window)
        public = path in ANONYMOUS_OK or path.startswith("/static")
        answer = anonymous.request(method, url, follow_redirects=False)
        if public:  # reached without a session (a login post without its token: 403 from the CSRF check)
            assert answer.status_code in ((200,) if method == "GET" else (403,)), (
                method,
                url,
                answer.status_code,
            )
            continue
        checked += 1
        if method == "GET" and not path.startswith("/api/"):
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), (
                method,
                url,
            )
        else:
            assert answer.status_code == 401, (method, url, answer.status_code)
        # control: the same request with a session reaches the route (GET pages answer 200;
        # a form post without its CSRF token is refused by the CSRF check, not by the login)
        logged = admin.request(method, url, follow_redirects=False)
        assert logged.status_code == (200 if method == "GET" else 403), (method, url, logged.status_code)
    assert checked >= 15
    assert frozenset({"/login", "/healthz", "/metrics", "/static"}) == PUBLIC
    # an unknown address says nothing to a stranger either
    assert anonymous.get("/no-such-page", follow_redirects=False).status_code == 303


#: The permission matrix, as the issue and docs/hotline.md state it (not read from the code).
EXPECTED = {
    "acknowledge": {"technician", "hotline", "admin"},
    "note": {"technician", "hotline", "admin"},
    "assign": {"hotline", "admin"},
    "resolve": {"technician", "hotline", "admin"},
    "close": {"hotline", "admin"},
    "maintenance": {"technician", "hotline", "admin"},
    "maintenance_end": {"technician", "hotline", "admin"},
    "audit": {"auditor", "admin"},
}


@pytest.mark.parametrize("role", ["auditor", "technician", "hotline", "admin"])
def test_the_role_matrix_is_enforced_on_every_action(
    role: str, store: Store, client_as: Callable[[str], TestClient]
) -> None:
    from fleet.incidents import add_window, list_windows, resolve

    c = client_as(role)
    csrf = csrf_of(c.get("/").text)

    def post(url: str, **data: str) -> int:
        return c.post(url, data={"csrf": csrf, **data}, follow_redirects=False).status_code

    def expect(action: str, code: int) -> bool:
        allowed = role in EXPECTED[action]
        assert code == (303 if allowed else 403), (role, action, code)
        return allowed

    inc = _new_incident(store, check="cpu")
    allowed = expect("acknowledge", post(f"/incidents/{inc}/acknowledge"))
    assert get_incident(store, inc).status == ("acknowledged" if allowed else "open")

    allowed = expect("note", post(f"/incidents/{inc}/note", text="vu"))
    assert any(e.kind == "note" for e in get_incident(store, inc).events) == allowed

    inc2 = _new_incident(store, check="memory")
    allowed = expect("assign", post(f"/incidents/{inc2}/assign"))
    assert (get_incident(store, inc2).status == "in_progress") == allowed

    inc3 = _new_incident(store, check="disk")
    allowed = expect("resolve", post(f"/incidents/{inc3}/resolve"))
    assert (get_incident(store, inc3).status == "resolved") == allowed

    inc4 = _new_incident(store, device="florac-fs-pc2", check="cpu")
    resolve(store, inc4, who="seed", at=NOW)
    allowed = expect("close", post(f"/incidents/{inc4}/close"))
    assert (get_incident(store, inc4).status == "closed") == allowed

    before = len(list_windows(store, at=NOW))
    allowed = expect(
        "maintenance",
        post(
            "/maintenance", target="florac-fs", start="2026-11-24T09:00", end="2026-11-24T10:00", why="test"
        ),
    )
    assert len(list_windows(store, at=NOW)) == before + (1 if allowed else 0)

    w = add_window(
        store, site_id="florac-fs", start=NOW, end=NOW + timedelta(hours=1), who="seed", why="x", now=NOW
    )
    allowed = expect("maintenance_end", post(f"/maintenance/{w.id}/end"))
    assert (w.id in {x.id for x in list_windows(store, at=NOW)}) != allowed

    audit = c.get("/audit", follow_redirects=False).status_code
    assert audit == (200 if role in EXPECTED["audit"] else 403)
    # every refusal is in the audit trail, under the user's name
    refused = [a for a in list_audit(store, limit=100, user=role) if a.outcome == "refused"]
    assert len(refused) == sum(1 for a, roles in EXPECTED.items() if a != "audit" and role not in roles)
    # the page offers only what the role may do
    page = c.get(f"/incidents/{_new_incident(store, check='load')}").text
    assert ('id="form-ack"' in page) == (role in EXPECTED["acknowledge"])
    assert ('id="form-assign"' in page) == (role in EXPECTED["assign"])


def test_a_form_without_a_valid_csrf_token_is_refused(
    store: Store, client_as: Callable[[str], TestClient]
) -> None:
    c = client_as("hotline")
    inc = _new_incident(store)
    token = csrf_of(c.get(f"/incidents/{inc}").text)
    for data in ({"text": "sans jeton"}, {"text": "faux jeton", "csrf": "x" * 43}):
        r = c.post(f"/incidents/{inc}/note", data=data, follow_redirects=False)
        assert r.status_code == 403
    assert not [e for e in get_incident(store, inc).events if e.kind == "note"]
    assert audit_actions(store, "hotline").count("incident.note") == 2  # recorded as bad_csrf
    # another user's token is not this session's token
    other = csrf_of(client_as("admin").get("/").text)
    assert (
        c.post(
            f"/incidents/{inc}/note", data={"text": "x", "csrf": other}, follow_redirects=False
        ).status_code
        == 403
    )
    # control: the page's own token works
    r = c.post(f"/incidents/{inc}/note", data={"text": "avec jeton", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert [e.text for e in get_incident(store, inc).events if e.kind == "note"] == ["avec jeton"]


def test_the_login_form_needs_its_csrf_token(app: FastAPI) -> None:
    c = TestClient(app)
    page = c.get("/login")
    assert (
        c.post(
            "/login", data={"name": "hotline", "password": PASSWORD, "csrf": "forged"}, follow_redirects=False
        ).status_code
        == 403
    )
    r = c.post(
        "/login",
        data={"name": "hotline", "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_a_note_with_html_and_script_is_shown_escaped(
    store: Store, client_as: Callable[[str], TestClient]
) -> None:
    c = client_as("hotline")
    inc = _new_incident(store)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'
    token = csrf_of(c.get(f"/incidents/{inc}").text)
    assert (
        c.post(
            f"/incidents/{inc}/note", data={"text": evil, "csrf": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert any(e.text == evil for e in get_incident(store, inc).events)  # stored as typed
    page = c.get(f"/incidents/{inc}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page
    # the activity log escapes it too
    audit = client_as("admin").get("/audit").text
    assert "<script>alert" not in audit and "&lt;script&gt;" in audit


def test_session_fixation_a_session_id_set_before_login_is_never_used(app: FastAPI) -> None:
    c = TestClient(app, cookies={"relais_session": "chosen-by-the-attacker"})
    answer = _login_response(c)
    token = _session_cookie(answer).split(";")[0].split("=", 1)[1]
    assert token and token != "chosen-by-the-attacker"

    def opens(value: str) -> bool:
        probe = TestClient(app, cookies={"relais_session": value})
        return probe.get("/", follow_redirects=False).status_code == 200

    assert not opens("chosen-by-the-attacker")
    assert opens(token)  # control: the issued token does open a session
    # logging in again (with the current session) replaces it: the old token opens nothing
    again = TestClient(app, cookies={"relais_session": token})
    fresh = _session_cookie(_login_response(again)).split(";")[0].split("=", 1)[1]
    assert fresh != token and opens(fresh) and not opens(token)


def _session_cookie(response: object) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if "relais_session=" in h]
    assert found, headers
    return found[0]


def _login_response(client: TestClient, headers: dict[str, str] | None = None) -> object:
    page = client.get("/login", headers=headers)
    return client.post(
        "/login",
        data={"name": "hotline", "password": PASSWORD, "csrf": csrf_of(page.text, "/login")},
        headers=headers,
        follow_redirects=False,
    )


def test_cookie_flags_and_secure_only_behind_a_trusted_tls_proxy(store: Store, world: World) -> None:
    config = WebConfig(housekeeping_s=0, trusted_proxies=parse_proxies("127.0.0.2"))
    app = create_app(store, world.inventory, clock=Clock(NOW), config=config)
    plain = _session_cookie(_login_response(TestClient(app, client=("127.0.0.9", 1000))))
    assert "HttpOnly" in plain and "SameSite=lax" in plain and "Path=/" in plain
    assert "Secure" not in plain and plain.startswith("relais_session=")
    https = {"x-forwarded-proto": "https", "x-forwarded-for": "192.0.2.7"}
    # a client claiming HTTPS itself is not believed
    forged = _session_cookie(_login_response(TestClient(app, client=("127.0.0.9", 1000)), https))
    assert "Secure" not in forged
    # the trusted reverse proxy is: Secure, and the __Host- prefix
    proxied = TestClient(app, client=("127.0.0.2", 1000), base_url="https://dashboard.example")
    cookie = _session_cookie(_login_response(proxied, https))
    assert cookie.startswith("__Host-relais_session=") and "Secure" in cookie and "HttpOnly" in cookie
    last = list_audit(store, limit=1)[0]
    assert last.action == "login" and last.address == "192.0.2.7"  # the real client, from the proxy


def test_security_headers_on_every_page(client_as: Callable[[str], TestClient], app: FastAPI) -> None:
    for r in (TestClient(app).get("/login"), client_as("auditor").get("/")):
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"


def test_login_throttling_then_recovery(app: FastAPI, clock: Clock) -> None:
    c = TestClient(app)
    for _ in range(MAX_FAILURES):
        r = _login_response_named(c, "hotline", "wrong password!")
        assert r.status_code == 401 and "Nom ou mot de passe incorrect" in r.text
    # now even the right password is refused, with the throttle message
    r = _login_response_named(c, "hotline", PASSWORD)
    assert r.status_code == 401 and "Trop de tentatives" in r.text
    clock.now = NOW + THROTTLE_WINDOW + timedelta(seconds=1)
    assert _login_response_named(c, "hotline", PASSWORD).status_code == 303


def _login_response_named(c: TestClient, name: str, password: str) -> object:
    page = c.get("/login", headers={"accept-language": "fr"})
    return c.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf_of(page.text)},
        headers={"accept-language": "fr"},
        follow_redirects=False,
    )


def test_sessions_expire_and_end_when_the_account_is_disabled(
    app: FastAPI, store: Store, clock: Clock, client_as: Callable[[str], TestClient]
) -> None:
    c = client_as("hotline")
    assert c.get("/", follow_redirects=False).status_code == 200
    clock.now = NOW + timedelta(minutes=59)
    assert c.get("/", follow_redirects=False).status_code == 200  # idle under an hour: still in
    clock.now = NOW + timedelta(minutes=59) + timedelta(hours=1, seconds=1)
    assert c.get("/", follow_redirects=False).status_code == 303  # idle over an hour: out
    clock.now = NOW
    d = client_as("technician")
    assert d.get("/", follow_redirects=False).status_code == 200
    set_disabled(store, "technician")
    assert d.get("/", follow_redirects=False).status_code == 303
    assert _login_response_named(TestClient(app), "technician", PASSWORD).status_code == 401


def test_after_login_only_a_local_path_is_followed(app: FastAPI) -> None:
    for target, expected in (
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/incidents?site=x", "/incidents?site=x"),
    ):
        c = TestClient(app)
        page = c.get("/login", params={"next": target})
        assert re.search(r'name="next" value="([^"]*)"', page.text).group(1).replace("&amp;", "&") == expected  # type: ignore[union-attr]
        r = c.post(
            "/login",
            data={"name": "hotline", "password": PASSWORD, "csrf": csrf_of(page.text), "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == expected
