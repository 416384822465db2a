"""GLPI's known pitfalls, one at a time, on the stand-in: a session rejected again right after a
new one (re-open once, then stop — never a loop), refused credentials, 5xx on login, a 4xx on
one change (stop that incident's queue, tell the hotline, resume after ``retry``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import SecretStr

from fleet.handoff import RunReport, run_once
from fleet.handoff.config import GlpiConfig
from fleet.incidents.lifecycle import get_incident
from fleet.lab.glpi_standin import GlpiStandIn
from fleet.store import Store, open_store
from fleet.store.outbox import GLPI, enable_channels, entries_of, retry_incident
from tests.handoff.samples import (
    SUPPLIER,
    T0,
    add_note,
    clock_at,
    config,
    glpi_config,
    hand_to_supplier,
    hours,
    inventory,
    open_borne,
    resolve_it,
)

AUTH = {"v1": ("GET", r"/initSession$"), "v2": ("POST", r"/api\.php/token$")}


def _store(tmp_path: Path) -> Store:
    store = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    enable_channels(store, [GLPI], T0)
    return store


def _pass(store: Store, cfg: GlpiConfig, at: float) -> RunReport:
    return run_once(store, config(glpi=cfg), inventory(), clock=clock_at(T0 + hours(at)))


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_session_rejected_twice_in_a_row_stops_without_looping(
    api: str, glpi: GlpiStandIn, tmp_path: Path
) -> None:
    store = _store(tmp_path)
    incident = open_borne(store)
    # every search is answered as if the session had just expired
    glpi.fault("GET", r"/(apirest\.php/Ticket|Assistance/Ticket)$", "expire", times=100)
    report = _pass(store, glpi_config(glpi.url, api), 1)
    assert "rejected again right after a new one" in report.channel_errors[GLPI]
    assert glpi.count(*AUTH[api]) == 2  # the first session, and one new one: no loop
    [entry] = entries_of(store, incident)
    assert (entry.status, entry.attempts) == ("pending", 1)
    assert not [e for e in get_incident(store, incident).events if e.kind == "handoff_failed"]
    glpi.faults.clear()
    assert _pass(store, glpi_config(glpi.url, api), 2).delivered  # control: fine once GLPI is
    assert len(glpi.tickets) == 1


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_refused_credentials_leave_the_rows_waiting_and_the_secret_unsaid(
    api: str, glpi: GlpiStandIn, tmp_path: Path
) -> None:
    store = _store(tmp_path)
    incident = open_borne(store)
    good = glpi_config(glpi.url, api)
    bad = (
        replace(good, user_token=SecretStr("wrong-user-token-42"))
        if api == "v1"
        else replace(good, password=SecretStr("wrong-password-42"))
    )
    report = _pass(store, bad, 1)
    error = report.channel_errors[GLPI]
    assert ("ERROR_GLPI_LOGIN_USER_TOKEN" if api == "v1" else "invalid_grant") in error
    assert "wrong-" not in error and glpi.tickets == {}
    [entry] = entries_of(store, incident)
    assert entry.status == "pending" and "wrong-" not in (entry.last_error or "")
    assert _pass(store, good, 2).delivered and len(glpi.tickets) == 1


def test_a_5xx_on_login_is_retried_later(glpi: GlpiStandIn, tmp_path: Path) -> None:
    store = _store(tmp_path)
    incident = open_borne(store)
    glpi.fault("GET", r"/initSession$", "500")
    report = _pass(store, glpi_config(glpi.url, "v1"), 1)
    assert report.retried and "HTTP 500" in report.retried[0][3] and not report.channel_errors
    assert _pass(store, glpi_config(glpi.url, "v1"), 2).delivered
    assert [e.status for e in entries_of(store, incident)] == ["delivered"]


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_an_unknown_supplier_stops_the_incident_and_tells_the_hotline_until_retried(
    api: str, glpi: GlpiStandIn, tmp_path: Path
) -> None:
    store = _store(tmp_path)
    sid = next(k for k, v in glpi.suppliers.items() if v["name"] == SUPPLIER)
    glpi.suppliers[sid]["name"] = "Renamed in GLPI"
    incident = open_borne(store)
    add_note(store, incident, T0 + hours(0.1))
    hand_to_supplier(store, incident, T0 + hours(0.2))
    resolve_it(store, incident, T0 + hours(0.3))
    cfg = glpi_config(glpi.url, api)
    report = _pass(store, cfg, 1)
    assert [k for _, _, k, _ in report.failed] == ["sav_handoff"]
    assert "not found in GLPI" in report.failed[0][3]
    assert [e.status for e in entries_of(store, incident)] == ["delivered", "delivered", "failed", "pending"]
    told = [e.text for e in get_incident(store, incident).events if e.kind == "handoff_failed"]
    assert told and SUPPLIER in told[0] and f"fleet handoff retry {incident}" in told[0]
    assert not _pass(store, cfg, 5).delivered  # still blocked: the resolution waits behind it

    glpi.suppliers[sid]["name"] = SUPPLIER  # the hotline fixes GLPI, then retries
    assert retry_incident(store, incident, T0 + hours(6)) == 2
    assert [k for _, _, k in _pass(store, cfg, 6).delivered] == ["sav_handoff", "resolved"]
    [ticket] = glpi.tickets.values()
    assert glpi.suppliers_of(ticket["id"]) == [sid] and len(glpi.solutions_of(ticket["id"])) == 1
    assert len(glpi.followups_of(ticket["id"])) == 2


def test_giving_up_a_refused_change_lets_the_next_ones_go(glpi: GlpiStandIn, tmp_path: Path) -> None:
    from fleet.store.outbox import skip_failed

    store = _store(tmp_path)
    sid = next(k for k, v in glpi.suppliers.items() if v["name"] == SUPPLIER)
    del glpi.suppliers[sid]
    incident = open_borne(store)
    hand_to_supplier(store, incident, T0 + hours(0.1))
    resolve_it(store, incident, T0 + hours(0.2))
    cfg = glpi_config(glpi.url, "v1")
    assert _pass(store, cfg, 1).failed
    assert skip_failed(store, incident, T0 + hours(2), "anne") == 1
    assert [k for _, _, k in _pass(store, cfg, 2).delivered] == ["resolved"]
    assert [e.status for e in entries_of(store, incident)] == ["delivered", "skipped", "delivered"]
    assert any(
        e.text.startswith("glpi (sav_handoff) given up by anne") for e in get_incident(store, incident).events
    )
