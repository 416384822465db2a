"""The roles of issue 17 follow the roles' conventions (STYLE.md 12-15), as the others do:
the checks of tests/roles/test_static.py run on them, plus lint and syntax of the playbook."""

from __future__ import annotations

import subprocess

import pytest

from tests.roles import test_static as static
from tests.roles.conftest import REPO, ansible_env, tool

ROLES = ("kiosk_startpage", "session_question", "hall_screen")


@pytest.mark.parametrize("role", ROLES)
def test_conventions(role: str) -> None:
    static.test_main_only_dispatches_behind_feature_flags(role)
    static.test_fqcn_quoted_modes_and_validate(role)
    static.test_argument_specs_cover_defaults(role)


def test_yamllint() -> None:
    targets = [f"roles/{r}" for r in ROLES] + ["playbooks/public.yml", "inventory/group_vars/screen.yml"]
    proc = subprocess.run([tool("yamllint"), "-s", *targets], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("playbook", ["public.yml", "site.yml", "borne.yml", "public_pc.yml"])
def test_playbook_syntax(playbook: str) -> None:
    proc = subprocess.run([tool("ansible-playbook"), "--syntax-check", f"playbooks/{playbook}"],
                          cwd=REPO, capture_output=True, text=True, env=ansible_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_ansible_lint_production_profile() -> None:
    targets = [f"roles/{r}" for r in ROLES] + ["playbooks/public.yml"]
    proc = subprocess.run([tool("ansible-lint"), "--profile", "production", *targets], cwd=REPO,
                          capture_output=True, text=True, env=ansible_env(), timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_role_readmes_are_generated() -> None:
    proc = subprocess.run(["python3", "scripts/role-docs.py", "--check", *ROLES], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
