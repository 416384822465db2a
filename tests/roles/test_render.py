"""Every role template rendered with the demo inventory's real variables (florac-fs), then
checked with the real checkers available here (nft -c, apt-config, sh -n, json)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.roles.conftest import REPO, ROLES, ansible_env, tool

HOSTS = ("florac-fs-pc1", "florac-fs-borne1", "florac-fs-screen1")
SCREEN = "florac-fs-screen1"
pytestmark = pytest.mark.slow  # one ansible-playbook run renders everything (~40 s)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("rendered")
    items = []
    for role in ROLES:
        tdir = REPO / "roles" / role / "templates"
        for src in sorted(tdir.rglob("*.j2")):
            items.append({"src": str(src),
                          "dest": f"{role}/{src.relative_to(tdir).as_posix()[:-3]}"})
    # the role variables the desktops playbook sets (snmp_agent_processes), as it sets them
    desktops = yaml.safe_load((REPO / "playbooks/desktops.yml").read_text(encoding="utf-8"))
    role_vars = out / "role-vars.yml"
    role_vars.write_text(yaml.safe_dump(
        {k: v for r in desktops[0]["roles"] for k, v in (r.get("vars") or {}).items()}))
    # and those the hall screens' play sets (playbooks/public.yml), for the screen only
    public = yaml.safe_load((REPO / "playbooks/public.yml").read_text(encoding="utf-8"))
    [screens] = [p for p in public if p["name"] == "Hall screens"]
    screen_vars = out / "screen-vars.yml"
    screen_vars.write_text(yaml.safe_dump(
        {k: v for r in screens["roles"] for k, v in (r.get("vars") or {}).items()}))
    play = [{
        "name": "Render role templates",
        "hosts": ",".join(HOSTS),
        "gather_facts": False,
        "vars_files": [*(str(REPO / "roles" / r / "defaults" / "main.yml") for r in ROLES),
                       str(role_vars)],
        "vars": {"ansible_connection": "local", "ansible_become": False,
                 "ansible_python_interpreter": "/usr/bin/python3",
                 "render_out": f"{out}/{{{{ inventory_hostname }}}}"},
        "tasks": [
            {"name": "The screen's play variables", "ansible.builtin.include_vars": {
                "file": str(screen_vars)}, "when": f"inventory_hostname == '{SCREEN}'"},
            {"name": "Directories", "ansible.builtin.file": {
                "path": "{{ render_out }}/{{ item.dest | dirname }}", "state": "directory",
                "mode": "0755"}, "loop": items},
            {"name": "Templates", "ansible.builtin.template": {
                "src": "{{ item.src }}", "dest": "{{ render_out }}/{{ item.dest }}",
                "mode": "0644"}, "loop": items},
        ],
    }]
    book = out / "render.yml"
    book.write_text(yaml.safe_dump(play), encoding="utf-8")
    proc = subprocess.run([tool("ansible-playbook"), str(book)], cwd=REPO, capture_output=True,
                          text=True, env=ansible_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return {h: out / h for h in HOSTS}


def test_nftables_ruleset_passes_nft_check(rendered: dict[str, Path]) -> None:
    conf = rendered["florac-fs-pc1"] / "hardening/etc/nftables.conf"
    text = conf.read_text()
    assert "policy drop" in text
    assert "ip saddr 10.48.12.0/24 tcp dport 22 accept" in text
    assert "ip saddr 10.0.0.0/8 udp dport 161 accept" in text
    if os.geteuid() != 0 or shutil.which("nft") is None:
        pytest.skip("nft -c needs root and nftables")
    # check mode in a throwaway network namespace: nothing touches this machine's firewall
    proc = subprocess.run(["unshare", "--net", "nft", "-c", "-f", str(conf)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_nft_check_catches_a_broken_ruleset(tmp_path: Path, rendered: dict[str, Path]) -> None:
    if os.geteuid() != 0 or shutil.which("nft") is None:
        pytest.skip("nft -c needs root and nftables")
    bad = tmp_path / "nftables.conf"
    text = (rendered["florac-fs-pc1"] / "hardening/etc/nftables.conf").read_text()
    bad.write_text(text.replace("policy drop;", "policy dorp;"))
    proc = subprocess.run(["unshare", "--net", "nft", "-c", "-f", str(bad)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0


def test_sshd_admins_from_management_only(rendered: dict[str, Path]) -> None:
    text = (rendered["florac-fs-pc1"] / "hardening/etc/ssh/sshd_config.d/"
            "50-relais-hardening.conf").read_text()
    allow = next(ln for ln in text.splitlines() if ln.startswith("AllowUsers"))
    assert allow.split()[1:] == ["relais@10.48.12.0/24", "relais@10.0.0.0/8"]
    for line in ("PasswordAuthentication no", "PermitRootLogin no",
                 "AuthenticationMethods publickey", "KbdInteractiveAuthentication no"):
        assert line in text.splitlines()


def test_sysctl_files(rendered: dict[str, Path]) -> None:
    net = (rendered["florac-fs-pc1"] / "hardening/etc/sysctl.d/60-relais-network.conf").read_text()
    pairs = dict(ln.split(" = ") for ln in net.splitlines() if " = " in ln)
    assert pairs["net.ipv4.ip_forward"] == "0"
    assert pairs["net.ipv4.tcp_syncookies"] == "1"
    assert all(k.startswith("net.") for k in pairs)


def test_apt_configuration_parses(rendered: dict[str, Path]) -> None:
    for name in ("20auto-upgrades", "52relais-unattended-upgrades"):
        path = rendered["florac-fs-pc1"] / "hardening/etc/apt/apt.conf.d" / name
        proc = subprocess.run(["apt-config", "-c", str(path), "dump"], capture_output=True,
                              text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
    dump = subprocess.run(["apt-config", "-c", str(path), "dump"], capture_output=True, text=True,
                          timeout=30).stdout
    assert "Debian-Security" in dump


def test_grub_generator_prints_superuser_and_hash(rendered: dict[str, Path]) -> None:
    script = rendered["florac-fs-pc1"] / "hardening/etc/grub.d/01_relais_password"
    out = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=30,
                         check=True).stdout.splitlines()
    assert out[0] == 'set superusers="relais"'
    assert out[1].startswith("password_pbkdf2 relais grub.pbkdf2.sha512.")


def test_udisks_forces_noexec(rendered: dict[str, Path]) -> None:
    text = (rendered["florac-fs-pc1"] / "hardening/etc/udisks2/mount_options.conf").read_text()
    entries = dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln and ln[0] != "#")
    assert {"nosuid", "nodev", "noexec"} <= set(entries["vfat_defaults"].split(","))
    assert "exec" not in entries["allow"].split(",")


def test_snmpd_v3_authpriv_only(rendered: dict[str, Path]) -> None:
    text = (rendered["florac-fs-pc1"] / "snmp_agent/etc/snmp/snmpd.conf").read_text()
    words = [ln.split()[0] for ln in text.splitlines() if ln.strip() and ln[0] != "#"]
    assert not {"rocommunity", "rwcommunity", "com2sec"} & set(words)
    create = next(ln for ln in text.splitlines() if ln.startswith("createUser")).split()
    assert create[1] == "relais-poller" and create[2] == "SHA" and create[4] == "AES"
    assert "rouser -s usm relais-poller priv -V relais_poller" in text


def _conf_words(path: Path, word: str) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines() if ln.startswith(word + " ")]


def _profile(kind: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO / "monitoring/profiles" / f"{kind}.yml").read_text())
    assert isinstance(data, dict)
    return data


def _within(oid: str, subtree: str) -> bool:
    return f".{oid.lstrip('.')}.".startswith(f".{subtree.lstrip('.')}.")


@pytest.mark.parametrize(("host", "kind"), [("florac-fs-pc1", "public_pc"),
                                            ("florac-fs-borne1", "borne"),
                                            (SCREEN, "screen")])
def test_snmpd_view_is_exactly_what_the_profile_reads(
    rendered: dict[str, Path], host: str, kind: str
) -> None:
    """Issue 9.9: the view holds what the profile (and the probe's sysName) reads, nothing
    more: no hrSWRun (command lines), no interfaces; the watched processes are prTable rows."""
    conf = rendered[host] / "snmp_agent/etc/snmp/snmpd.conf"
    views = [w[3] for w in _conf_words(conf, "view")]
    profile = _profile(kind)
    read = [str(o) for r in profile["read"].values() for o in r["oids"].values()]
    read.append("1.3.6.1.2.1.1.5.0")  # sysName: `fleet snmp test` (the probe)
    outside = [o for o in read if not any(_within(o, v) for v in views)]
    assert not outside, f"the profile reads OIDs outside the view: {outside}"
    unused = [v for v in views if not any(_within(o, v) for o in read)]
    assert not unused, f"the view shows what no profile reads: {unused}"
    assert not any(_within("1.3.6.1.2.1.25.4.2.1.5", v) for v in views)  # hrSWRunParameters
    procs = [w[1] for w in _conf_words(conf, "proc")]
    assert procs == profile["read"]["process_checks"]["expect"]


def test_public_pc_browser_policy(rendered: dict[str, Path]) -> None:
    policy = json.loads((rendered["florac-fs-pc1"] / "public_pc/etc/chromium/policies/managed/"
                         "relais-public-pc.json").read_text())
    assert policy["HomepageLocation"] == "https://www.service-public.fr/"
    assert policy["PasswordManagerEnabled"] is False
    assert "cookies_and_other_site_data" in policy["ClearBrowsingDataOnExitList"]


def test_kiosk_policy_blocks_everything_but_the_allowlist(rendered: dict[str, Path]) -> None:
    policy = json.loads((rendered["florac-fs-borne1"] / "kiosk/etc/chromium/policies/managed/"
                         "relais-kiosk.json").read_text())
    assert policy["URLBlocklist"][:2] == ["*", "chrome://*"]
    assert "service-public.fr" in policy["URLAllowlist"]
    assert "127.0.0.1" in policy["URLAllowlist"]  # the home page's host: its own start page
    assert policy["DeveloperToolsAvailability"] == 2


def test_kiosk_idle_reset_settings(rendered: dict[str, Path]) -> None:
    conf = json.loads((rendered["florac-fs-borne1"] / "kiosk/etc/relais/session-wipe.d/"
                       "50-kiosk.json").read_text())
    assert conf == {"idle_timeout": 180, "idle_warning": 30, "max_session": 3600,
                    "max_session_warning": 300,
                    "before_wipe": [["systemctl", "stop", "--no-block", "relais-kiosk.service"]],
                    "after_wipe": [["systemctl", "start", "--no-block", "relais-kiosk.service"]]}


def test_wipe_configuration_is_typed_json(rendered: dict[str, Path]) -> None:
    conf = json.loads((rendered["florac-fs-pc1"] / "session_wipe/etc/relais/"
                       "session-wipe.json").read_text())
    assert conf["user"] == "guest"
    assert isinstance(conf["idle_timeout"], int) and conf["idle_timeout"] > conf["idle_warning"]
    assert conf["items"][-1] == "home"


@pytest.mark.parametrize("script", ["kiosk/usr/local/bin/relais-kiosk",
                                    "kiosk/usr/local/bin/relais-kiosk-watchdog"])
def test_shell_scripts_parse(rendered: dict[str, Path], script: str) -> None:
    proc = subprocess.run(["sh", "-n", str(rendered["florac-fs-borne1"] / script)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_kiosk_env_is_shell_sourceable(rendered: dict[str, Path]) -> None:
    env = rendered["florac-fs-borne1"] / "kiosk/etc/relais/kiosk.env"
    out = subprocess.run(["sh", "-c", f'. {env} && printf "%s|%s" "$KIOSK_HOMEPAGE" "$KIOSK_FLAGS"'],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    home, flags = out.split("|")
    assert home == "http://127.0.0.1:8088/"  # the borne's start page (role kiosk_startpage)
    assert "--no-first-run" in flags


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_rendered_snmpd_answers_v3_authpriv_only(rendered: dict[str, Path], tmp_path: Path) -> None:
    """The rendered snmpd.conf run by a real net-snmp snmpd on loopback."""
    if shutil.which("snmpd") is None or shutil.which("snmpget") is None:
        pytest.skip("net-snmp (snmpd, snmpget) not installed")
    import time

    from fleet.inventory import load_inventory

    snmp = load_inventory(REPO / "inventory").device("florac-fs-pc1").snmp
    assert snmp is not None and snmp.auth_key is not None and snmp.priv_key is not None
    port = _free_udp_port()
    conf = tmp_path / "snmpd.conf"
    text = (rendered["florac-fs-pc1"] / "snmp_agent/etc/snmp/snmpd.conf").read_text()
    conf.write_text(text.replace("agentAddress udp:161", f"agentAddress udp:127.0.0.1:{port}"))
    env = dict(os.environ, SNMP_PERSISTENT_DIR=str(tmp_path / "persist"), MIBDIRS="+/dev/null")
    agent = subprocess.Popen(["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-I", "-smux"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        target = f"127.0.0.1:{port}"
        v3 = ["snmpget", "-v3", "-l", "authPriv", "-u", str(snmp.user), "-a", "SHA",
              "-A", snmp.auth_key.get_secret_value(), "-x", "AES",
              "-X", snmp.priv_key.get_secret_value(), "-t", "1", "-r", "2", "-On", target]
        deadline = time.monotonic() + 15
        while True:
            ok = subprocess.run([*v3, ".1.3.6.1.2.1.1.5.0"], capture_output=True, text=True)
            if ok.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert ok.returncode == 0, ok.stderr
        assert ".1.3.6.1.2.1.1.5.0 = STRING" in ok.stdout
        hr = subprocess.run([*v3, ".1.3.6.1.2.1.25.1.1.0"], capture_output=True, text=True)
        assert "Timeticks" in hr.stdout  # hrSystemUptime: in the view
        outside = subprocess.run([*v3, ".1.3.6.1.2.1.4.1.0"], capture_output=True, text=True)
        assert "No Such Object" in outside.stdout  # ipForwarding: outside the view
        # the process table is not visible at all (its parameters are guests' command lines)
        sw_run = subprocess.run([*v3, ".1.3.6.1.2.1.25.4.2.1.5"],
                                capture_output=True, text=True)
        assert "No Such Object" in sw_run.stdout, sw_run.stdout
        walk = subprocess.run(["snmpwalk", *v3[1:-1], target, ".1.3.6.1.2.1.25.4"],
                              capture_output=True, text=True)
        assert walk.returncode == 0 and ".1.3.6.1.2.1.25.4." not in walk.stdout, walk.stdout
        # prTable answers "is relais-wipe running", with a real process of that name
        stand_in = tmp_path / "relais-wipe"
        shutil.copy("/bin/sleep", stand_in)
        sleeper = subprocess.Popen([str(stand_in), "300"])
        try:
            deadline = time.monotonic() + 30
            while True:  # snmpd caches its process scan for a few seconds
                pr = subprocess.run([*v3, ".1.3.6.1.4.1.2021.2.1.2.1", ".1.3.6.1.4.1.2021.2.1.5.1"],
                                    capture_output=True, text=True)
                if 'STRING: "relais-wipe"' in pr.stdout and "INTEGER: 0" not in pr.stdout:
                    break
                assert time.monotonic() < deadline, pr.stdout + pr.stderr
                time.sleep(0.5)
        finally:
            sleeper.kill()
            sleeper.wait(timeout=10)
        for community in ("public", "private", "demo-community-48"):
            v2c = subprocess.run(["snmpget", "-v2c", "-c", community, "-t", "1", "-r", "0",
                                  target, ".1.3.6.1.2.1.1.5.0"], capture_output=True, text=True)
            assert v2c.returncode != 0 and "Timeout" in v2c.stderr + v2c.stdout
        noauth = subprocess.run(["snmpget", "-v3", "-l", "noAuthNoPriv", "-u", str(snmp.user),
                                 "-t", "1", "-r", "0", target, ".1.3.6.1.2.1.1.5.0"],
                                capture_output=True, text=True)
        assert noauth.returncode != 0
    finally:
        agent.terminate()
        agent.wait(timeout=10)
