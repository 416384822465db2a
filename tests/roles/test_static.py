"""Role conventions (STYLE.md 12-15), lint and syntax: no lab needed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.roles.conftest import PLAYBOOKS, REPO, ROLES, ansible_env, load, tool

CHECKED_DESTS = {  # config files that have a checker must be validated before they land
    "/etc/ssh/sshd_config.d/": "sshd -t",
    "/etc/sudoers.d/": "visudo -cf",
    "/etc/nftables.conf": "nft -c -f",
}


def _task_files(role: str) -> list[Path]:
    return sorted((REPO / "roles" / role / "tasks").glob("*.yml"))


def _tasks(path: Path) -> list[dict[str, object]]:
    data = load(path) or []
    assert isinstance(data, list), f"{path}: not a task list"
    return data


@pytest.mark.slow
def test_ansible_lint_production_profile() -> None:
    targets = [f"roles/{r}" for r in ROLES] + [f"playbooks/{p}" for p in PLAYBOOKS]
    proc = subprocess.run([tool("ansible-lint"), "--profile", "production", *targets], cwd=REPO,
                          capture_output=True, text=True, env=ansible_env(), timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_yamllint() -> None:
    targets = [f"roles/{r}" for r in ROLES] + [f"playbooks/{p}" for p in PLAYBOOKS]
    proc = subprocess.run([tool("yamllint"), "-s", *targets], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(playbook: str) -> None:
    proc = subprocess.run([tool("ansible-playbook"), "--syntax-check", f"playbooks/{playbook}"],
                          cwd=REPO, capture_output=True, text=True, env=ansible_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("role", ROLES)
def test_main_only_dispatches_behind_feature_flags(role: str) -> None:
    tasks = _tasks(REPO / "roles" / role / "tasks" / "main.yml")
    assert tasks
    for task in tasks:
        assert "ansible.builtin.import_tasks" in task, f"{role}: main.yml runs {task}"
        when = str(task.get("when", ""))
        assert re.fullmatch(rf"{role}_\w+_enabled \| bool", when), f"{role}: when {when!r}"
        assert role in task["tags"] and len(task["tags"]) == 2, task["tags"]  # type: ignore[operator,arg-type]
        target = REPO / "roles" / role / "tasks" / str(task["ansible.builtin.import_tasks"])
        assert target.is_file()
        feature = when.split(" ", maxsplit=1)[0].removeprefix(role + "_").removesuffix("_enabled")
        assert f"{role}_{feature}" in task["tags"]  # type: ignore[operator]


@pytest.mark.parametrize("role", ROLES)
def test_fqcn_quoted_modes_and_validate(role: str) -> None:
    for path in _task_files(role):
        for task in _tasks(path):
            modules = [k for k in task if "." in k and k.split(".")[0] == "ansible"]
            assert modules, f"{path.name}: task {task.get('name')!r} without an FQCN module"
            args = task[modules[0]]
            if not isinstance(args, dict):
                continue
            if "mode" in args:
                mode = args["mode"]
                assert isinstance(mode, str), f"{path.name}: unquoted mode {mode!r}"
                assert re.fullmatch(r"0[0-7]{3}|preserve|\{\{.*\}\}", mode), mode
            dest = str(args.get("dest", ""))
            for prefix, checker in CHECKED_DESTS.items():
                if dest.startswith(prefix):
                    assert checker in str(args.get("validate", "")), f"{dest} not validated"


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_cover_defaults(role: str) -> None:
    specs = load(REPO / "roles" / role / "meta" / "argument_specs.yml")
    options = specs["argument_specs"]["main"]["options"]  # type: ignore[index]
    defaults = load(REPO / "roles" / role / "defaults" / "main.yml")
    assert isinstance(defaults, dict)
    assert set(defaults) <= set(options), set(defaults) - set(options)
    for name, spec in options.items():
        assert name.startswith(role + "_"), name
        assert spec.get("type") and spec.get("description"), name
        assert name in defaults or spec.get("required"), name


def test_role_readmes_are_generated_from_specs() -> None:
    proc = subprocess.run(["python3", "scripts/role-docs.py", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_role_docs_detects_a_stale_readme(tmp_path: Path) -> None:
    shutil.copytree(REPO / "roles" / "kiosk", tmp_path / "kiosk")
    specs = tmp_path / "kiosk" / "meta" / "argument_specs.yml"
    specs.write_text(specs.read_text().replace("Watchdog period in seconds.", "Changed."))
    script = str(REPO / "scripts" / "role-docs.py")
    proc = subprocess.run(["python3", script, "--check", "--roles", str(tmp_path), "kiosk"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "out of date" in proc.stderr
    subprocess.run(["python3", script, "--roles", str(tmp_path), "kiosk"], check=True,
                   capture_output=True, timeout=60)
    assert "| Changed. |" in (tmp_path / "kiosk" / "README.md").read_text()
