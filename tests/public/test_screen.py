"""The hall screen's page /screen/SITE: hours, closures, the week's agenda, what works now —
from the real inventory, the real rules writing a real store (SQLite), the agenda cache; served
by the router the dashboard mounts.  Anonymous, read-only, rate-limited, nothing personal."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fleet.agenda import refresh
from fleet.inventory import load_inventory
from fleet.inventory.models import DeviceKind, Inventory
from fleet.monitor.cycle import apply_samples
from fleet.monitor.poller import Sample
from fleet.monitor.rules_file import load_rules
from fleet.store import Store, open_store
from fleet.web.screen import RateLimit, screen_router
from tests.incidents.samples import healthy
from tests.public.conftest import REPO

# Tuesday 22 September 2026, 09:00 in Nouméa (UTC+11)
TUESDAY_9H = datetime(2026, 9, 21, 22, 0, tzinfo=UTC)


@pytest.fixture
def inventory() -> Inventory:
    return load_inventory(REPO / "inventory")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    yield s
    s.dispose()


def poll(store: Store, inventory: Inventory, at: datetime, **broken: dict[str, object]) -> None:
    """One cycle of the real rules over hand-made samples of noumea-ps (every device answers,
    ``broken[hostname]`` overrides its metrics; ``None`` makes it silent)."""
    site = inventory.site("noumea-ps")
    samples = []
    for d in site.devices:
        over = broken.get(d.hostname.replace("-", "_"), {})
        if over is None:
            samples.append(Sample(d.hostname, at, False, "timeout", {}, 5000.0))
        else:
            samples.append(healthy(d, at, **over))  # type: ignore[arg-type]
    apply_samples(store, [site], samples, load_rules(REPO / "monitoring" / "rules.yml"), at)


def client(inventory: Inventory, store: Store | None, now: datetime, cache: Path,
           rate: RateLimit | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(screen_router(inventory, store, clock=lambda: now, agenda_cache=cache,
                                     rate=rate))
    return TestClient(app)


def text_of(page: str) -> str:
    """What a reader sees: no tags, no stylesheet, entities decoded."""
    body = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_the_page_shows_hours_closures_agenda_and_services(
        inventory: Inventory, store: Store, tmp_path: Path) -> None:
    poll(store, inventory, TUESDAY_9H - timedelta(minutes=5))
    resp = client(inventory, store, TUESDAY_9H, tmp_path).get("/screen/noumea-ps")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    page = text_of(resp.text)
    assert "Province Sud — borne de démarches en ligne" in page
    assert "mardi 22 septembre, 9 h" in page and "Ouvert jusqu'à 11 h 30" in page
    # this week's hours, today first; Thursday 24 is a closure, the weekend closed
    assert "Aujourd'hui 7 h 30 – 11 h 30 , 12 h 15 – 16 h" in page
    assert "Jeudi 24 Fermé : Fête de la citoyenneté" in page
    assert "Samedi 26 Fermé" in page
    # the agenda: Tuesday's CAF permanence is cancelled that week (EXDATE), the others shown
    assert "Permanence CAFAT (santé, retraite) — Bureau 2" in page
    assert "Atelier numérique : créer et lire ses e-mails" in page
    assert "Aujourd'hui 8 h Permanence Permanence CAF" not in page
    # what works now, in words
    assert "Wifi gratuit : disponible" in page and "Imprimante : disponible" in page
    assert "Borne de démarches : disponible" in page and "Visio-guichet : disponible" in page
    # nothing personal, no technical detail
    for secret in ("Rendez-vous de M.", "00 00 00", "noumea-ps-", "10.98.1", "incident",
                   "PS-BORNES", "+687"):
        assert secret not in resp.text, secret
    assert "refresh" not in resp.text  # a person's browser: no reload
    screen = client(inventory, store, TUESDAY_9H, tmp_path).get("/screen/noumea-ps?ecran=1")
    assert '<meta http-equiv="refresh" content="60">' in screen.text  # the hall screen's


def test_the_printer_turns_out_of_service_after_a_jam(
        inventory: Inventory, store: Store, tmp_path: Path) -> None:
    poll(store, inventory, TUESDAY_9H - timedelta(minutes=10))
    poll(store, inventory, TUESDAY_9H - timedelta(minutes=5),
         noumea_ps_prn1={"printer_error:jammed": 1})
    html = client(inventory, store, TUESDAY_9H, tmp_path).get("/screen/noumea-ps").text
    page = text_of(html)
    assert "Imprimante hors service aujourd'hui" in page
    # `fleet demo` reads the same lines from the page the screen host fetched
    from fleet.cli.demo_day import services_shown

    shown = services_shown(html)
    assert shown[:2] == ["Wifi gratuit : disponible", "Imprimante hors service aujourd'hui"], shown
    assert services_shown("<html><body>no services section</body></html>") == []
    assert "Wifi gratuit : disponible" in page
    assert "jam" not in page.lower() and "bourrage" not in page.lower()


def test_a_low_toner_is_not_out_of_service(inventory: Inventory, store: Store, tmp_path: Path) -> None:
    poll(store, inventory, TUESDAY_9H - timedelta(minutes=5),
         noumea_ps_prn1={"printer_error:low_toner": 1})
    page = text_of(client(inventory, store, TUESDAY_9H, tmp_path).get("/screen/noumea-ps").text)
    assert "Imprimante : disponible" in page


def test_wifi_down_and_a_silent_store_say_no_more_than_they_know(
        inventory: Inventory, store: Store, tmp_path: Path) -> None:
    for minutes in (15, 10, 5):  # fail_after: 3 polls without an answer
        poll(store, inventory, TUESDAY_9H - timedelta(minutes=minutes), noumea_ps_gw=None)
    page = text_of(client(inventory, store, TUESDAY_9H, tmp_path).get("/screen/noumea-ps").text)
    assert "Wifi gratuit : indisponible pour le moment" in page
    # two hours later nothing was polled: the page no longer claims anything
    later = client(inventory, store, TUESDAY_9H + timedelta(hours=2), tmp_path)
    assert "En ce moment" not in later.get("/screen/noumea-ps").text


def test_closed_site_says_when_it_reopens_and_hides_services(
        inventory: Inventory, store: Store, tmp_path: Path) -> None:
    evening = TUESDAY_9H + timedelta(hours=9)  # 18:00 in Nouméa
    poll(store, inventory, evening - timedelta(minutes=5))
    page = text_of(client(inventory, store, evening, tmp_path).get("/screen/noumea-ps").text)
    assert "Fermé — réouverture demain à 7 h 30" in page
    assert "En ce moment" not in page


def test_a_stale_agenda_is_shown_with_its_age(inventory: Inventory, store: Store, tmp_path: Path) -> None:
    site = inventory.site("noumea-ps").model_copy(update={"agenda": "http://127.0.0.1:9/x.ics"})
    inv = inventory.model_copy(update={"sites": (site,)})

    def fetch_ok(_url: str) -> bytes:
        return (REPO / "inventory/group_vars/site_noumea_ps/semainier.ics").read_bytes()

    def fetch_down(_url: str) -> bytes:
        from fleet.errors import AgendaError
        raise AgendaError("http://127.0.0.1:9/x.ics: cannot fetch the calendar (ConnectError)")

    assert refresh(site, REPO / "inventory", tmp_path, TUESDAY_9H - timedelta(hours=3), fetch_ok).ok
    app = FastAPI()
    app.include_router(screen_router(inv, store, clock=lambda: TUESDAY_9H, agenda_cache=tmp_path,
                                     fetch=fetch_down))
    page = text_of(TestClient(app).get("/screen/noumea-ps").text)
    assert "Atelier numérique" in page
    assert "Agenda mis à jour il y a 3 h (le calendrier ne répond pas)." in page


def test_unknown_site_post_and_rate_limit(inventory: Inventory, tmp_path: Path) -> None:
    ticks = [0.0]
    rate = RateLimit(per_minute=6, burst=3, monotonic=lambda: ticks[0])
    c = client(inventory, None, TUESDAY_9H, tmp_path, rate)
    missing = c.get("/screen/noumea-p")
    assert missing.status_code == 404 and missing.text == "Page inconnue."  # names no site
    assert c.post("/screen/noumea-ps").status_code == 405  # never reaches the page
    assert c.get("/screen/noumea-ps").status_code == 200
    assert c.get("/screen/noumea-ps").status_code == 200  # third of the burst of 3
    limited = c.get("/screen/noumea-ps")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
    ticks[0] += 10.0  # 10 s at 6 per minute: one more
    assert c.get("/screen/noumea-ps").status_code == 200
    assert c.get("/screen/noumea-ps").status_code == 429


def test_security_headers_allow_the_inline_style_only(inventory: Inventory, tmp_path: Path) -> None:
    resp = client(inventory, None, TUESDAY_9H, tmp_path).get("/screen/noumea-ps")
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'sha256-" in csp and "script" not in resp.text
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert "En ce moment" not in resp.text  # no store given: no service line


def test_every_site_with_a_screen_renders(inventory: Inventory, tmp_path: Path) -> None:
    c = client(inventory, None, TUESDAY_9H, tmp_path, RateLimit(per_minute=600, burst=100))
    screens = [s for s in inventory.sites if s.devices_of(DeviceKind.SCREEN)]
    assert screens
    for s in inventory.sites:
        assert c.get(f"/screen/{s.id}").status_code == 200, s.id


def test_screen_page_in_a_browser_readable_from_3m_and_accessible(
        inventory: Inventory, store: Store, tmp_path: Path) -> None:
    import threading

    import uvicorn

    from tests.public.browser import axe_violations, browser, describe, require_browser, screenshot
    from tests.public.test_programs import free_port, wait_port

    require_browser()
    poll(store, inventory, TUESDAY_9H - timedelta(minutes=10))
    poll(store, inventory, TUESDAY_9H - timedelta(minutes=5), noumea_ps_prn1={"printer_error:jammed": 1})
    app = FastAPI()
    app.include_router(screen_router(inventory, store, clock=lambda: TUESDAY_9H, agenda_cache=tmp_path))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_port(port)
        with browser() as b:
            for width, height in ((1920, 1080), (1280, 720), (1080, 1920)):
                page = b.new_page(viewport={"width": width, "height": height})
                page.goto(f"http://127.0.0.1:{port}/screen/noumea-ps")
                bad = axe_violations(page)
                assert not bad, describe(bad)
                # the hall screen's version: the one finding is its reload (no input there:
                # WCAG 2.2.1's concern does not arise); nothing else
                page.goto(f"http://127.0.0.1:{port}/screen/noumea-ps?ecran=1")
                assert [v["id"] for v in axe_violations(page)] == ["meta-refresh"]
                screenshot(page, f"screen-{width}x{height}")
                # from 3 m: body text at least 3 % of the screen (its smaller side), nothing cut
                smallest = page.evaluate("""() => Math.min(...[...document.querySelectorAll(
                    'td, th, li, .note, .none')].map(e => parseFloat(getComputedStyle(e).fontSize)))""")
                assert smallest >= 0.03 * min(width, height), (width, height, smallest)
                hidden = page.evaluate("""() => [...document.querySelectorAll('.services li, tr')]
                    .filter(e => e.getBoundingClientRect().bottom > innerHeight).length""")
                assert hidden == 0, (width, height, "lines below the bottom of the screen")
                page.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
