"""`fleet handoff sync | status | retry` on the demo inventory, against the GLPI stand-in: the
GLPI tokens come from the demo vault, only the URL from the environment; one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet.cli.main import main
from fleet.incidents.lifecycle import assign, note
from fleet.inventory import load_inventory
from fleet.lab.glpi_standin import GlpiStandIn
from fleet.store import open_store
from tests.handoff.samples import T0, hours, open_borne

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventory"
DEMO_TOKENS = ("demo-glpi-app-token", "demo-glpi-user-token")  # the demo vault's (public) values


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_sync_status_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    glpi = GlpiStandIn(app_token=DEMO_TOKENS[0], user_token=DEMO_TOKENS[1]).start()
    try:
        demo = load_inventory(INVENTORY).site("florac-fs")
        glpi.add_supplier(demo.sav.name)
        db = f"sqlite:///{tmp_path}/fleet.sqlite"
        monkeypatch.setenv("FLEET_GLPI_URL", glpi.url)
        common = ("--db", db, "--inventory", str(INVENTORY))

        code, out, err = _run(capsys, "handoff", "status", "--db", db)
        assert code == 2 and "no store at" in err  # a reader never creates the store
        open_store(db).dispose()  # the poller's store
        code, out, _ = _run(capsys, "handoff", "status", "--db", db)
        assert code == 0 and "no sender has run yet" in out
        code, out, err = _run(capsys, "handoff", "sync", "--once", *common)
        assert code == 0, err
        assert "0 delivered" in out

        store = open_store(db)
        incident = open_borne(store, T0, device="florac-fs-borne1")
        note(store, incident, who="anne", text="Écran noir", at=T0 + hours(0.1))
        assign(store, incident, to=demo.sav, who="anne", at=T0 + hours(0.2))
        code, out, err = _run(capsys, "handoff", "sync", "--once", *common)
        assert code == 0, err
        assert "3 delivered" in out
        [ticket] = glpi.tickets.values()

        code, out, _ = _run(capsys, "handoff", "status", "--json", "--db", db)
        status = json.loads(out)
        assert status["counts"] == {"glpi": {"delivered": 3}}
        assert [d["kind"] for d in status["delivered"]] == ["sav_handoff", "note", "opened"]
        assert {d["ticket"] for d in status["delivered"]} == {str(ticket["id"])}

        code, out, _ = _run(capsys, "incidents", "show", str(incident), "--db", db)
        assert f"GLPI ticket {ticket['id']} created" in out

        code, out, _ = _run(capsys, "handoff", "retry", str(incident), "--db", db)
        assert code == 0 and "nothing waits" in out
        code, _, err = _run(capsys, "handoff", "retry", "4242", "--db", db)
        assert code == 2 and err.strip() == "error: incident #4242 does not exist"

        everything = json.dumps(glpi.tickets) + json.dumps(glpi.followups)
        assert not [t for t in DEMO_TOKENS if t in everything]
        store.dispose()
    finally:
        glpi.stop()


def test_sync_with_nothing_configured_or_half_configured_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path}/fleet.sqlite"
    code, _, err = _run(capsys, "handoff", "sync", "--db", db, "--inventory", str(INVENTORY))
    assert code == 2 and err.count("\n") == 1 and "FLEET_GLPI_URL" in err
    monkeypatch.setenv("FLEET_GLPI_URL", "https://glpi.example")
    monkeypatch.setenv("FLEET_GLPI_API", "v2")
    code, _, err = _run(capsys, "handoff", "sync", "--db", db, "--inventory", str(INVENTORY))
    assert code == 2 and err.count("\n") == 1 and "FLEET_GLPI_CLIENT_ID" in err
    code, _, err = _run(capsys, "handoff", "sync", "--once", "--daemon", "--db", db)
    assert code == 2 and "exclude each other" in err


def test_a_sync_whose_glpi_refuses_the_credentials_exits_1_without_printing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    glpi = GlpiStandIn().start()  # expects other tokens than the demo vault's
    try:
        db = f"sqlite:///{tmp_path}/fleet.sqlite"
        monkeypatch.setenv("FLEET_GLPI_URL", glpi.url)
        assert _run(capsys, "handoff", "sync", "--db", db, "--inventory", str(INVENTORY))[0] == 0
        store = open_store(db)
        open_borne(store, T0, device="florac-fs-borne1")
        store.dispose()
        code, out, err = _run(capsys, "handoff", "sync", "--db", db, "--inventory", str(INVENTORY))
        assert code == 1 and "glpi unusable for now" in err and "ERROR_WRONG_APP_TOKEN_PARAMETER" in err
        assert not [t for t in DEMO_TOKENS if t in out + err]
        code, out, _ = _run(capsys, "handoff", "status", "--db", db)
        assert "1 pending" in out
        [waiting] = json.loads(_run(capsys, "handoff", "status", "--json", "--db", db)[1])["waiting"]
        assert waiting["status"] == "pending" and "ERROR_WRONG_APP_TOKEN" in waiting["last_error"]
    finally:
        glpi.stop()
