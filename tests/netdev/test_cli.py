"""`fleet netdev` without the lab: arguments, errors, history from a store.  Commands that reach
devices are exercised with --lab in test_lab.py (tests never use the real addresses)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleet.cli.main import main
from fleet.store import open_store
from fleet.store.netdev import record_backup

REPO = Path(__file__).resolve().parents[2]
AT = datetime(2027, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _repo_inventory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLEET_INVENTORY", str(REPO / "inventory"))
    monkeypatch.setenv("FLEET_LAB_ROOT", str(tmp_path / "lab"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_unknown_site_is_one_line_with_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "netdev", "plan", "florac-f", "--lab")
    assert code == 2
    assert err.count("\n") == 1 and "did you mean 'florac-fs'" in err


def test_the_lab_must_be_up(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "netdev", "plan", "florac-fs", "--lab")
    assert code == 2 and "fleet lab up florac-fs" in err and "Traceback" not in err


def test_a_site_without_network_gear_says_so(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    (tmp_path / "lab" / "run" / "mairie-vialas").mkdir(parents=True)
    (tmp_path / "lab" / "run" / "mairie-vialas" / "state.json").write_text("{}")
    code, _, err = run(capsys, "netdev", "plan", "mairie-vialas", "--lab")
    assert code == 2 and "no network gear" in err


def test_history_lists_versions_and_shows_one_masked(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/fleet.sqlite"
    code, out, _ = run(capsys, "netdev", "history", "florac-fs-sw1", "--db", db)
    assert code == 0 and "no backup yet" in out
    store = open_store(db)
    for n, text in enumerate(("hostname a\n", "hostname b\nsnmp-server community <secret> RO\n")):
        record_backup(store, device="florac-fs-sw1", site_id="florac-fs", platform="cisco_ios",
                      config=text, digest=str(n), lines=1 + n, reason="backup", at=AT)
    store.dispose()
    code, out, _ = run(capsys, "netdev", "history", "florac-fs-sw1", "--db", db, "--json")
    assert code == 0 and [v["version"] for v in json.loads(out)] == [1, 2]
    code, out, _ = run(capsys, "netdev", "history", "florac-fs-sw1", "--db", db, "--show", "2")
    assert code == 0 and "snmp-server community <secret> RO" in out
    code, _, err = run(capsys, "netdev", "history", "florac-fs-sw1", "--db", db, "--show", "9")
    assert code == 2 and "no backup version 9" in err


def test_the_same_digest_twice_keeps_one_version(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    args = {"device": "sw", "site_id": "s", "platform": "cisco_ios", "config": "x", "lines": 1,
            "reason": "backup", "at": AT}
    first, created = record_backup(store, digest="d1", **args)  # type: ignore[arg-type]
    again, created_again = record_backup(store, digest="d1", **args)  # type: ignore[arg-type]
    changed, created_changed = record_backup(store, digest="d2", **args)  # type: ignore[arg-type]
    back, created_back = record_backup(store, digest="d1", **args)  # type: ignore[arg-type]
    assert (created, created_again, created_changed, created_back) == (True, False, True, True)
    assert [first.version, again.version, changed.version, back.version] == [1, 1, 2, 3]
    store.dispose()


def test_the_incident_log_opens_once_notes_again_and_resolves(tmp_path: Path) -> None:
    from fleet.cli.netdev import CHECK, StoreIncidentLog
    from fleet.incidents import get_incident, list_incidents

    store = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    log = StoreIncidentLog(store)
    for n in (1, 2):
        log.push_failed(device="sw", site_id="s", at=AT, title="sw: push failed, rolled back",
                        detail=f"failure {n}", data={"status": "rolled_back"})
    (incident,) = list_incidents(store)
    assert (incident.check, incident.reason, incident.severity) == (CHECK, "rolled_back", "major")
    texts = [e.text for e in get_incident(store, incident.id).events]
    assert texts == ["failure 1", "failure 2"]
    log.push_ok(device="sw", site_id="s", at=AT, detail="applied")
    assert get_incident(store, incident.id).status == "resolved"
    assert list_incidents(store) == []
    store.dispose()


def test_with_lab_host_keys_are_the_sites_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--lab checks the switch's key in the known_hosts the lab wrote for its site (found through
    the lab's generated SSH config, Include and all); without --lab, ~/.ssh/known_hosts."""
    from fleet.cli.netdev import _context
    from fleet.lab.paths import LabPaths
    from fleet.lab.sshconf import host_block, write_main_config
    from fleet.netdev.transport import Endpoint

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    paths = LabPaths(tmp_path / "lab")
    for site, ip in (("florac-fs", "10.48.12.2"), ("mairie-vialas", "10.48.13.2")):
        paths.site_run(site).mkdir(parents=True)
        paths.site_ssh_config(site).write_text(host_block(f"{site}-sw1", ip, "admin", paths, site),
                                               "utf-8")
    write_main_config(paths)
    switch = Endpoint("mairie-vialas-sw1", "10.48.13.2", 22, "admin", "pw")
    assert _context(True, None).host_keys.file_for(switch) == paths.site_known_hosts("mairie-vialas")
    assert _context(False, None).host_keys.file_for(switch) == tmp_path / "home/.ssh/known_hosts"
