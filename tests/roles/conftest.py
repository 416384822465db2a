"""Shared helpers for the role tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from fleet.deploy import DeployOutcome
from fleet.lab.pytest_plugin import LabSite
from tests.deployed import SWAP_IN_CLEAR as _SWAP
from tests.deployed import DeployedSite

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


# --- lab: the session's deployed florac-fs (tests/deployed.py) -------------------------------
SWAP_IN_CLEAR = _SWAP


@pytest.fixture(scope="session")
def deployed(deployed_site: DeployedSite) -> tuple[LabSite, DeployOutcome, str]:
    """(the lab site, its first deploy, the store that recorded it)."""
    return deployed_site.site, deployed_site.outcome, deployed_site.store_url
