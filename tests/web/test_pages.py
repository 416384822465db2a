"""What the pages say, on the seeded store: metrics, the closed site, filters and pages of
incidents, maintenance form errors, search without accents, the acknowledgement expiry."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from fleet.incidents import acknowledge, get_incident
from fleet.incidents.lifecycle import open_incident
from fleet.store import Store
from fleet.web.app import Dashboard
from tests.web.conftest import csrf_of
from tests.web.world import NOW, Clock, World


def test_metrics_counts_only(app: FastAPI, world: World) -> None:
    text = TestClient(app).get("/metrics").text
    assert 'relais_open_incidents{severity="critical"} 2.0' in text
    assert 'relais_devices{site_kind="france_services",state="down"} 1.0' in text  # Florac's borne
    expected_off = re.search(r'relais_devices\{site_kind="(\w+)",state="expected_off"\} (\d+)', text)
    assert expected_off and int(expected_off.group(2)) == 7  # Nouméa (with its hall screen), closed
    assert "relais_handoff_queue 0.0" in text
    assert 'relais_poll_duration_seconds{stat="avg"}' in text
    for site in world.inventory.sites:  # no name of a site, device or person
        assert site.id not in text
    assert "hotline" not in text


def test_the_closed_site_is_not_red(client_as: Callable[[str], TestClient]) -> None:
    c = client_as("hotline")
    page = c.get("/sites/noumea-ps").text
    assert "Fermé" in page and "UTC+11" in page  # site-local time with its zone label
    assert 'class="badge st-expected"' in page
    overview = c.get("/").text
    row = re.search(r'<tr data-site="noumea-ps"[^>]*>.*?</tr>', overview, re.S)
    assert row and "st-expected" in row.group(0) and "st-critical" not in row.group(0)


def test_numbers_and_reasons_are_written_in_the_page_s_language(
    client_as: Callable[[str], TestClient],
) -> None:
    c = client_as("hotline")
    fr = c.get("/devices/web-lab-prn1?lang=fr").text
    en = c.get("/devices/web-lab-prn1?lang=en").text
    # the response time's last value has decimals: a comma in French, a point in English
    assert re.search(r"dernière valeur : \d+,\d", fr) and not re.search(r"dernière valeur : \d+\.\d", fr)
    assert re.search(r"last value: \d+\.\d", en) and not re.search(r"last value: \d+,\d", en)
    # a failed check's reason in words, not its code (Florac's borne does not answer)
    site = c.get("/sites/florac-fs?lang=fr").text
    assert "ne répond pas" in site and "no_answer" not in site


def test_incident_filters_and_keyset_pages(
    store: Store, app: FastAPI, client_as: Callable[[str], TestClient]
) -> None:
    with store.write() as session:
        for k in range(120):
            open_incident(
                session,
                device=f"florac-fs-pc{k}",
                site_id="florac-fs",
                check="cpu",
                reason="over",
                severity="minor",
                title=f"pc{k} cpu",
                at=NOW - timedelta(minutes=k),
            )
    c = client_as("hotline")
    ids: list[int] = []
    url = "/incidents?site=florac-fs&severity=minor"
    while url:
        page = c.get(url).text
        ids += [int(x) for x in re.findall(r'<tr data-incident="(\d+)"', page)]
        nxt = re.search(r'<a href="([^"]+)" rel="next">', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    assert len(ids) == 120 and len(set(ids)) == 120 and ids == sorted(ids, reverse=True)
    crit = c.get("/incidents?severity=critical").text
    assert set(re.findall(r'data-incident="(\d+)"', crit)) >= {"3", "4"}
    assert re.findall(r'data-incident="(\d+)"', c.get("/incidents?kind=borne").text) == ["3"]
    assert re.findall(r'data-incident="(\d+)"', c.get("/incidents?status=resolved").text) == ["1"]
    assert "Aucun incident" in c.get("/incidents?age=older7d").text
    for bad in (
        "/incidents?before=abc&status=nope&severity=%3Cb%3E&age=x&kind=x",
        "/incidents?before=99999999999999999999",
    ):
        assert c.get(bad).status_code == 200


def test_maintenance_form_errors_are_a_page_not_a_crash(client_as: Callable[[str], TestClient]) -> None:
    c = client_as("technician")
    token = csrf_of(c.get("/maintenance").text)
    cases = {
        "target": {"target": "nowhere", "start": "2026-11-24T09:00", "end": "2026-11-24T10:00", "why": "x"},
        "dates": {"target": "florac-fs", "start": "demain", "end": "2026-11-24T10:00", "why": "x"},
        "order": {"target": "florac-fs", "start": "2026-11-24T11:00", "end": "2026-11-24T10:00", "why": "x"},
        "why": {"target": "florac-fs", "start": "2026-11-24T09:00", "end": "2026-11-24T10:00", "why": " "},
    }
    for what, data in cases.items():
        r = c.post("/maintenance", data={**data, "csrf": token}, headers={"accept-language": "fr"})
        assert r.status_code == 400, what
        assert 'id="form-error"' in r.text, what
        assert 'value="' + data["target"] + '"' in r.text  # what was typed is kept
    r = c.post(
        "/maintenance",
        data={
            "target": "florac-fs-pc1",
            "start": "2026-11-24T09:00",
            "end": "2026-11-24T10:00",
            "why": "disque",
            "csrf": token,
        },
    )
    assert r.status_code == 200 and "planifiée" in r.text


def test_search_ignores_accents_and_finds_incidents(client_as: Callable[[str], TestClient]) -> None:
    c = client_as("auditor")
    page = c.get("/search?q=noumea").text
    assert 'href="/sites/noumea-ps"' in page
    assert 'href="/sites/mairie-barre-des-cevennes"' in c.get("/search?q=Cevennes").text
    assert 'href="/incidents/3"' in c.get("/search?q=%233").text


def test_an_expired_acknowledgement_shows_open_again(
    store: Store, app: FastAPI, clock: Clock, client_as: Callable[[str], TestClient]
) -> None:
    with store.write() as session:
        row = open_incident(
            session,
            device="florac-fs-pc1",
            site_id="florac-fs",
            check="cpu",
            reason="over",
            severity="minor",
            title="cpu",
            at=NOW,
        )
        assert row is not None
        inc = row.id
    acknowledge(store, inc, who="hotline", at=NOW, until=NOW + timedelta(hours=1))
    dash: Dashboard = app.state.dashboard
    clock.now = NOW + timedelta(hours=1)
    dash.housekeeping()
    assert get_incident(store, inc).status == "open"
    page = client_as("hotline").get(f"/incidents/{inc}").text
    assert 'data-status="open"' in page and "prise en compte expirée" in page
