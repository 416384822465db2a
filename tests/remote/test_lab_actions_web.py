"""The dashboard's remote action for real: a ``hotline`` account restarts the kiosk of the
deployed lab borne from the device page (the app built as ``fleet web --lab``), the page shows
the outcome after the redirect, the kiosk unit really restarted (a new systemd InvocationID,
read on the host through ``site.exec``, not through the action's SSH), and the action is in
the device's history and in the dashboard's audit trail.  On a private copy of the deployed
site's store."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fleet.lab.pytest_plugin import LabSite
from fleet.remote.record import device_actions
from fleet.store import open_store
from fleet.store.users import create_user, list_audit
from fleet.web import WebConfig, create_app
from tests.deployed import DeployedSite
from tests.remote.conftest import BORNE
from tests.web.conftest import csrf_of, log_in

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PASSWORD = "a long enough password"
UNIT = "relais-kiosk.service"


def _kiosk(site: LabSite) -> tuple[str, str]:
    """(ActiveState, InvocationID) of the kiosk unit, read on the host."""
    done = site.exec(BORNE, "systemctl", "show", "-p", "ActiveState", "-p", "InvocationID", UNIT)
    assert done.returncode == 0, done.stderr[-500:]
    props = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return props.get("ActiveState", ""), props.get("InvocationID", "")


def test_restart_kiosk_from_the_device_page(deployed_site: DeployedSite, tmp_path: Path) -> None:
    site = deployed_site.site
    deadline = time.monotonic() + 120
    while (state := _kiosk(site))[0] != "active" or not state[1]:
        assert time.monotonic() < deadline, f"the kiosk does not run: {state}"
        time.sleep(0.5)
    before = state[1]
    store = open_store(deployed_site.store_copy(tmp_path / "store"))
    try:
        create_user(store, "hl", "hotline", PASSWORD, datetime.now(UTC))
        app = create_app(store, site.inventory, config=WebConfig(housekeeping_s=0), lab=True)
        with TestClient(app) as client:
            log_in(client, "hl", PASSWORD)
            page = client.get(f"/devices/{BORNE}")
            assert 'id="act-restart-kiosk"' in page.text and "Mode laboratoire" in page.text
            answer = client.post(
                f"/devices/{BORNE}/act",
                data={"csrf": csrf_of(page.text), "action": "restart-kiosk", "confirm": "1"},
                follow_redirects=False,
            )
            assert answer.status_code == 303, answer.text[-800:]
            shown = client.get(answer.headers["location"])
        result = shown.text[shown.text.index('id="act-result"') :]
        result = result[: result.index("</div>")]
        assert 'data-outcome="changed"' in result and "kiosk restarted" in result, result
        # a new run of the unit, active (asked again: the watchdog may restart a browser
        # still starting on a slow machine; the action itself waited for it to run)
        deadline = time.monotonic() + 120
        while (state := _kiosk(site))[0] != "active" or state[1] in ("", before):
            assert time.monotonic() < deadline, (before, state)
            time.sleep(0.5)
        events = [e for e in device_actions(store, BORNE) if e.data.get("actor") == "hl"]
        assert [(e.data["action"], e.data["outcome"], e.data["role"]) for e in events] == [
            ("restart-kiosk", "changed", "hotline")
        ]
        entry = list_audit(store, limit=1, user="hl")[0]
        assert (entry.action, entry.outcome, entry.detail["lab"]) == ("device.act.restart-kiosk", "ok", True)
    finally:
        store.dispose()
