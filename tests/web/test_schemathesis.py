"""schemathesis over the dashboard's OpenAPI schema: generated requests (paths, query strings,
form bodies, with and without a valid CSRF token) never get a server error (5xx)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from fleet.store import open_store
from fleet.web import WebConfig, create_app
from tests.web.conftest import csrf_of, log_in
from tests.web.world import NOW, Clock, World


@pytest.fixture(scope="module")
def web_schema(world: World, tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = open_store(world.copy(tmp_path_factory.mktemp("fuzz") / "store.sqlite"))
    app = create_app(store, world.inventory, clock=Clock(NOW), config=WebConfig(housekeeping_s=0))
    client = log_in(TestClient(app), "admin")
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app  # requests go to the application in-process (ASGI), as from_asgi does
    schema.session_cookie = {"relais_session": client.cookies.get("relais_session")}  # type: ignore[attr-defined]
    schema.csrf = csrf_of(client.get("/").text)  # type: ignore[attr-defined]
    return schema


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def test_no_server_error(web_schema: Any) -> None:
    operations = _operations(web_schema)
    assert len(operations) >= 15
    failures: list[str] = []
    seen: dict[int, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            valid = case.method == "POST" and case.path != "/logout" and hash(repr(case.body)) % 2 == 0
            if valid and isinstance(case.body, dict):
                case.body["csrf"] = web_schema.csrf  # half the forms carry a valid token: handlers run
            response = case.call(cookies=web_schema.session_cookie, allow_redirects=False)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query} {case.body}: "
                    f"{response.status_code} {response.text[:300]}"
                )

        run()
    assert not failures, "\n".join(failures[:10])
    # the requests reached the handlers (a session, valid tokens): pages, done actions, refusals
    handled = sum(seen.get(code, 0) for code in (303, 400, 404, 409, 422))
    assert seen.get(200, 0) > 50 and seen.get(403, 0) > 5 and handled > 20, seen


def test_the_schema_lists_the_dashboard_routes(web_schema: Any) -> None:
    paths = set(web_schema.raw_schema["paths"])
    assert {"/", "/incidents/{incident_id}/acknowledge", "/maintenance", "/login"} <= paths
