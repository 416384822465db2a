"""`fleet snmp test HOST` against a real snmpd, with an inventory whose site lives on loopback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.cli.main import main
from fleet.inventory import load_inventory
from tests.monitor.agents import Agent, free_udp_port, snmpd

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Agent]]:
    """The demo inventory plus a site whose management network is 127.0.0.0/24:
    gw 127.0.0.1 and pc2 127.0.0.12 answer (snmpd), pc1 127.0.0.11 and the printer do not;
    pc2 has a wrong privacy key."""
    root = tmp_path_factory.mktemp("inv")
    shutil.copytree(REPO / "inventory", root / "inventory", symlinks=True)
    shutil.copy2(REPO / "vault-password", root / "vault-password")
    port = free_udp_port()
    text = (REPO / "inventory" / "sites" / "florac-fs.yml").read_text()
    text = (
        text.replace("florac_fs", "loopback_lab").replace("florac-fs", "loopback-lab")
        .replace("10.48.12.0/24", "127.0.0.0/24").replace("172.16.12.0/24", "172.16.251.0/24")
        .replace("10.48.12.", "127.0.0.")
        .replace("        site_pmi: false\n", f"        site_pmi: false\n        snmp_port: {port}\n")
        .replace(
            "        loopback-lab-pc2:\n          ansible_host: 127.0.0.12\n",
            "        loopback-lab-pc2:\n          ansible_host: 127.0.0.12\n"
            # a wrong privacy key without a secret in clear: the auth key's vault entry
            '          snmp_v3_priv_pass: "{{ vault_snmp_v3_auth_pass }}"\n',
        )
    )
    (root / "inventory" / "sites" / "loopback-lab.yml").write_text(text)
    inv = load_inventory(root / "inventory")
    gw, prn = inv.device("loopback-lab-gw").snmp, inv.device("loopback-lab-prn1").snmp
    assert gw and gw.user and gw.auth_key and gw.priv_key and prn and prn.community
    v3 = ((gw.user, gw.auth_key.get_secret_value(), gw.priv_key.get_secret_value()),)
    with snmpd(communities=(prn.community.get_secret_value(),), v3=v3,
               addresses=("127.0.0.1", "127.0.0.12"), port=port) as agent:
        yield root / "inventory", agent


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_ok(lab: tuple[Path, Agent], capsys: pytest.CaptureFixture[str]) -> None:
    inv, _agent = lab
    code, out, err = _run(["snmp", "test", "loopback-lab-gw", "-i", str(inv)], capsys)
    assert code == 0, err
    assert "OK loopback-lab-gw" in out
    assert "Linux" in out


def test_json_ok(lab: tuple[Path, Agent], capsys: pytest.CaptureFixture[str]) -> None:
    inv, _agent = lab
    code, out, _ = _run(["snmp", "test", "loopback-lab-gw", "-i", str(inv), "--json"], capsys)
    data = json.loads(out)
    assert code == 0
    # a freshly started agent may report an uptime under one second
    assert data["ok"] is True and data["version"] == "3" and data["uptime_s"] >= 0


@pytest.mark.parametrize(
    ("host", "reason"),
    [("loopback-lab-pc2", "priv_error"), ("loopback-lab-pc1", "unreachable")],
)
def test_failures_name_the_reason(
    lab: tuple[Path, Agent], capsys: pytest.CaptureFixture[str], host: str, reason: str
) -> None:
    inv, _agent = lab
    code, out, err = _run(["snmp", "test", host, "-i", str(inv), "--timeout", "2",
                           "--retries", "0"], capsys)
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"{host} " in lines[0] and f": {reason}: " in lines[0]
    code, out, _ = _run(["snmp", "test", host, "-i", str(inv), "--timeout", "2",
                         "--retries", "0", "--json"], capsys)
    assert code == 1 and json.loads(out)["reason"] == reason


def test_unknown_host(lab: tuple[Path, Agent], capsys: pytest.CaptureFixture[str]) -> None:
    inv, _agent = lab
    code, _out, err = _run(["snmp", "test", "no-such-host", "-i", str(inv)], capsys)
    assert code == 2
    assert "no device 'no-such-host'" in err and len(err.strip().splitlines()) == 1
