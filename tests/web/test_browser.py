"""The hotline's path in a real browser (headless Debian Chromium through Playwright) against
the real dashboard on 127.0.0.1: log in, the map, a site, a device, then the whole incident
workflow and a maintenance window — the store is read after every step."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from fleet.incidents import get_incident, list_windows
from fleet.store.users import audit_actions
from tests.web.browser import Live, login
from tests.web.world import NOW, World


def _page(browser: object, width: int = 1280) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR")  # type: ignore[attr-defined]
    page: Page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    return page


def test_hotline_workflow_in_the_browser(browser: object, live: Live, world: World) -> None:
    page = _page(browser)
    login(page, live, "hotline")
    # the map: every site is a link, Florac is red (critical), Nouméa closed and not red
    expect(page.locator("h1")).to_have_text("Vue d'ensemble du réseau")
    florac = page.locator('svg.map a[href="/sites/florac-fs"]')
    expect(florac).to_have_class("st-critical")
    expect(page.locator('svg.map a[href="/sites/noumea-ps"]')).to_have_class("st-expected closed")
    assert page.locator("svg.map a").count() == len(world.inventory.sites)
    # open the site from the map, then the borne from the site
    florac.click()
    page.wait_for_url(f"{live.url}/sites/florac-fs")
    expect(page.locator('tr[data-device="florac-fs-borne1"] .state')).to_have_text("hors ligne")
    page.click('a[href="/devices/florac-fs-borne1"]')
    page.wait_for_url(f"{live.url}/devices/florac-fs-borne1")
    expect(page.locator("h1")).to_contain_text("florac-fs-borne1")
    inc = world.incidents["florac-fs-borne1/reachability"]
    page.click(f'a[href="/incidents/{inc}"] >> nth=0')
    page.wait_for_url(f"{live.url}/incidents/{inc}")

    # acknowledge, with an expiry of 4 hours
    page.fill("#ack-text", "Je regarde")
    page.select_option("#ack-expires", "4h")
    page.click("#form-ack button")
    expect(page.locator("#done")).to_have_text("Incident pris en compte.")
    state = get_incident(live.store, inc)
    assert state.status == "acknowledged" and state.acknowledged_by == "hotline"
    assert state.acknowledged_until == NOW + timedelta(hours=4)

    # a note, with HTML and a script in it: stored as typed, shown as text, never run
    evil = "Borne éteinte <script>alert('x')</script><img src=x onerror=alert(1)>"
    page.fill("#note-text", evil)
    page.click("#form-note button")
    expect(page.locator("#done")).to_have_text("Note ajoutée.")
    assert [e.text for e in get_incident(live.store, inc).events if e.kind == "note"] == [evil]
    expect(page.locator(".timeline .evtext").last).to_have_text(evil)
    assert page.dialogs == []  # type: ignore[attr-defined]

    # hand it to the site's SAV supplier
    page.click("#form-assign button")
    expect(page.locator("#done")).to_have_text("Incident confié au prestataire SAV.")
    state = get_incident(live.store, inc)
    site = world.inventory.site("florac-fs")
    assert state.status == "in_progress" and state.assigned_to == site.sav.name
    assert [e.kind for e in state.events][-1] == "sav_handoff"

    # resolve
    page.fill("#resolve-text", "Alimentation rebranchée")
    page.click("#form-resolve button")
    expect(page.locator("#done")).to_have_text("Incident résolu.")
    state = get_incident(live.store, inc)
    assert state.status == "resolved" and state.resolved_by == "hotline"

    # plan a weekly maintenance window crossing midnight on the site
    page.click('nav a[href="/maintenance"]')
    page.fill("#m-target", "florac-fs")
    page.fill("#m-start", "2026-11-28T22:00")
    page.fill("#m-end", "2026-11-29T02:00")
    page.fill("#m-why", "Sauvegarde hebdomadaire")
    page.check("#m-weekly")
    page.click("#form-maintenance button[type=submit]")
    expect(page.locator("#done")).to_have_text("Fenêtre de maintenance planifiée.")
    [window] = [w for w in list_windows(live.store, at=NOW) if w.why == "Sauvegarde hebdomadaire"]
    assert window.weekly and window.site_id == "florac-fs" and window.timezone == "Europe/Paris"
    assert window.start == NOW.replace(day=28, hour=21)  # 22:00 CET
    assert window.end - window.start == timedelta(hours=4)
    assert audit_actions(live.store, "hotline")[-5:] == [
        "incident.acknowledge",
        "incident.note",
        "incident.assign",
        "incident.resolve",
        "maintenance.add",
    ]
    page.context.close()


def test_an_auditor_sees_no_action_button(browser: object, live: Live, world: World) -> None:
    page = _page(browser, 390)
    login(page, live, "auditor")
    page.goto(f"{live.url}/incidents/{world.incidents['mende-pref-prn1/toner_empty']}")
    expect(page.locator("form.action")).to_have_count(0)
    expect(page.locator("text=Votre rôle permet de lire cet incident")).to_be_visible()
    page.context.close()
