"""The lab site after one full ``fleet deploy --lab``, shared by every lab test of the session
that needs a deployed site (a full deploy takes minutes on two cores; before, four test
packages each deployed florac-fs again).

``deployed_site`` (registered in ``tests/conftest.py``) is session-scoped.  Tests that need the
site as it comes from the "factory" (before any deploy) run before it is first requested:
``tests/conftest.py`` orders the lab tests in phases — fresh site, deployed site, then the
modules that replace the site (``REPLACES_THE_SITE = True``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fleet.deploy import DeployOptions, DeployOutcome, StoreRecorder, deploy_site
from fleet.lab.pytest_plugin import LabSite
from fleet.store import open_store

REPO = Path(__file__).resolve().parents[1]

SWAP_IN_CLEAR = "/swapfile none swap sw 0 0"
"""What a PC may come with and the first deploy must fix: a swap file in clear in fstab (the
lab cannot turn a swap on, the kernel is the machine's; the fstab entry is the proof,
``tests/roles/test_lab_privacy.py``)."""
FACTORY_SWAP_HOST = "florac-fs-pc2"


@dataclass(frozen=True)
class DeployedSite:
    """``store_url`` is the store that recorded the deploy (tests that only add deploy records
    share it); :meth:`store_copy` gives a module a private store holding the same record (an
    audit, incidents of its own), so no module sees another's incidents."""

    site: LabSite
    outcome: DeployOutcome
    store_url: str
    pristine: Path

    def store_copy(self, directory: Path) -> str:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / "fleet.sqlite"
        _copy(self.pristine, target)
        return f"sqlite:///{target}"


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite store: ``VACUUM INTO`` writes a new, complete database
    file (no -wal or -shm beside it to go with it).  The backup API's copies were read as
    "database disk image is malformed" by later openers in two lab runs of 2026-11-30."""
    target.unlink(missing_ok=True)
    src = sqlite3.connect(source)
    try:
        src.execute("VACUUM INTO ?", (str(target),))
    finally:
        src.close()
    target.chmod(0o600)


def deploy_lab_site(site: LabSite, store_url: str, **options: Any) -> DeployOutcome:
    """``fleet deploy --lab`` of the whole lab site (or ``limit``), through the engine,
    recorded in the store."""
    store = open_store(store_url, create=True)
    try:
        return deploy_site(
            site.inventory, site.site.id, repo=REPO,
            options=DeployOptions(extra_inventories=(site.ansible_overlay,),
                                  ssh_config=site.ssh_config, lab=True, **options),
            recorder=StoreRecorder(store), user="lab-test",
        )
    finally:
        store.dispose()


@pytest.fixture(scope="session")
def deployed_site(lab_site: LabSite, tmp_path_factory: pytest.TempPathFactory) -> DeployedSite:
    tmp = tmp_path_factory.mktemp("deployed-site")
    db = tmp / "fleet.sqlite"
    planted = lab_site.exec(FACTORY_SWAP_HOST, "sh", "-c",
                            f"grep -qxF '{SWAP_IN_CLEAR}' /etc/fstab || "
                            f"echo '{SWAP_IN_CLEAR}' >> /etc/fstab")
    assert planted.returncode == 0, planted.stderr
    outcome = deploy_lab_site(lab_site, f"sqlite:///{db}")
    pristine = tmp / "pristine.sqlite"
    _copy(db, pristine)
    return DeployedSite(lab_site, outcome, f"sqlite:///{db}", pristine)
