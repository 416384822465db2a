"""The gateway roles follow the role conventions (STYLE.md 12-15: the same checks as
tests/roles, applied to captive_portal and content_filter), and their templates render with the
demo inventory's gateways into files the real checkers accept (nft -c, dnsmasq --test, bash -n).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.roles import test_static
from tests.roles.conftest import REPO, ansible_env, tool

ROLES = ("captive_portal", "content_filter")
PLAYBOOKS = ("gateway.yml", "blocklists.yml")
GATEWAYS = ("florac-fs-gw", "rennes-maurepas-gw")  # a standard site and a PMI site


@pytest.mark.parametrize("role", ROLES)
def test_conventions(role: str) -> None:
    test_static.test_main_only_dispatches_behind_feature_flags(role)
    test_static.test_fqcn_quoted_modes_and_validate(role)
    test_static.test_argument_specs_cover_defaults(role)


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(playbook: str) -> None:
    test_static.test_playbook_syntax(playbook)


def test_config_edits_are_validated() -> None:
    for role in ROLES:
        for path in (REPO / "roles" / role / "tasks").glob("*.yml"):
            for task in yaml.safe_load(path.read_text()) or []:
                args = task.get("ansible.builtin.template") or {}
                dest = str(args.get("dest", ""))
                if dest.endswith(".nft"):
                    assert "nft -c -f %s" in args.get("validate", ""), dest
                if dest.startswith("/etc/dnsmasq.d/"):
                    assert "dnsmasq --test -C %s" in args.get("validate", ""), dest


@pytest.mark.slow
def test_ansible_lint_production() -> None:
    targets = [f"roles/{r}" for r in ROLES] + [f"playbooks/{p}" for p in PLAYBOOKS]
    proc = subprocess.run([tool("ansible-lint"), "--profile", "production", *targets], cwd=REPO,
                          capture_output=True, text=True, env=ansible_env(), timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("rendered")
    items = []
    for role in ROLES:
        tdir = REPO / "roles" / role / "templates"
        for src in sorted(tdir.rglob("*.j2")):
            items.append({"src": str(src),
                          "dest": f"{role}/{src.relative_to(tdir).as_posix()[:-3]}"})
    # the hardening role's firewall and sysctls, with the gateway play's variables
    hdir = REPO / "roles/hardening/templates"
    for rel in ("etc/nftables.conf.j2", "etc/sysctl.d/60-relais-network.conf.j2"):
        items.append({"src": str(hdir / rel), "dest": f"hardening/{rel[:-3]}"})
    play_vars = out / "gateway-play-vars.yml"  # after the defaults: they override them
    play_vars.write_text(yaml.safe_dump(
        yaml.safe_load((REPO / "playbooks/gateway.yml").read_text())[0]["vars"]))
    play = [{
        "name": "Render gateway role templates",
        "hosts": ",".join(GATEWAYS),
        "gather_facts": False,
        "vars_files": [*(str(REPO / "roles" / r / "defaults" / "main.yml")
                         for r in (*ROLES, "hardening")), str(play_vars)],
        "vars": {"ansible_connection": "local", "ansible_become": False,
                 "ansible_python_interpreter": "/usr/bin/python3",
                 "ansible_facts": {"default_ipv4": {"interface": "eth2"},
                                   "interfaces": ["eth0", "eth1", "eth2"],
                                   "eth1": {"device": "eth1", "ipv4": {
                                       "address": "{{ site_networks.guest | relais_nthhost(1) }}"}}},
                 "render_out": f"{out}/{{{{ inventory_hostname }}}}"},
        "tasks": [
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
    env = ansible_env()
    env["ANSIBLE_FILTER_PLUGINS"] = str(REPO / "roles/captive_portal/filter_plugins")
    proc = subprocess.run([tool("ansible-playbook"), str(book)], cwd=REPO, capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return {h: out / h for h in GATEWAYS}


@pytest.mark.slow
def test_rendered_firewalls_pass_nft_check(rendered: dict[str, Path]) -> None:
    portal = (rendered["florac-fs-gw"] / "captive_portal/etc/relais/captive_portal.nft").read_text()
    assert 'oifname "eth2" ip saddr 172.16.12.0/24 masquerade' in portal
    assert 'iifname "eth1" meta nfproto ipv6 drop' in portal
    # the per-client upload limit (2000 kbit/s) is the portal's, not openNDS's (see opennds.conf)
    assert ('update @upload { ip saddr limit rate over 250 kbytes/second burst 250 kbytes } '
            'counter drop') in portal
    filt = (rendered["florac-fs-gw"] / "content_filter/etc/relais/content_filter.nft").read_text()
    assert 'iifname "eth1" tcp dport { 53, 853 } counter drop' in filt
    assert 'iifname "eth1" udp dport { 53, 853, 8853 } counter drop' in filt
    assert "resolved_v4" not in filt  # standard profile
    pmi = (rendered["rennes-maurepas-gw"] / "content_filter/etc/relais/content_filter.nft"
           ).read_text()
    assert 'udp dport { 53, 443, 500, 853, 1194, 1701, 4500, 8853, 51820 }' in pmi
    assert 'ip daddr @resolved_v4 accept' in pmi
    assert "chain prerouting" in portal and "redirect to :5300" in portal
    host_fw = (rendered["florac-fs-gw"] / "hardening/etc/nftables.conf").read_text()
    assert "flush ruleset" not in host_fw and "delete table inet relais_filter" in host_fw
    assert 'iifname "eth1" oifname "eth2" accept' in host_fw
    sysctl = (rendered["florac-fs-gw"] / "hardening/etc/sysctl.d/60-relais-network.conf"
              ).read_text()
    assert "net.ipv4.ip_forward = 1" in sysctl and "log_martians = 0" in sysctl
    if os.geteuid() != 0 or shutil.which("nft") is None:
        pytest.skip("nft -c needs root and nftables")
    for host in GATEWAYS:
        for rel in ("captive_portal/etc/relais/captive_portal.nft",
                    "content_filter/etc/relais/content_filter.nft",
                    "hardening/etc/nftables.conf"):
            proc = subprocess.run(["unshare", "--net", "nft", "-c", "-f", str(rendered[host] / rel)],
                                  capture_output=True, text=True, timeout=30)
            assert proc.returncode == 0, (host, rel, proc.stderr)


@pytest.mark.slow
def test_rendered_dnsmasq_and_theme_pass_their_checkers(rendered: dict[str, Path]) -> None:
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq not installed (ci/apt-packages.txt: dnsmasq-base)")
    for host in GATEWAYS:
        for rel in ("captive_portal/etc/dnsmasq.d/10-relais-guest.conf",
                    "captive_portal/etc/relais/portal-dns.conf",
                    "content_filter/etc/dnsmasq.d/20-relais-resolver.conf"):
            proc = subprocess.run(["dnsmasq", "--test", "-C", str(rendered[host] / rel)],
                                  capture_output=True, text=True, timeout=30)
            assert proc.returncode == 0, (host, rel, proc.stderr)
        theme = rendered[host] / "captive_portal/usr/lib/opennds/theme_relais.sh"
        assert subprocess.run(["bash", "-n", str(theme)], timeout=30).returncode == 0
    guest = (rendered["rennes-maurepas-gw"] / "captive_portal/etc/dnsmasq.d/10-relais-guest.conf"
             ).read_text()
    assert "dhcp-range=eth1,172.18.1.100,172.18.1.253,255.255.255.0,1h" in guest


@pytest.mark.slow
def test_splash_in_french_with_hours_terms_privacy_and_english(rendered: dict[str, Path]) -> None:
    pmi = (rendered["rennes-maurepas-gw"] / "captive_portal/usr/lib/opennds/theme_relais.sh").read_text()
    std = (rendered["florac-fs-gw"] / "captive_portal/usr/lib/opennds/theme_relais.sh").read_text()
    assert "Espace social commun de Maurepas" in pmi
    assert "<li>samedi : 09:30-12:00</li>" in pmi and "<li>dimanche : fermé</li>" in pmi
    assert "conditions générales d'utilisation" in pmi and "L34-1" in pmi
    assert 'lang=\\"en\\"' in pmi and "Terms of use (English)" in pmi
    assert "Ce lieu accueille des enfants" in pmi and "Ce lieu accueille des enfants" not in std
    hours = json.loads((rendered["florac-fs-gw"] / "captive_portal/etc/relais/portal-hours.json"
                        ).read_text())
    assert hours["always_open"] is True and hours["format"] == 2 and "week" not in hours
    # opening intervals from the inventory, the Christmas closure (24-26 December) included
    assert hours["open"] and all(not a.startswith(("2026-12-24", "2026-12-25", "2026-12-26"))
                                 for a, _ in hours["open"])
    conf = (rendered["florac-fs-gw"] / "captive_portal/etc/opennds/opennds.conf").read_text()
    for line in ("GatewayInterface eth1", "preauthidletimeout 10", "authidletimeout 30",
                 "sessiontimeout 240", "downloadrate 8000", "uploadrate 0",
                 "login_option_enabled 3"):
        assert line in conf


def test_hours_handler_restarts_the_gate() -> None:
    """A deploy that changes the hours applies them now: `systemctl start` of the oneshot would
    join a run the minute timer began with the old configuration (seen in the lab)."""
    handlers = yaml.safe_load((REPO / "roles/captive_portal/handlers/main.yml").read_text())
    gate = next(h for h in handlers if h["name"] == "Apply opening-hours gate")
    assert gate["ansible.builtin.systemd_service"]["state"] == "restarted"
