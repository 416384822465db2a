"""Shared helpers for the role tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fleet.deploy import DeployOutcome
from fleet.lab.pytest_plugin import LabSite, lab_site  # noqa: F401  (the session fixture)

REPO = Path(__file__).resolve().parents[2]
ROLES = ("hardening", "snmp_agent", "session_wipe", "public_pc", "kiosk")
PLAYBOOKS = ("site.yml", "desktops.yml", "public_pc.yml", "borne.yml", "wipe.yml")
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A console script of the test environment (ansible-playbook, ansible-lint, ...)."""
    candidate = VENV_BIN / name
    return str(candidate) if candidate.exists() else name


def load(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    return env


# --- lab: one deployed florac-fs shared by every lab module of this package -------------------
SWAP_IN_CLEAR = "/swapfile none swap sw 0 0"


def _before_first_deploy(site: LabSite) -> None:
    """What a PC may come with and the first deploy must fix: a swap file in clear in fstab
    (the lab cannot turn a swap on: the kernel is the machine's; the fstab entry is the proof)."""
    from tests.roles.labkit import PC, ok

    ok(site, PC, f"grep -qxF '{SWAP_IN_CLEAR}' /etc/fstab || echo '{SWAP_IN_CLEAR}' >> /etc/fstab")


@pytest.fixture(scope="package")
def deployed(lab_site: LabSite, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
             ) -> Iterator[tuple[LabSite, DeployOutcome, str]]:
    """The lab site, deployed once for the package (fleet deploy --lab, a fresh site)."""
    from tests.roles.labkit import deploy

    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'fleet.sqlite'}"
    _before_first_deploy(lab_site)
    first = deploy(lab_site, url)
    yield lab_site, first, url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that replace the lab site (``REPLACES_THE_SITE = True``: fresh deploys) run after
    every other test, which share the deployed site."""
    items.sort(key=lambda item: bool(getattr(item.module, "REPLACES_THE_SITE", False))
               if isinstance(item, pytest.Function) else False)
