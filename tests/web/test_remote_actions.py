"""The device page's remote actions: which forms each role sees on each kind of device (read
from the matrix `fleet act list` prints, never a list kept here), the CSRF and permission
refusals, and what an action that reaches a host which does not answer shows and records.

No test here reaches a real site or the lab: the "lab" they act on is a lab root of their own
whose SSH config sends every connection to a closed port of this machine's loopback (nothing
leaves the machine).  The real action on a lab borne is tests/remote/test_lab_web_actions.py."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fleet.inventory.models import DeviceKind
from fleet.lab.paths import LabPaths
from fleet.permissions import matrix
from fleet.remote.act import kinds_table
from fleet.remote.record import device_actions
from fleet.remote.restart_service import ALLOWED
from fleet.store import Store
from fleet.store.users import list_audit
from fleet.web import WebConfig, create_app
from tests.web.conftest import csrf_of, log_in
from tests.web.world import ROLES, Clock, World

BORNE = "florac-fs-borne1"
FORM = re.compile(r'<form method="post" action="/devices/([^/"]+)/act" class="action" id="act-([a-z-]+)"')


def _forms(html: str, hostname: str) -> set[str]:
    found = FORM.findall(html)
    assert all(h == hostname for h, _ in found)
    return {name for _, name in found}


def _one_device_per_kind(world: World) -> dict[DeviceKind, str]:
    out: dict[DeviceKind, str] = {}
    for d in world.inventory.devices:
        out.setdefault(d.kind, d.hostname)
    return out


def test_the_forms_shown_follow_the_matrix_per_role_and_kind(
    client_as: Callable[[str], TestClient], world: World
) -> None:
    table = kinds_table()
    forcers = matrix().permissions["act.reboot.force"]
    devices = _one_device_per_kind(world)
    assert {DeviceKind.BORNE, DeviceKind.PUBLIC_PC, DeviceKind.GATEWAY, DeviceKind.PRINTER} <= set(devices)
    shown_somewhere = 0
    for role in ROLES:
        c = client_as(role)
        for kind, hostname in devices.items():
            page = c.get(f"/devices/{hostname}")
            assert page.status_code == 200, (role, hostname)
            expected = {a["action"] for a in table if kind.value in a["kinds"] and role in a["roles"]}
            assert _forms(page.text, hostname) == expected, (role, hostname)
            shown_somewhere += len(expected)
            # reboot's "force" box only for the roles with act.reboot.force
            assert ('name="force"' in page.text) == ("reboot" in expected and role in forcers), (
                role,
                hostname,
            )
            if "restart-service" in expected:  # the choices are the kind's allowlist
                select = page.text[page.text.index('id="arg-restart-service"') :]
                select = select[: select.index("</select>")]
                assert set(re.findall(r'<option value="([^"]+)"', select)) == set(ALLOWED[kind])
            if role == "auditor":
                assert "Actions à distance" not in page.text
    assert shown_somewhere > 0  # the enumeration found forms to compare (it cannot pass empty)


def test_a_post_without_its_csrf_token_is_refused(
    client_as: Callable[[str], TestClient], store: Store
) -> None:
    c = client_as("hotline")
    answer = c.post(
        f"/devices/{BORNE}/act", data={"action": "restart-kiosk", "csrf": "forged"}, follow_redirects=False
    )
    assert answer.status_code == 403
    entry = list_audit(store, limit=1, user="hotline")[0]
    assert (entry.action, entry.outcome) == ("device.act.restart-kiosk", "bad_csrf")
    assert device_actions(store, BORNE) == []


def test_a_role_without_the_permission_is_refused_and_audited(
    client_as: Callable[[str], TestClient], store: Store
) -> None:
    cases = [
        ("auditor", BORNE, {"action": "restart-kiosk"}, "device.act.restart-kiosk"),
        ("hotline", BORNE, {"action": "reboot", "force": "1", "confirm": "1"}, "device.act.reboot.force"),
        ("technician", "florac-fs-gw", {"action": "collect-connlog"}, "device.act.collect-connlog"),
    ]
    for role, hostname, data, refused in cases:
        c = client_as(role)
        csrf = csrf_of(c.get(f"/devices/{hostname}").text) if role != "auditor" else csrf_of(c.get("/").text)
        answer = c.post(f"/devices/{hostname}/act", data={"csrf": csrf, **data}, follow_redirects=False)
        assert answer.status_code == 403, (role, data)
        assert "Votre rôle ne permet pas cette action." in answer.text
        entry = list_audit(store, limit=1, user=role)[0]
        assert (entry.action, entry.outcome, entry.target) == (refused, "refused", f"/devices/{hostname}/act")
        assert device_actions(store, hostname) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when this returns


@pytest.fixture
def lab_app(
    store: Store, world: World, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> FastAPI:
    """The dashboard started as `fleet web --lab`, on a lab root of this test's own."""
    monkeypatch.setenv("FLEET_LAB_ROOT", str(tmp_path / "lab"))
    monkeypatch.setenv("FLEET_REMOTE_TIMEOUT", "5")
    return create_app(store, world.inventory, clock=clock, config=WebConfig(housekeeping_s=0), lab=True)


def test_lab_not_up_is_a_french_line_on_the_page_and_audited(lab_app: FastAPI, store: Store) -> None:
    with TestClient(lab_app) as c:
        log_in(c, "hotline")
        page = c.get(f"/devices/{BORNE}")
        assert "Mode laboratoire" in page.text
        answer = c.post(
            f"/devices/{BORNE}/act",
            data={"csrf": csrf_of(page.text), "action": "restart-kiosk", "confirm": "1"},
        )
    assert answer.status_code == 409
    assert "Non effectué : --lab: the lab is not up for florac-fs" in answer.text
    assert "Traceback" not in answer.text
    entry = list_audit(store, limit=1, user="hotline")[0]
    assert (entry.action, entry.outcome, entry.target) == (
        "device.act.restart-kiosk",
        "error",
        f"device:{BORNE}",
    )
    assert "the lab is not up" in entry.text


def test_a_host_that_does_not_answer_is_shown_unreachable_and_recorded(
    lab_app: FastAPI, store: Store, tmp_path: Path
) -> None:
    # the site's lab SSH config and key are there, but its borne does not answer (a closed port)
    paths = LabPaths(tmp_path / "lab")
    paths.site_ssh_config("florac-fs").parent.mkdir(parents=True)
    paths.ssh_dir.mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(paths.ssh_key)], check=True)
    paths.site_ssh_config("florac-fs").write_text(
        f"Host {BORNE} 10.48.12.21\n  HostName 127.0.0.1\n  Port {_closed_port()}\n", "utf-8"
    )
    with TestClient(lab_app) as c:
        log_in(c, "hotline")
        csrf = csrf_of(c.get(f"/devices/{BORNE}").text)
        # without the confirmation box: refused, nothing reached
        answer = c.post(f"/devices/{BORNE}/act", data={"csrf": csrf, "action": "restart-kiosk"})
        assert answer.status_code == 400 and "cochez la case de confirmation" in answer.text
        assert device_actions(store, BORNE) == []
        # a bad argument: the engine's refusal, one line, before any connection
        answer = c.post(
            f"/devices/{BORNE}/act",
            data={"csrf": csrf, "action": "restart-service", "argument": "apache2", "confirm": "1"},
        )
        assert answer.status_code == 409
        assert (
            "Non effectué : restart-service &#39;apache2&#39;: not allowed on florac-fs-borne1" in answer.text
        )
        assert device_actions(store, BORNE) == []
        # the action itself
        answer = c.post(
            f"/devices/{BORNE}/act",
            data={"csrf": csrf, "action": "restart-kiosk", "confirm": "1"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text[:300]
        location = answer.headers["location"]
        assert location.startswith(f"/devices/{BORNE}?acted=")
        shown = c.get(location)
    assert shown.status_code == 200
    result = shown.text[shown.text.index('id="act-result"') :]
    result = result[: result.index("</div>")]
    assert "Redémarrer le navigateur de la borne" in result
    assert 'data-outcome="unreachable"' in result and "injoignable" in result
    # recorded by act (the device's history) and in the dashboard's audit trail
    [event] = device_actions(store, BORNE)
    assert event.data["actor"] == "hotline" and event.data["outcome"] == "unreachable"
    assert event.data["role"] == "hotline"  # the account's role, not the CLI's default_role
    entry = list_audit(store, limit=1, user="hotline")[0]
    assert (entry.action, entry.outcome) == ("device.act.restart-kiosk", "failed")
    assert entry.detail["results"][0]["outcome"] == "unreachable" and entry.detail["lab"] is True
    assert "restart-kiosk on florac-fs-borne1: unreachable" in shown.text  # the page's events list


def test_without_lab_the_page_says_nothing_of_the_lab(client_as: Callable[[str], TestClient]) -> None:
    page = client_as("hotline").get(f"/devices/{BORNE}")
    assert 'id="act-restart-kiosk"' in page.text and "Mode laboratoire" not in page.text
