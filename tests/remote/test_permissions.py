"""The permission matrix: one data file, every action and workflow verb in it, roles from the
settings, refusals in one line."""

from __future__ import annotations

import pytest

from fleet import permissions
from fleet.cli.main import main
from fleet.errors import ConfigError, PermissionDenied
from fleet.remote.actions import ACTIONS

WORKFLOW = ("incidents.acknowledge", "incidents.note", "incidents.assign", "incidents.resolve",
            "incidents.close", "maintenance")


def test_every_action_and_verb_is_in_the_matrix() -> None:
    m = permissions.matrix()
    assert set(m.roles) == {"auditor", "hotline", "technician", "admin"}
    for a in ACTIONS.values():
        assert a.spec.permission in m.permissions, a.spec.name
    for verb in (*WORKFLOW, "diag", "power.wake", "power.report", "act.reboot.force"):
        assert verb in m.permissions, verb
    # admin may do everything, the auditor changes nothing
    assert all("admin" in roles for roles in m.permissions.values())
    assert m.granted("auditor") == ["audit.trail", "incidents.read", "power.report", "status.read"]


def test_unknown_permission_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"not in permissions\.yml"):
        permissions.matrix().allows("admin", "act.format-disk")


def test_matrix_refuses_an_unknown_role() -> None:
    with pytest.raises(ConfigError, match="unknown role 'boss'"):
        permissions.parse_matrix("roles: [admin]\npermissions:\n  x: [admin, boss]\n")


def test_actor_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "os-login")
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert permissions.actor() == "os-login"
    monkeypatch.setenv("FLEET_USER", "marie")
    assert permissions.actor() == "marie"
    assert permissions.actor("luc") == "luc"


def test_roles_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_USER_ROLES", "alice:auditor, bob:hotline")
    assert permissions.role_of("alice") == "auditor"
    assert permissions.role_of("bob") == "hotline"
    assert permissions.role_of("carol") == "technician"  # default_role
    monkeypatch.setenv("FLEET_DEFAULT_ROLE", "hotline")
    assert permissions.role_of("carol") == "hotline"
    # positive control, then the refusals
    assert permissions.require("bob", "act.reboot") == "hotline"
    with pytest.raises(PermissionDenied, match=r"bob \(hotline\) may not act.reboot.force"):
        permissions.require("bob", "act.reboot.force")
    with pytest.raises(PermissionDenied, match="alice"):
        permissions.require("alice", "act.wipe-now")


def test_bad_user_roles_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_USER_ROLES", "alice=hotline")
    with pytest.raises(ConfigError, match="USER:ROLE"):
        permissions.role_of("alice")


def test_cli_refuses_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                 tmp_path: object) -> None:
    monkeypatch.setenv("FLEET_USER_ROLES", "alice:auditor")
    rc = main(["act", "wake", "florac-fs-pc1", "--as", "alice", "--db", f"sqlite:///{tmp_path}/s.sqlite"])
    err = capsys.readouterr().err
    assert rc == 3, err
    assert "alice (auditor) may not act.wake" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
