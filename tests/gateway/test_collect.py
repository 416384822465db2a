"""Central side of the connection log: import into the store, query, export, purge, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fleet.cli.main import main
from fleet.errors import ConfigError
from fleet.gateway import collect, connlog
from fleet.store.db import Store, open_store

T0 = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
MAC = "36:96:3e:57:65:88"


def _lines(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _gateway_dir(tmp_path: Path) -> Path:
    d = tmp_path / "gw"
    d.mkdir()
    (d / "2026-11-23.jsonl").write_text(_lines([
        {"kind": "session", "key": f"s:{MAC}:1", "at": "2026-11-23T09:30:00Z", "mac": MAC,
         "ip": "172.18.1.162"},
        {"kind": "nat", "key": "n:1", "at": "2026-11-23T09:30:05Z", "mac": MAC,
         "ip": "172.18.1.162", "proto": "tcp", "sport": 51234, "public_ip": "198.18.0.2",
         "public_port": 51234},
    ]))
    return d


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")


def test_import_is_idempotent_and_completes_sessions(tmp_path: Path, store: Store) -> None:
    d = _gateway_dir(tmp_path)
    r1 = collect.import_dir(store, "rennes-maurepas", "rennes-maurepas-gw", d, T0)
    assert (r1.records, r1.inserted, r1.updated) == (2, 2, 0)
    r2 = collect.import_dir(store, "rennes-maurepas", "rennes-maurepas-gw", d, T0)
    assert (r2.inserted, r2.updated) == (0, 0)
    with (d / "2026-11-23.jsonl").open("a") as fh:
        fh.write(json.dumps({"kind": "session", "key": f"s:{MAC}:1", "at": "2026-11-23T09:30:00Z",
                             "end": "2026-11-23T10:02:00Z", "mac": MAC, "ip": "172.18.1.162"})
                 + "\n")
    r3 = collect.import_dir(store, "rennes-maurepas", "rennes-maurepas-gw", d, T0)
    assert (r3.inserted, r3.updated) == (0, 1)
    rows = collect.sessions(store, "rennes-maurepas", T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert len(rows) == 1 and rows[0].ended_at == datetime(2026, 11, 23, 10, 2, tzinfo=UTC)
    assert collect.sessions(store, "florac-fs", T0 - timedelta(hours=1), T0 + timedelta(hours=1)) == []
    assert collect.sessions(store, "rennes-maurepas", T0 + timedelta(hours=2), T0 + timedelta(hours=3)) == []


def test_a_bad_line_stores_nothing(tmp_path: Path, store: Store) -> None:
    d = _gateway_dir(tmp_path)
    with (d / "2026-11-23.jsonl").open("a") as fh:
        fh.write('{"kind": "nat", "url": "http://example.com/"}\n')
    with pytest.raises(ConfigError, match=r"2026-11-23.jsonl:3: unexpected field 'url'"):
        collect.import_dir(store, "rennes-maurepas", "gw", d, T0)
    assert collect.records(store, "rennes-maurepas", T0 - timedelta(days=1), T0 + timedelta(days=1)) == []


def test_export_csv_and_store_purge(tmp_path: Path, store: Store) -> None:
    collect.import_dir(store, "rennes-maurepas", "rennes-maurepas-gw", _gateway_dir(tmp_path), T0)
    a, b = collect.parse_period("2026-11-23", "2026-11-24", ZoneInfo("UTC"))
    text = collect.export_csv(collect.records(store, "rennes-maurepas", a, b), "rennes-maurepas",
                              a, b, T0)
    lines = text.splitlines()
    assert lines[0].startswith("# Relais") and "L34-1" in lines[3]
    assert lines[4] == ";".join(collect.EXPORT_COLUMNS)
    assert lines[5].startswith("rennes-maurepas;rennes-maurepas-gw;session;2026-11-23T09:30:00Z;;")
    assert lines[6].endswith("tcp;51234;198.18.0.2;51234")
    out = tmp_path / "req.csv"
    collect.write_export(out, text)
    assert out.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError, match="never overwritten"):
        collect.write_export(out, text)
    # purge with an injected clock: 364 days later everything stays, 366 days later it goes
    assert collect.purge(store, T0 + timedelta(days=364)) == 0
    assert collect.purge(store, T0 + timedelta(days=366)) == 2
    assert collect.records(store, "rennes-maurepas", a, b) == []


def test_period_errors_name_the_argument() -> None:
    utc = ZoneInfo("UTC")
    with pytest.raises(ConfigError, match=r"^--from 'last week': not an ISO date"):
        collect.parse_period("last week", "2026-11-24", utc)
    with pytest.raises(ConfigError, match=r"^--to '2026-11-01': must be after --from"):
        collect.parse_period("2026-11-23", "2026-11-01", utc)


PARIS = ZoneInfo("Europe/Paris")


def test_period_in_a_zone_or_with_an_offset() -> None:
    # a date alone is local midnight; an offset or Z wins over the zone
    assert collect.parse_period("2026-11-23", "2026-11-24T14:00", PARIS) == (
        datetime(2026, 11, 22, 23, 0, tzinfo=UTC), datetime(2026, 11, 24, 13, 0, tzinfo=UTC))
    assert collect.parse_period("2026-11-23T14:00Z", "2026-11-23T16:00+01:00", None) == (
        datetime(2026, 11, 23, 14, 0, tzinfo=UTC), datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    # Nouméa: UTC+11, no DST
    noumea = collect.parse_zone("site", "Pacific/Noumea")
    assert collect.parse_instant("2026-11-23T10:00", "--from", noumea) == datetime(
        2026, 11, 22, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(("start", "zone", "message"), [
    ("2026-11-23T14:00", None, "--from '2026-11-23T14:00': no time zone"),
    ("2026-11-23", None, "--from '2026-11-23': no time zone"),
    ("2026-10-25T02:30", PARIS, "occurs twice in Europe/Paris"),
    ("2026-03-29T02:30", PARIS, "does not exist in Europe/Paris"),
])
def test_a_period_without_a_zone_or_ambiguous_is_refused(start: str, zone: ZoneInfo | None,
                                                         message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        collect.parse_period(start, "2026-12-01T00:00Z", zone)


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^--tz 'Europe/Pariss': not a time zone"):
        collect.parse_zone("Europe/Pariss", "Europe/Paris")


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_collect_sessions_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    d = _gateway_dir(tmp_path)
    code, out, _ = _cli(["portal", "collect", "rennes-maurepas", "--from-dir", str(d), "--db", db,
                         "--json"], capsys)
    assert code == 0 and json.loads(out)["inserted"] == 2
    code, out, _ = _cli(["portal", "sessions", "rennes-maurepas", "--from", "2026-11-23",
                         "--to", "2026-11-24", "--db", db, "--json"], capsys)
    assert code == 0
    assert [(s["client_mac"], s["client_ip"]) for s in json.loads(out)] == [(MAC, "172.18.1.162")]
    target = tmp_path / "requisition.csv"
    code, out, _ = _cli(["portal", "export", "rennes-maurepas", "--from", "2026-11-23",
                         "--to", "2026-11-24", "--tz", "site", "--out", str(target), "--db", db],
                        capsys)
    assert code == 0 and "2 records" in out and target.is_file()
    assert "# période demandée (Europe/Paris) : 2026-11-23 00:00:00+0100" in target.read_text()
    # sessions read naive times in the site's zone: 10:29 Paris is before the 09:30 UTC start
    code, out, _ = _cli(["portal", "sessions", "rennes-maurepas", "--from", "2026-11-23T10:31",
                         "--to", "2026-11-24", "--db", db, "--json"], capsys)
    assert code == 0 and json.loads(out) == []  # the open session covers 09:30 UTC only
    code, out, _ = _cli(["portal", "sessions", "rennes-maurepas", "--from", "2026-11-23T10:29",
                         "--to", "2026-11-24", "--db", db, "--json"], capsys)
    assert code == 0 and len(json.loads(out)) == 1


@pytest.mark.parametrize(("argv", "message"), [
    (["portal", "sessions", "nowhere", "--from", "2026-11-23", "--to", "2026-11-24"],
     "SITE 'nowhere': no such site"),
    (["portal", "sessions", "florac-fs", "--from", "hier", "--to", "2026-11-24"],
     "--from 'hier': not an ISO date"),
    (["portal", "export", "florac-fs", "--from", "2026-11-23", "--to", "2026-11-22",
      "--tz", "UTC", "--out", "x.csv"], "--to '2026-11-22': must be after --from"),
    (["portal", "export", "florac-fs", "--from", "2026-11-23T14:00", "--to",
      "2026-11-23T16:00", "--out", "x.csv"], "--from '2026-11-23T14:00': no time zone"),
    (["portal", "sessions", "florac-fs", "--from", "2026-11-23", "--to", "2026-11-24",
      "--tz", "Mars/Olympus"], "--tz 'Mars/Olympus': not a time zone"),
    (["blocklists", "update", "--from", "/nonexistent/blacklists.tar.gz"],
     "--from '/nonexistent/blacklists.tar.gz': no such file or directory"),
    (["blocklists", "update", "--from", "blocklists/sample", "--site", "nowhere", "--no-push"],
     "--site 'nowhere': no such site"),
])
def test_cli_errors_are_one_line_naming_the_argument(
        argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_DB_URL", f"sqlite:///{tmp_path / 'e.sqlite'}")
    monkeypatch.setenv("FLEET_STATE_DIR", str(tmp_path / "state"))
    code, _, err = _cli(argv, capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], err


def test_cli_blocklists_counts_and_a_bad_archive_keeps_the_lists(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_STATE_DIR", str(tmp_path / "state"))
    code, out, _ = _cli(["blocklists", "update", "--from", "blocklists/sample", "--no-push",
                         "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["categories"]["doh"] == {"entries": 12, "usage": "black", "skipped": 0}
    assert data["missing"] == {"standard": [], "pmi": []}
    assert data["sample"] is True
    kept = tmp_path / "state" / "blocklists" / "lists"
    assert (kept / "malware" / "domains").is_file()
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"garbage")
    code, _, err = _cli(["blocklists", "update", "--from", str(bad), "--no-push"], capsys)
    assert code == 2 and "not a readable tar archive" in err
    assert (kept / "malware" / "domains").is_file()  # the good lists survive a bad archive
    code, out, _ = _cli(["blocklists", "show", "--json"], capsys)
    assert code == 0 and json.loads(out)["sample"] is True


def test_cli_blocklists_update_refuses_pmi_gateways_from_sample_lists(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_STATE_DIR", str(tmp_path / "state"))
    code, out, _ = _cli(["blocklists", "update", "--from", "blocklists/sample", "--site",
                         "rennes-maurepas", "--json"], capsys)
    assert code == 1  # nothing was pushed: the PMI gateway is refused before any connection
    assert json.loads(out)["gateways"] == [{
        "host": "rennes-maurepas-gw", "ok": False,
        "message": "profile 'pmi' from sample lists (the list store "
                   f"{tmp_path / 'state' / 'blocklists'}) outside the lab: load the real UT1 "
                   "lists first: fleet blocklists update --from blacklists.tar.gz"}]


def test_connlog_module_is_the_gateway_tool() -> None:
    # the role installs this very file on the gateway: it must not need the fleet package
    src = Path(connlog.__file__).read_text()
    assert "from fleet.errors import RecordError" in src
    alone = subprocess.run([sys.executable, "-I", "-S", "-c", src.replace("__main__", "_"), "--help"],
                           capture_output=True, text=True, check=False)  # no site-packages, no fleet
    assert alone.returncode == 0, alone.stderr
    assert (Path(__file__).resolve().parents[2] / "roles/captive_portal/files/relais-connlog"
            ).resolve() == Path(connlog.__file__).resolve()
