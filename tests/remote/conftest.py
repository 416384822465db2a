"""Remote-action lab tests use the session's deployed lab site (``deployed_site``,
tests/deployed.py: florac-fs deployed once for every lab test), with a store and state
directory of their own.  Every test uses the lab copy (``lab=True``)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleet.gateway import lists
from fleet.incidents.lifecycle import open_incident
from fleet.lab import wol
from fleet.lab.pytest_plugin import LabSite
from fleet.remote.base import probe, target_for
from fleet.store import Store, open_store
from tests.deployed import DeployedSite

__all__ = ["Deployed", "deployed"]

REPO = Path(__file__).resolve().parents[2]
PC1, PC2, BORNE, GW = "florac-fs-pc1", "florac-fs-pc2", "florac-fs-borne1", "florac-fs-gw"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Deployed:
    site: LabSite
    store_url: str
    state_dir: Path

    def store(self) -> Store:
        return open_store(self.store_url)

    def sh(self, host: str, script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A shell command as root on a lab host (nsenter: not through the actions' SSH)."""
        return self.site.exec(host, "sh", "-c", script, timeout=timeout)

    def out(self, host: str, script: str) -> str:
        done = self.sh(host, script)
        assert done.returncode == 0, f"{host}: {script}: {done.stderr[-500:]}"
        return done.stdout.strip()

    def answer(self, host: str, command: str = "hostname") -> str | None:
        """``command``'s output over SSH as the actions connect (paramiko, no ControlMaster that
        a powered-off host could leave stale), None when the host does not answer."""
        return probe([target_for(self.site.device(host), True)], command, timeout=10)[host]

    @property
    def power_dir(self) -> Path:
        return self.site.lab.paths.site_run(self.site.site.id) / "power"

    def incident(self, device: str, check: str = "reachability") -> int:
        with self.store().write() as session:
            row = open_incident(session, device=device, site_id=self.site.site.id, check=check,
                                reason="no_answer", severity="major", title=f"{device}: {check}", at=T0)
            if row is None:  # one already open for (device, check): a fresh check name
                row = open_incident(session, device=device, site_id=self.site.site.id,
                                    check=f"{check}:{datetime.now(UTC).timestamp()}", reason="x",
                                    severity="major", title=f"{device}: {check}", at=T0)
            assert row is not None
            return row.id


@pytest.fixture(scope="session")
def deployed(deployed_site: DeployedSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """The session's deployed site (tests/deployed.py) with a store and state directory of
    these tests' own."""
    state = tmp_path_factory.mktemp("remote-state")
    url = deployed_site.store_copy(state)
    # the list store, as `fleet blocklists update --from blocklists/sample` leaves it
    lists.update_store(REPO / "blocklists" / "sample", lists.store_dir(state), datetime.now(UTC))
    lab_site = deployed_site.site
    d = Deployed(lab_site, url, state)
    yield d
    # leave the site as found: every host switched on, Wake-on-LAN on
    for host in (PC1, PC2, BORNE):
        wol.set_wol(d.power_dir, host, True)
