"""`fleet act` before any device is reached: refusals in one line (unknown action or device,
wrong kind, service not allowed, an incident about another device, permissions), and the
recording of what happened (device event, or incident event queued for GLPI).  These tests
never open a connection: the actions they run answer without one (no MAC, no stored lists)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from fleet.cli.main import main
from fleet.errors import ActionRefused, ConfigError, PermissionDenied
from fleet.incidents import get_incident
from fleet.incidents.lifecycle import open_incident
from fleet.inventory import Inventory, load_inventory
from fleet.remote.act import act, prepare
from fleet.remote.record import device_actions
from fleet.store import Store, open_store
from fleet.store.models import IncidentEvent
from fleet.store.outbox import OutboxEntry, enable_channels
from tests.conftest import REPO
from tests.listeners import stop

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(REPO / "inventory")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    yield s
    s.dispose()


def _incident(store: Store, device: str, site: str = "florac-fs") -> int:
    with store.write() as session:
        row = open_incident(session, device=device, site_id=site, check="reachability",
                            reason="no_answer", severity="major", title=f"{device} does not answer",
                            at=NOW)
        assert row is not None
        return row.id


@pytest.mark.parametrize(("action", "target", "arg", "message"), [
    ("rebot", "florac-fs-pc1", None, "unknown action 'rebot' (did you mean 'reboot'?)"),
    ("reboot", "florac-fs-pc9", None, "'florac-fs-pc9' is neither a site nor a device"),
    ("reboot", "florac-fs-gw", None, "florac-fs-gw is a gateway; this action is for: borne, public_pc"),
    ("restart-kiosk", "florac-fs-pc1", None, "florac-fs-pc1 is a public_pc; this action is for: borne"),
    ("clear-print-queue", "florac-fs-borne1", None, "is a borne"),
    ("wipe-now", "florac-fs-prn1", None, "is a printer"),
    ("push-blocklists", "florac-fs-pc1", None, "is a public_pc; this action is for: gateway"),
    ("restart-service", "florac-fs-pc1", "apache2", "'apache2': not allowed on florac-fs-pc1"),
    ("restart-service", "florac-fs-pc1", None, "give the service NAME"),
    ("restart-service", "florac-fs-borne1", "cups", "allowed: kiosk, nftables, snmpd"),
    ("wake", "florac-fs-pc1", "now", "wake takes no argument"),
])
def test_refused_before_anything_runs(inv: Inventory, action: str, target: str, arg: str | None,
                                      message: str) -> None:
    with pytest.raises(ActionRefused) as err:
        prepare(inv, action, target, actor="marie", argument=arg)
    assert message in str(err.value)


def test_positive_controls_of_the_refusals(inv: Inventory) -> None:
    """The same calls with the right kind, site or service are accepted."""
    assert [d.hostname for d in prepare(inv, "restart-kiosk", "florac-fs-borne1", actor="m").devices] \
        == ["florac-fs-borne1"]
    assert [d.hostname for d in prepare(inv, "wipe-now", "florac-fs", actor="m").devices] \
        == ["florac-fs-pc1", "florac-fs-pc2", "florac-fs-borne1"]
    assert prepare(inv, "restart-service", "florac-fs-borne1", actor="m", argument="kiosk").devices
    assert prepare(inv, "restart-service", "florac-fs-gw", actor="m", argument="dnsmasq.service").devices
    with pytest.raises(ActionRefused, match="has no device it applies to"):
        prepare(inv, "restart-kiosk", "mairie-vialas", actor="m")


def test_force_is_a_permission_of_its_own(inv: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_USER_ROLES", "bob:hotline")
    assert prepare(inv, "reboot", "florac-fs-pc1", actor="bob").role == "hotline"
    with pytest.raises(PermissionDenied, match=r"act\.reboot\.force"):
        prepare(inv, "reboot", "florac-fs-pc1", actor="bob", force=True)
    assert prepare(inv, "reboot", "florac-fs-pc1", actor="tech", force=True).role == "technician"
    with pytest.raises(ActionRefused, match="--force applies to reboot only"):
        prepare(inv, "wipe-now", "florac-fs-pc1", actor="tech", force=True)


def test_a_face_may_give_the_actors_role(inv: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard passes its account's role: the same matrix, not the CLI's settings."""
    monkeypatch.setenv("FLEET_USER_ROLES", "bob:admin")
    assert prepare(inv, "reboot", "florac-fs-pc1", actor="bob", force=True).role == "admin"  # control
    with pytest.raises(PermissionDenied, match=r"bob \(hotline\) may not act\.reboot\.force"):
        prepare(inv, "reboot", "florac-fs-pc1", actor="bob", force=True, role="hotline")
    with pytest.raises(PermissionDenied, match=r"bob \(auditor\) may not act\.restart-kiosk"):
        prepare(inv, "restart-kiosk", "florac-fs-borne1", actor="bob", role="auditor")
    assert prepare(inv, "restart-kiosk", "florac-fs-borne1", actor="bob", role="hotline").role == "hotline"
    with pytest.raises(ConfigError, match="'boss' of bob: not a role"):
        prepare(inv, "restart-kiosk", "florac-fs-borne1", actor="bob", role="boss")


def test_incident_about_another_device_is_refused(inv: Inventory, store: Store) -> None:
    n = _incident(store, "florac-fs-borne1")
    assert prepare(inv, "restart-kiosk", "florac-fs-borne1", actor="m", store=store, incident_id=n)
    with pytest.raises(ActionRefused, match=f"incident #{n} is about florac-fs-borne1"):
        prepare(inv, "wipe-now", "florac-fs-pc1", actor="m", store=store, incident_id=n)
    with pytest.raises(ActionRefused, match="not mende-pref"):
        prepare(inv, "wipe-now", "mende-pref", actor="m", store=store, incident_id=n)


def test_recorded_as_a_device_event(inv: Inventory, store: Store) -> None:
    # mende-pref's PCs have no device_mac: wake refuses each one without any connection
    report = act(inv, "wake", "mende-pref", store=store, actor="marie", clock=lambda: NOW)
    assert report.results and {r.outcome for r in report.results} == {"refused"}
    assert not report.ok
    events = device_actions(store, report.results[0].device)
    assert len(events) == 1
    e = events[0]
    assert e.kind == "action" and e.at == NOW
    assert e.data["actor"] == "marie" and e.data["action"] == "wake" and e.data["outcome"] == "refused"
    assert "no device_mac" in e.detail and "(by marie)" in e.detail


def test_recorded_on_the_incident_and_queued_for_glpi(inv: Inventory, store: Store,
                                                       tmp_path: Path) -> None:
    enable_channels(store, ["glpi"], NOW)
    n = _incident(store, "florac-fs-gw")
    report = act(inv, "push-blocklists", "florac-fs-gw", store=store, actor="luc", incident_id=n,
                 clock=lambda: NOW, state_dir=tmp_path / "empty-state")
    assert [r.outcome for r in report.results] == ["refused"]
    inc = get_incident(store, n)
    last = inc.events[-1]
    assert last.kind == "action" and last.actor == "luc"
    assert "push-blocklists on florac-fs-gw: refused" in last.text
    assert last.data["outcome"] == "refused" and last.data["device"] == "florac-fs-gw"
    with store.read() as session:
        ev = session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "action")).one()
        rows = session.scalars(select(OutboxEntry).where(OutboxEntry.event_id == ev.id))
        queued = [q.channel for q in rows]
    assert queued == ["glpi"]
    assert device_actions(store, "florac-fs-gw") == []  # on the incident, not twice


def test_cli_refusals_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/fleet.sqlite"
    for argv, text in [
        (["act", "reboot", "florac-fs-gw", "--db", db], "florac-fs-gw is a gateway"),
        (["act", "wipe-now", "florac-fs-pc1", "--db", db], "add --yes to confirm"),
        (["act", "reboot"], "give a DEVICE or a SITE"),
        (["diag", "florac-fs-prn1", "--db", db], "florac-fs-prn1 is a printer"),
        (["power", "wake"], "give --due"),
        (["wipe", "florac-fs-prn1"], "is a printer"),
    ]:
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2, (argv, err)
        assert text in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "fleet.sqlite").exists()  # refused before the store was opened


def test_cli_list(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["act", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by = {r["action"]: r for r in rows}
    assert set(by) == {"restart-kiosk", "wipe-now", "clear-print-queue", "restart-service", "reboot",
                       "wake", "push-blocklists", "collect-connlog"}
    assert by["restart-kiosk"]["kinds"] == ["borne"] and by["wake"]["confirm"] is False
    assert by["restart-service"]["argument"] == "NAME"
    assert "hotline" in by["wipe-now"]["roles"] and "hotline" not in by["collect-connlog"]["roles"]


def test_an_unreachable_host_is_a_result_not_an_error(tmp_path: Path) -> None:
    """pyinfra gives up ("No hosts remaining!") when its only host cannot be reached: the runner
    turns that into that host's outcome.  The host is this machine's loopback on a closed port
    (nothing leaves the machine)."""
    from fleet.remote.base import probe
    from fleet.remote.pyinfra_run import Target, run

    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host closed-port\n  HostName 127.0.0.1\n  Port 9\n")
    target = Target("closed-port", "closed-port", ssh_config=cfg)
    [o] = run([target], lambda _state: None, timeout=5)
    assert (o.hostname, o.ok, o.message) == ("closed-port", False, "unreachable")
    assert probe([target], timeout=5) == {"closed-port": None}


@contextlib.contextmanager
def _closing_listener() -> Iterator[tuple[int, list[int]]]:
    """A loopback TCP listener that accepts and closes at once (a connection dropped before
    SSH's banner); yields its port and the list of connections it accepted."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop(listener, thread)


def test_a_connection_dropped_before_the_banner_is_tried_once_more(tmp_path: Path) -> None:
    """A remote site's link or a busy sshd can drop one connection before SSH's banner: an
    action tries again once before calling the host unreachable; a quick probe (``timeout``)
    does not.  The "host" is a loopback listener that accepts and closes at once."""
    from fleet.remote.pyinfra_run import Target, run

    with _closing_listener() as (port, accepted):
        cfg = tmp_path / "ssh_config"
        cfg.write_text(f"Host dropper\n  HostName 127.0.0.1\n  Port {port}\n")
        target = Target("dropper", "dropper", ssh_config=cfg)
        [o] = run([target], lambda _state: None)
        assert (o.ok, o.message) == (False, "unreachable")
        assert len(accepted) == 2, accepted
        accepted.clear()
        [o] = run([target], lambda _state: None, timeout=5)
        assert (o.ok, len(accepted)) == (False, 1), accepted


def test_an_ssh_config_that_changed_is_read_again(tmp_path: Path) -> None:
    """The lab's SSH config includes every up site's file (``Include run/*/ssh_config``): a site
    brought up after the process's first action must be reachable through it.  pyinfra keeps
    the first parse of a config; the runner reads it again for each run.  Before, the second
    run still did not know the host (the CI run of 2026-11-30: both bornes of the public site,
    up after florac-fs, "unreachable")."""
    from fleet.remote.pyinfra_run import Target, run

    sites = tmp_path / "sites"
    sites.mkdir()
    main_cfg = tmp_path / "ssh_config"
    main_cfg.write_text(f"Include {sites}/*/ssh_config\n")
    target = Target("late-site-host", "late-site-host", ssh_config=main_cfg)
    with _closing_listener() as (port, accepted):
        [o] = run([target], lambda _state: None, timeout=5)
        assert not o.ok and accepted == []  # not known yet: nothing reached
        (sites / "late").mkdir()
        (sites / "late" / "ssh_config").write_text(
            f"Host late-site-host\n  HostName 127.0.0.1\n  Port {port}\n")
        [o] = run([target], lambda _state: None, timeout=5)
        assert not o.ok and len(accepted) == 1, accepted  # reached through the new file
