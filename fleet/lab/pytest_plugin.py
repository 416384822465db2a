"""pytest fixtures for tests that need a real lab site.

Use from any test directory's conftest.py::

    from fleet.lab.pytest_plugin import lab_site  # noqa: F401  (the session fixture)

``lab_site`` builds the images if needed (cached under ``lab_root``), cleans leftovers of an
earlier killed run, brings ``florac-fs`` up once per session and always tears it down, also on
failure or Ctrl-C.  Without root, tests using it are skipped with the reason.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleet.inventory import load_inventory
from fleet.inventory.models import Device, Inventory, Site
from fleet.lab import build, down, exec_argv, make_lab, plan_site, up
from fleet.lab.paths import CTL_NETNS
from fleet.lab.plan import SitePlan
from fleet.lab.state import Lab

LAB_SITE = "florac-fs"
LAB_TOOLS = ("ip", "systemd-nspawn", "debootstrap", "nc", "ssh", "snmpget", "nsenter",
             "dpkg-scanpackages")


def lab_skip_reason() -> str | None:
    """Why lab tests cannot run here (None when they can)."""
    if os.geteuid() != 0:
        return "lab tests need root (network namespaces, mounts, systemd-nspawn)"
    missing = [t for t in LAB_TOOLS if shutil.which(t) is None]
    if missing:
        return f"lab tools missing: {', '.join(missing)} (see ci/apt-packages.txt)"
    return None


@dataclass(frozen=True)
class LabSite:
    """A site that is up, with helpers to reach its hosts the way tools do."""

    lab: Lab
    inventory: Inventory
    site: Site
    plan: SitePlan

    @property
    def ssh_config(self) -> Path:
        return self.lab.paths.ssh_config

    @property
    def ansible_overlay(self) -> Path:
        return self.lab.paths.site_inventory(self.site.id)

    def device(self, hostname: str) -> Device:
        return self.inventory.device(hostname)

    def ssh(self, host: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Real ssh with the generated config (ProxyCommand through relais-ctl, ControlMaster)."""
        return subprocess.run(["ssh", "-F", str(self.ssh_config), host, command],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def exec(self, host: str, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command as root on a lab host (``ctl``: the controller namespace)."""
        return subprocess.run(exec_argv(self.lab, host, list(command)), capture_output=True,
                              text=True, timeout=timeout, check=False)

    def ctl(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", CTL_NETNS, *command], capture_output=True,
                              text=True, timeout=timeout, check=False)


def start_lab_site(root: Path, site_id: str = LAB_SITE) -> LabSite:
    """Build images if needed, clean leftovers, bring the site up."""
    inventory_root = root / "inventory"
    lab = make_lab(inventory_root, recordings=root / "tests" / "fixtures" / "snmprec")
    build(lab.paths)
    inventory = load_inventory(inventory_root)
    site = inventory.site(site_id)
    plan = plan_site(site)
    down(lab, site_id, plan=plan)  # leftovers of an earlier killed run
    up(lab, site)
    return LabSite(lab, inventory, site, plan)


@pytest.fixture(scope="session")
def lab_site(request: pytest.FixtureRequest) -> Iterator[LabSite]:
    reason = lab_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    root = Path(request.config.rootpath)
    lab = make_lab(root / "inventory", with_secrets=False)

    def teardown() -> None:
        down(lab, LAB_SITE)

    atexit.register(teardown)  # also when the session dies on KeyboardInterrupt
    try:
        yield start_lab_site(root)
    finally:
        teardown()
        atexit.unregister(teardown)
