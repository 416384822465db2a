"""What the hotline and the technicians rely on, command by command, on a copy of the store a real
poll filled (tests/cli/conftest.py): refusals that protect them, searches that find, stores that
are never made up."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleet.cli.main import main
from fleet.store import open_store
from tests.cli.conftest import Polled
from tests.conftest import REPO


@pytest.fixture
def store(polled: Polled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private copy of the polled store (these tests write to it)."""
    src = polled.root / "state"
    for f in src.iterdir():
        shutil.copy2(f, tmp_path / f.name)
    url = f"sqlite:///{tmp_path / 'fleet.sqlite'}"
    monkeypatch.setenv("FLEET_INVENTORY", str(polled.inventory))
    monkeypatch.setenv("FLEET_DB_URL", url)
    return url


def fleet(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def events(capsys: pytest.CaptureFixture[str], incident: int) -> list[str]:
    code, out, err = fleet(capsys, "incidents", "show", str(incident), "--json")
    assert code == 0, err
    return [e["kind"] for e in json.loads(out)["events"]]


# ------------------------------------------------------------- refusals that protect ------


@pytest.mark.usefixtures("store")
@pytest.mark.parametrize("argv", [
    ["incidents", "ack", "2"], ["incidents", "note", "2", "seen"], ["incidents", "assign", "2"],
    ["incidents", "resolve", "2"],
])
def test_an_empty_by_is_refused_and_records_nothing(capsys: pytest.CaptureFixture[str],
                                                    argv: list[str]) -> None:
    before = events(capsys, 2)
    code, _out, err = fleet(capsys, *argv, "--by", " ")
    assert code == 2 and "--by" in err and len(err.strip().splitlines()) == 1
    assert events(capsys, 2) == before
    code, _out, err = fleet(capsys, *argv, "--by", "anna")  # positive control
    assert code == 0, err
    assert len(events(capsys, 2)) == len(before) + 1


@pytest.mark.usefixtures("store")
def test_maintenance_is_bounded_to_31_days_unless_forced(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["maintenance", "add", "st-germain-calberte-prn1", "--why", "travaux", "--by", "luc"]
    code, _out, err = fleet(capsys, *base, "--for", "32d")
    assert code == 2 and "31" in err and "--force" in err
    code, _out, err = fleet(capsys, *base, "--start", "2026-12-01 09:00", "--until", "2027-01-05 09:00")
    assert code == 2 and "--force" in err
    code, out, err = fleet(capsys, *base, "--for", "31d", "--json")
    assert code == 0, err
    window = json.loads(out)
    assert datetime.fromisoformat(window["end"]) - datetime.fromisoformat(window["start"]) == \
        timedelta(days=31)
    code, _out, err = fleet(capsys, *base, "--for", "90d", "--force")
    assert code == 0, err
    code, _out, err = fleet(capsys, *base, "--for", "2h", "--why", " ")
    assert code == 2 and "--why" in err


@pytest.mark.usefixtures("store")
def test_maintenance_times_are_the_sites_wall_clock_or_carry_their_offset(
    capsys: pytest.CaptureFixture[str],
) -> None:
    add = ["maintenance", "add", "--why", "câblage", "--by", "luc", "--json"]
    code, out, err = fleet(capsys, *add, "noumea-riviere-salee-prn1", "--start", "2026-12-01 08:00",
                           "--until", "2026-12-01 12:00")
    assert code == 0, err
    window = json.loads(out)  # Nouméa is UTC+11
    assert datetime.fromisoformat(window["start"]) == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
    assert datetime.fromisoformat(window["end"]) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    code, out, err = fleet(capsys, *add, "st-germain-calberte", "--start", "2026-12-01T08:00Z",
                           "--until", "2026-12-01 12:00")  # an offset is kept; Paris is UTC+1
    assert code == 0, err
    window = json.loads(out)
    assert datetime.fromisoformat(window["start"]) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert datetime.fromisoformat(window["end"]) == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    for text, why in (("2026-10-25 02:30", "happens twice"), ("2026-03-29 02:30", "does not exist")):
        code, _out, err = fleet(capsys, *add[:-1], "st-germain-calberte", "--start", "2026-03-01 08:00",
                                "--until", text, "--force")
        assert code == 2 and why in err and "+0" in err, err


@pytest.mark.usefixtures("store")
def test_an_empty_shard_and_an_unknown_site_are_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = fleet(capsys, "poll", "--shard", "")
    assert code == 2 and "--shard ''" in err
    code, out, err = fleet(capsys, "incidents", "list", "--site", "st-germain-calbert")
    assert code == 2 and out == "" and "st-germain-calbert" in err and "did you mean" in err
    assert "'st-germain-calberte'" in err
    code, out, err = fleet(capsys, "incidents", "list", "--site", "st-germain-calberte", "--json")
    assert code == 0 and len(json.loads(out)) == 3  # positive control


def _wipe_in_a_terminal(answer: bytes, env: dict[str, str]) -> tuple[int, str]:
    """``fleet wipe SITE`` on a pseudo-terminal, answering the question with ``answer``."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execve(sys.executable, [sys.executable, "-m", "fleet.cli.main", "wipe",
                                   "st-germain-calberte"], env)
    seen = b""
    while b"?" not in seen:
        ready, _w, _x = select.select([fd], [], [], 60)
        assert ready, seen
        seen += os.read(fd, 1024)
    os.write(fd, answer + b"\n")
    while True:
        ready, _w, _x = select.select([fd], [], [], 60)
        assert ready, seen
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_wiping_a_whole_site_asks_first(polled: Polled, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_INVENTORY", str(polled.inventory))
    code, _out, err = fleet(capsys, "wipe", "st-germain-calberte")  # no terminal to ask
    assert code == 2 and "--yes" in err
    env = dict(os.environ) | {"FLEET_LANG": "fr", "COLUMNS": "100"}
    code, screen = _wipe_in_a_terminal(b"n", env)
    assert code == 1 and "st-germain-calberte" in screen and "rien n’a été effacé" in screen
    # positive control: --yes goes past the question, to the deploy machinery (here it stops at
    # the lab, which is not up: nothing is sent anywhere)
    code, _out, err = fleet(capsys, "wipe", "st-germain-calberte", "--yes", "--lab")
    assert code == 2 and "lab is not up" in err


# ------------------------------------------------------------------ searches that find ----


@pytest.mark.usefixtures("store")
@pytest.mark.parametrize(("typed", "found"), [
    ("Noumea", "noumea-riviere-salee"), ("NOUMÉA", "noumea-riviere-salee"), ("98800", "noumea-riviere-salee"),
    ("saint germain", "st-germain-calberte"), ("riviere salee", "noumea-riviere-salee"),
    ("calberte pc1", "st-germain-calberte-pc1"),
])
def test_status_finds_a_site_by_commune_or_name_without_accents(
    capsys: pytest.CaptureFixture[str], typed: str, found: str
) -> None:
    code, out, err = fleet(capsys, "status", typed, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data.get("site") == found or data.get("device") == found


@pytest.mark.usefixtures("store")
def test_status_of_a_site_gives_addresses_and_who_to_call(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = fleet(capsys, "status", "st-germain-calberte", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {d["device"]: d["address"] for d in data["devices"]}["st-germain-calberte-pc1"] == "127.0.0.14"
    assert data["contacts"]["sav"] == {"name": "Cévennes Informatique SAV", "phone": "+33 4 66 00 99 00",
                                       "email": "sav@example.net", "contract": "CEV-2026-017"}
    assert data["contacts"]["referent"]["phone"] == "+33 4 66 45 90 01"
    code, out, err = fleet(capsys, "--lang", "fr", "incidents", "assign", "2", "--by", "anna")
    assert code == 0, err
    assert "Cévennes Informatique SAV" in out and "CEV-2026-017" in out and "+33 4 66 45 90 01" in out


# ------------------------------------------------------------------- stores never made up ----


def test_read_commands_never_create_a_store(polled: Polled, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_INVENTORY", str(polled.inventory))
    typo = tmp_path / "var" / "fleet.sqlit"
    for argv in (["status"], ["incidents", "list"], ["incidents", "ack", "1", "--by", "a"],
                 ["maintenance", "list"], ["maintenance", "add", "st-germain-calberte", "--why", "x"]):
        code, out, err = fleet(capsys, *argv, "--db", f"sqlite:///{typo}")
        assert code == 2, (argv, out, err)
        assert f"no store at {typo}" in err and "no open incidents" not in out
    assert not typo.parent.exists()
    monkeypatch.setenv("FLEET_STATE_DIR", str(tmp_path / "state"))  # the default store: none there
    code, _out, err = fleet(capsys, "incidents", "list")
    assert code == 2 and f"no store at {tmp_path / 'state' / 'fleet.sqlite'}" in err
    assert not (tmp_path / "state").exists()


def test_the_default_store_is_the_same_from_any_directory(
    polled: Polled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    for f in (polled.root / "state").iterdir():
        shutil.copy2(f, state / f.name)
    env = {k: v for k, v in os.environ.items() if k != "FLEET_DB_URL"}
    env |= {"FLEET_STATE_DIR": str(state), "FLEET_INVENTORY": str(polled.inventory)}
    outputs = set()
    for cwd in (tmp_path, REPO, Path("/")):
        proc = subprocess.run([sys.executable, "-m", "fleet.cli.main", "incidents", "list", "--json"],
                              capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        outputs.add(proc.stdout)
    assert len(outputs) == 1 and len(json.loads(outputs.pop())) == 3


def test_an_empty_store_says_no_poll_has_run(polled: Polled, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.sqlite'}"
    open_store(url).dispose()  # made by a writer, never polled
    monkeypatch.setenv("FLEET_INVENTORY", str(polled.inventory))
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = fleet(capsys, "status", "--db", url)
    assert code == 0, err
    assert "No poll has written to this store yet" in out and "not polled yet" in out
    code, out, err = fleet(capsys, "incidents", "list", "--db", url)
    assert code == 0, err
    assert "No poll has written to this store yet" in out and "no open incidents" not in out


def test_the_incident_log_stays_readable_while_the_inventory_is_broken(
    store: str, polled: Polled, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = tmp_path / "inventory"
    shutil.copytree(polled.inventory, broken)
    shutil.copy2(polled.root / "vault-password", tmp_path / "vault-password")
    site = broken / "sites" / "st-germain-calberte.yml"
    site.write_text(site.read_text().replace("127.0.0.14", "127.0.0.300"))  # a technician's typo
    monkeypatch.setenv("FLEET_INVENTORY", str(broken))
    code, out, err = fleet(capsys, "status")
    assert code == 2 and "127.0.0.300" in err  # the status needs the inventory: it says why
    code, out, err = fleet(capsys, "incidents", "list", "--json")
    assert code == 0 and len(json.loads(out)) == 3
    assert err.startswith("warning: the inventory cannot be read") and "127.0.0.300" in err
    code, out, err = fleet(capsys, "incidents", "show", "1")
    assert code == 0 and "st-germain-calberte-prn1" in out and "UTC" in out
    code, out, err = fleet(capsys, "maintenance", "list", "--all")
    assert code == 0 and "st-germain-calberte-ups1" in out
