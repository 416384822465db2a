"""A real browser against the real application: one uvicorn server and one headless Debian
Chromium per test session (Playwright drives ``/usr/bin/chromium``; it never downloads a
browser).  The server runs on 127.0.0.1 on a free port, in a thread, on its own copy of the
seeded store, with a clock the tests move by hand."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from fleet.store import Store, open_store
from fleet.web import WebConfig, create_app
from tests.web.world import NOW, PASSWORD, Clock, World

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
    "--mute-audio",
    "--disable-breakpad",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@dataclass
class Live:
    url: str
    store: Store
    clock: Clock


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    store = open_store(world.copy(tmp_path_factory.mktemp("live") / "store.sqlite"))
    clock = Clock(NOW)
    app = create_app(store, world.inventory, clock=clock, config=WebConfig(housekeeping_s=0))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the dashboard did not start"
        time.sleep(0.05)
    try:
        yield Live(f"http://127.0.0.1:{port}", store, clock)
    finally:
        server.should_exit = True
        thread.join(30)
        store.dispose()


@pytest.fixture(scope="package")
def browser(world: World) -> Iterator[object]:
    """Headless Chromium, for the dashboard's tests only.  Asks for ``world`` so the store is
    built before Playwright's sync API starts its own event loop in this thread (the seeding polls
    with asyncio.run).  Package-scoped, not session-scoped: while a sync Playwright is open, this
    thread's event loop is marked running, so a later test's own sync_playwright() (the public
    lab tests' Chromium in a borne) or asyncio.run() would be refused; the CI run of 2026-11-30
    failed a public lab test that way."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (ci/apt-packages.txt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


def login(page: object, live: Live, name: str, password: str = PASSWORD) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto(f"{live.url}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live.url}/")
