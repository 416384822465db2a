"""Central side of the connection log: import into the store, query, export, purge, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
    a, b = collect.parse_period("2026-11-23", "2026-11-24")
    text = collect.export_csv(collect.records(store, "rennes-maurepas", a, b), "rennes-maurepas",
                              a, b, T0)
    lines = text.splitlines()
    assert lines[0].startswith("# Relais") and "L34-1" in lines[2]
    assert lines[3] == ";".join(collect.EXPORT_COLUMNS)
    assert lines[4].startswith("rennes-maurepas;rennes-maurepas-gw;session;2026-11-23T09:30:00Z;;")
    assert lines[5].endswith("tcp;51234;198.18.0.2;51234")
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
    with pytest.raises(ConfigError, match=r"^--from 'last week': not an ISO date"):
        collect.parse_period("last week", "2026-11-24")
    with pytest.raises(ConfigError, match=r"^--to '2026-11-01': must be after --from"):
        collect.parse_period("2026-11-23", "2026-11-01")


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
                         "--to", "2026-11-24", "--out", str(target), "--db", db], capsys)
    assert code == 0 and "2 records" in out and target.is_file()


@pytest.mark.parametrize(("argv", "message"), [
    (["portal", "sessions", "nowhere", "--from", "2026-11-23", "--to", "2026-11-24"],
     "SITE 'nowhere': no such site"),
    (["portal", "sessions", "florac-fs", "--from", "hier", "--to", "2026-11-24"],
     "--from 'hier': not an ISO date"),
    (["portal", "export", "florac-fs", "--from", "2026-11-23", "--to", "2026-11-22",
      "--out", "x.csv"], "--to '2026-11-22': must be after --from"),
    (["blocklists", "update", "--from", "/nonexistent/blacklists.tar.gz"],
     "--from '/nonexistent/blacklists.tar.gz': no such file or directory"),
    (["blocklists", "update", "--from", "blocklists", "--site", "nowhere", "--no-push"],
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
    code, out, _ = _cli(["blocklists", "update", "--from", "blocklists", "--no-push", "--json"],
                        capsys)
    assert code == 0
    data = json.loads(out)
    assert data["categories"]["doh"] == {"entries": 12, "usage": "black", "skipped": 0}
    assert data["missing"] == {"standard": [], "pmi": []}
    kept = tmp_path / "state" / "blocklists"
    assert (kept / "malware" / "domains").is_file()
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"garbage")
    code, _, err = _cli(["blocklists", "update", "--from", str(bad), "--no-push"], capsys)
    assert code == 2 and "not a readable tar archive" in err
    assert (kept / "malware" / "domains").is_file()  # the good lists survive a bad archive


def test_connlog_module_is_the_gateway_tool() -> None:
    # the role installs this very file on the gateway: it must not need the fleet package
    src = Path(connlog.__file__).read_text()
    assert "from fleet.errors import RecordError" in src
    alone = subprocess.run([sys.executable, "-I", "-S", "-c", src.replace("__main__", "_"), "--help"],
                           capture_output=True, text=True, check=False)  # no site-packages, no fleet
    assert alone.returncode == 0, alone.stderr
    assert (Path(__file__).resolve().parents[2] / "roles/captive_portal/files/relais-connlog"
            ).resolve() == Path(connlog.__file__).resolve()
