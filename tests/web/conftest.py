"""Dashboard fixtures: the seeded world (once per session), apps on private copies of it,
clients logged in with each role; the live server and the browser are in ``browser.py``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fleet.store import Store, open_store
from fleet.web import WebConfig, create_app
from tests.web.browser import artifacts, browser, live
from tests.web.world import NOW, PASSWORD, Clock, World, build_world

# one server and one browser per session: the fixtures are registered here, once
__all__ = ["artifacts", "browser", "live"]

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("web-world"))


@pytest.fixture
def store(world: World, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(world.copy(tmp_path / "store.sqlite"))
    yield opened
    opened.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(store: Store, world: World, clock: Clock) -> FastAPI:
    return create_app(store, world.inventory, clock=clock, config=WebConfig(housekeeping_s=0))


def csrf_of(html: str, form: str | None = None) -> str:
    """The CSRF token of the page's first form, or of the form posting to ``form``."""
    if form is not None:
        html = html[html.index(f'action="{form}"') :]
    found = CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    assert page.status_code == 200
    answer = client.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf_of(page.text, "/login"), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:500]
    return client


@pytest.fixture
def client_as(app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    """``client_as("hotline")``: a client logged in with that role's account."""
    clients: list[TestClient] = []

    def make(role: str) -> TestClient:
        c = TestClient(app)
        clients.append(c)
        return log_in(c, role)

    yield make
    for c in clients:
        c.close()
