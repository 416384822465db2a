"""`fleet poll | status | incidents | maintenance`, through the real entry point.

The poll test runs the real poller against snmpsim on 127.0.0.1 (a recording of a real printer,
edited to a paper jam) for an inventory whose only site lives on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from fleet.cli.main import main
from fleet.store import open_store
from tests.incidents.samples import REPO
from tests.monitor.agents import FIXTURES, Agent, snmpsim

COMMUNITY = "demo-community-48"  # the demo vault's printer community
SITE = """\
all:
  children:
    site_loop:
      vars:
        site_id: loop
        site_name: "Loopback test site"
        site_kind: france_services
        site_address: "1 rue du Test"
        site_commune: "Florac-Trois-Rivières"
        site_postcode: "48400"
        site_coordinates: {{lat: 44.3241, lon: 3.5936}}
        site_timezone: Europe/Paris
        site_opening_hours: {{mon: ["00:00-24:00"], tue: ["00:00-24:00"], wed: ["00:00-24:00"],
          thu: ["00:00-24:00"], fri: ["00:00-24:00"], sat: ["00:00-24:00"], sun: ["00:00-24:00"]}}
        site_networks: {{management: 127.0.0.0/24}}
        site_referent: {{name: "Animateur"}}
        site_sav: {{name: "SAV Loop", phone: "+33 4 00 00 00 00", contract: LOOP-1}}
      hosts:
        loop-prn1:
          ansible_host: 127.0.0.1
          snmp_port: {port}
    printer:
      hosts:
        loop-prn1:
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    data = tmp_path_factory.mktemp("rec") / "data"
    data.mkdir(mode=0o755)
    target = data / f"{COMMUNITY}.snmprec"
    text = (FIXTURES / "printers" / "canonprinter_tm.snmprec").read_text(encoding="utf-8")
    assert "1.3.6.1.2.1.25.3.5.1.2.1|4x|00\n" in text
    target.write_text(text.replace("1.3.6.1.2.1.25.3.5.1.2.1|4x|00\n",
                                   "1.3.6.1.2.1.25.3.5.1.2.1|4x|04\n"), encoding="utf-8")  # fmt: skip
    with snmpsim(data, COMMUNITY) as served:
        yield served


@pytest.fixture
def env(tmp_path: Path, agent: Agent, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    inv = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inv, ignore=shutil.ignore_patterns("sites"))
    shutil.copy2(REPO / "vault-password", tmp_path / "vault-password")
    (inv / "sites").mkdir()
    (inv / "sites" / "loop.yml").write_text(SITE.format(port=agent.port), encoding="utf-8")
    shutil.copytree(REPO / "monitoring", tmp_path / "monitoring")
    monkeypatch.chdir(tmp_path)
    values = {
        "FLEET_INVENTORY": str(inv),
        "FLEET_DB_URL": f"sqlite:///{tmp_path}/var/fleet.sqlite",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    open_store(values["FLEET_DB_URL"]).dispose()  # the poller's store (readers never create one)
    return values


def fleet_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def fleet_ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_poll_status_and_the_hotline_workflow(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The real command, in its own process, against the real agent.
    proc = subprocess.run(
        [sys.executable, "-m", "fleet.cli.main", "poll", "--once", "--json", "--timeout", "1"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, **env}, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["devices"] == 1 and report["answered"] == 1
    assert report["opened"] == [{"device": "loop-prn1", "check": "printer_jam"}]

    status = fleet_json(capsys, "status", "loop")
    assert isinstance(status, dict)
    assert status["summary"] == "incident" and status["open"] is True
    [prn] = status["devices"]
    assert prn["state"] == "degraded" and prn["failing_checks"] == ["printer_jam"]
    sites = fleet_json(capsys, "status")
    assert sites == [
        {k: v for k, v in status.items() if k not in ("devices", "contacts")}  # type: ignore[union-attr]
    ]
    assert status["contacts"]["sav"]["contract"] == "LOOP-1"  # type: ignore[index]
    device = fleet_json(capsys, "status", "loop-prn1")
    assert isinstance(device, dict) and device["incidents"][0]["check"] == "printer_jam"
    assert "loop-prn1" in fleet_ok(capsys, "status", "loop")

    [inc] = fleet_json(capsys, "incidents", "list")  # type: ignore[misc]
    iid = str(inc["id"])
    fleet_ok(capsys, "incidents", "ack", iid, "--by", "anna", "-m", "seen")
    fleet_ok(capsys, "incidents", "assign", iid, "--by", "anna")
    fleet_ok(capsys, "incidents", "note", iid, "animateur removed the paper", "--by", "anna")
    fleet_ok(capsys, "incidents", "resolve", iid, "--by", "anna")
    fleet_ok(capsys, "incidents", "close", iid, "--by", "anna")
    shown = fleet_json(capsys, "incidents", "show", iid)
    assert isinstance(shown, dict)
    assert shown["status"] == "closed" and shown["assigned_to"] == "SAV Loop"
    assert [e["kind"] for e in shown["events"]] == [
        "opened", "acknowledged", "sav_handoff", "note", "resolved", "closed",
    ]  # fmt: skip
    assert shown["events"][2]["data"]["contract"] == "LOOP-1"
    assert fleet_json(capsys, "incidents", "list") == []
    assert len(fleet_json(capsys, "incidents", "list", "--all")) == 1  # type: ignore[arg-type]
    assert "incident #" in fleet_ok(capsys, "incidents", "show", iid)


def test_maintenance_commands(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    window = fleet_json(capsys, "maintenance", "add", "loop", "--for", "1h30m", "--why", "new toner",
                        "--by", "luc")  # fmt: skip
    assert isinstance(window, dict) and window["site"] == "loop" and window["who"] == "luc"
    [listed] = fleet_json(capsys, "maintenance", "list")  # type: ignore[misc]
    assert listed["id"] == window["id"]
    fleet_ok(capsys, "maintenance", "end", str(window["id"]))
    assert fleet_json(capsys, "maintenance", "list") == []
    device = fleet_json(capsys, "maintenance", "add", "loop-prn1", "--why", "jam", "--by", "luc")
    assert isinstance(device, dict) and device["device"] == "loop-prn1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["incidents", "ack", "999", "--by", "a"], "incident #999 does not exist"),
        (["status", "florak"], "'florak' is neither a site nor a device"),
        (["maintenance", "add", "loop", "--why", "x", "--for", "soon"], "--for 'soon'"),
        (["poll", "--once", "--daemon"], "exclude each other"),
        (["poll", "--shard", "3/2"], "--shard '3/2'"),
        (["poll", "--clock", "2026-11-23T23:00"], "give its offset"),
        (["poll", "--rules", "nope.yml"], "nope.yml: cannot read"),
    ],
)
def test_mistakes_give_one_line_errors(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    capsys.readouterr()
    code = main(args)
    err = capsys.readouterr().err
    assert code != 0
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_poll_daemon_runs_cycles_at_its_interval_and_shards_split_sites(
    env: dict[str, str], tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fleet.cli.main", "poll", "--daemon", "--cycles", "2",
         "--interval", "1", "--timeout", "1", "--json"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, **env}, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    decoder, text, reports = json.JSONDecoder(), proc.stdout.strip(), []
    while text:
        doc, end = decoder.raw_decode(text)
        reports.append(doc)
        text = text[end:].strip()
    assert len(reports) == 2
    first, second = (datetime.fromisoformat(r["started_at"]) for r in reports)
    # never early; how late depends on the machine's load, so no upper bound
    assert (second - first).total_seconds() >= 0.9
    assert reports[0]["opened"] and not reports[1]["opened"], "the jam opens once"
    # The single site belongs to exactly one of two shards.
    counts = []
    for shard in ("0/2", "1/2"):
        out = subprocess.run(
            [sys.executable, "-m", "fleet.cli.main", "poll", "--once", "--shard", shard,
             "--json", "--timeout", "1"],
            capture_output=True, text=True, cwd=tmp_path, env={**os.environ, **env}, timeout=120,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        counts.append(json.loads(out.stdout)["devices"])
    assert sorted(counts) == [0, 1]


def test_poll_daemon_hands_the_new_incident_to_glpi(env: dict[str, str], tmp_path: Path) -> None:
    """With GLPI configured, the polling daemon delivers the outbox after its cycle: the jam it
    opened is a GLPI ticket without a separate `fleet handoff sync` (issue 13)."""
    from fleet.lab.glpi_standin import GlpiStandIn

    glpi = GlpiStandIn(app_token="demo-glpi-app-token", user_token="demo-glpi-user-token").start()
    try:
        glpi.add_supplier("SAV Loop")
        argv = [sys.executable, "-m", "fleet.cli.main", "poll", "--daemon", "--cycles", "1",
                "--interval", "1", "--timeout", "1", "--json"]
        # positive control: without GLPI configured the daemon hands nothing over
        done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, **env}, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["opened"] and glpi.tickets == {}
        (tmp_path / "var" / "fleet.sqlite").unlink()  # a fresh store: the jam opens again
        open_store(env["FLEET_DB_URL"]).dispose()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, **env, "FLEET_GLPI_URL": glpi.url}, timeout=120,
                              check=False)
        assert done.returncode == 0, done.stderr
        [ticket] = glpi.tickets.values()
        assert "loop-prn1" in str(ticket)
    finally:
        glpi.stop()
