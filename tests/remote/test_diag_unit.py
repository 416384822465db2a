"""The diagnostics bundle without a host: redaction rules, independent items, the size and
time bounds, the archive.  The lab test (test_lab_diag.py) runs it on real hosts."""

from __future__ import annotations

import io
import ipaddress
import json
import tarfile
from pathlib import Path

import pytest

from fleet.inventory import load_inventory
from fleet.inventory.models import Device
from fleet.remote import diag
from fleet.remote.diag import Redactor, collect, redact, redactor_for, write_bundle
from tests.conftest import REPO

PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"
R = Redactor(secrets=("s3cr3t-vault-value",), guest_networks=(ipaddress.IPv4Network("172.16.12.0/24"),),
             guest_users=("guest",), gateway=True)


@pytest.mark.parametrize(("text", "gone", "rule"), [
    ("snmp key s3cr3t-vault-value here", "s3cr3t-vault-value", "vault_value"),
    (f"key:\n{PEM}\nafter", "b3BlbnNzaC1rZXktdjEAAAAA", "private_key"),
    ("login password=hunter2 ok", "hunter2", "secret_value"),
    ('{"glpi_user_token": "abcdef123456"}', "abcdef123456", "secret_value"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x", "eyJhbGciOiJIUzI1NiJ9", "bearer"),
    ('createUser relais SHA "authpass12" AES "privpass34"', "authpass12", "snmp_user"),
    ("fetch https://user:pw123456@mirror.example/x", "pw123456", "url_credentials"),
    ("opened /home/guest/Documents/lettre-caf.pdf", "lettre-caf", "guest_home_path"),
    ("client aa:bb:cc:dd:ee:01 authenticated", "aa:bb:cc:dd:ee:01", "mac_address"),
    ("client 172.16.12.105 authenticated", "172.16.12.105", "guest_ip"),
    ("Nov 30 dnsmasq[812]: query[A] impots.gouv.fr from 172.16.12.105\nkept line", "impots.gouv.fr",
     "dns_or_dhcp_line"),
    ("Nov 30 dnsmasq-dhcp[812]: DHCPACK(eth1) 172.16.12.105 aa:bb:cc:dd:ee:01 laptop-de-jean",
     "laptop-de-jean", "dns_or_dhcp_line"),
])
def test_redaction_rules(text: str, gone: str, rule: str) -> None:
    out, counts = redact(text, R)
    assert gone not in out, out
    assert counts.get(rule), counts
    if "kept line" in text:
        assert "kept line" in out


def test_redaction_keeps_what_is_not_personal() -> None:
    text = "gateway 10.48.12.1 up; dns 198.18.0.1; service-public.fr allowed; user=relais"
    out, counts = redact(text, R)
    assert out == text and not counts
    url = "Nov 30 chromium: loading https://www.caf.fr/allocataires/mon-compte?id=42"
    assert "mon-compte" in redact(url, R)[0]
    assert "caf.fr" not in redact(url, R, browser=True)[0]


def test_redactor_knows_the_vault_and_the_snmp_keys() -> None:
    inv = load_inventory(REPO / "inventory")
    pc = inv.device("florac-fs-pc1")
    r = redactor_for(inv, inv.site("florac-fs"), pc)
    assert pc.snmp is not None and pc.snmp.auth_key is not None
    assert pc.snmp.auth_key.get_secret_value() in r.secrets
    assert len(r.secrets) >= 3 and not r.gateway
    assert r.guest_networks == (ipaddress.IPv4Network("172.16.12.0/24"),)
    assert redactor_for(inv, inv.site("florac-fs"), inv.device("florac-fs-gw")).gateway


def test_account_names_in_the_vault_are_not_redacted_everywhere() -> None:
    """The demo vault's switch account is "relais": redacted as a secret, every unit name and
    path of the product became "<secret>-kiosk.service" in the borne's bundle (lab run of
    2026-11-30).  Account names are identifiers; the passwords beside them stay secrets."""
    inv = load_inventory(REPO / "inventory")
    borne = inv.device("florac-fs-borne1")
    r = redactor_for(inv, inv.site("florac-fs"), borne)
    assert "relais" not in r.secrets and "relais-poller" not in r.secrets
    assert borne.snmp is not None and borne.snmp.priv_key is not None
    secret = borne.snmp.priv_key.get_secret_value()
    text, _ = redact(f"relais-kiosk.service active; key {secret}", r)
    assert text.startswith("relais-kiosk.service active") and secret not in text, text


class FakeHost:
    """Answers the bundle's commands like a host would (no SSH): by the item's command."""

    def __init__(self, outputs: dict[str, tuple[int, str]], fail: set[str] = frozenset()) -> None:
        self.outputs, self.fail, self.calls = outputs, fail, []  # type: ignore[assignment]

    def __call__(self, command: str, timeout: float) -> tuple[int, str]:
        self.calls.append(command)  # type: ignore[attr-defined]
        for key, value in self.outputs.items():
            if key in command:
                return value
        for key in self.fail:
            if key in command:
                raise TimeoutError(f"command timed out after {timeout:.0f} seconds")
        return 0, "fine\n"


def _pc() -> Device:
    return load_inventory(REPO / "inventory").device("florac-fs-pc1")


def test_items_are_independent_and_failures_listed() -> None:
    host = FakeHost({"lpstat": (1, "lpstat: Scheduler is not running")}, fail={"journalctl -b -n"})
    contents, results = collect(host, _pc(), R, max_bytes=diag.OVERHEAD + 1_000_000, deadline_s=60)
    by = {r.name: r for r in results}
    assert not by["system/journal-since-boot.txt"].ok
    assert "TimeoutError" in by["system/journal-since-boot.txt"].error
    assert not by["print/lpstat.txt"].ok and "Scheduler is not running" in by["print/lpstat.txt"].error
    assert by["system/disk.txt"].ok and contents["system/disk.txt"] == b"fine\n"
    # public PC: no gateway or kiosk items; every command is read-only and capped on the host
    assert not any(n.startswith(("gateway/", "kiosk/")) for n in by)
    assert all(c.startswith("sudo -n bash -c") for c in host.calls)  # type: ignore[attr-defined]


def test_capped_keeps_the_commands_status(tmp_path: Path) -> None:
    """Run the wrapper for real (without sudo): the status is the command's, and cut output
    is one byte over the limit so the cut is seen."""
    import subprocess

    def local(cmd: str) -> tuple[int, str]:
        inner = cmd.removeprefix("sudo -n ")
        p = subprocess.run(["sh", "-c", inner], capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout

    assert local(diag.capped("echo hello; exit 3", 100, "head")) == (3, "hello\n")
    status, out = local(diag.capped("yes abc | head -c 100000", 10, "head"))
    assert len(out) == 11
    status, out = local(diag.capped("seq 1 100000", 12, "tail"))
    assert status == 0 and out.endswith("100000\n") and len(out) == 13


def _ndsctl_stand_in(tmp_path: Path, busy: int) -> dict[str, str]:
    """A stand-in for openNDS's ndsctl (no openNDS here; the lab test asks the real one):
    silent with status 4, as when another caller holds its lock, ``busy`` times, then answers."""
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "ndsctl"
    tool.write_text(f"""#!/bin/sh
n=$(cat {tmp_path}/asked 2>/dev/null || echo 0); echo $((n + 1)) > {tmp_path}/asked
[ "$n" -lt {busy} ] && exit 4
echo "Client 0"; echo "  IP: 172.16.12.50 MAC: 02:00:00:00:00:50"
""")
    tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.mark.parametrize(("busy", "status", "asked"), [(0, 0, 1), (3, 0, 4), (99, 4, 5)])
def test_a_busy_ndsctl_is_asked_again(tmp_path: Path, busy: int, status: int, asked: int) -> None:
    """relais-connlog asks ndsctl every few seconds; a refused question (status 4, no output)
    failed the bundle's ndsctl item in a CI run of 2026-12-02.  Asked again, up to its tries."""
    import subprocess

    env = _ndsctl_stand_in(tmp_path, busy)
    inner = diag.capped(diag.ndsctl_status(tries=5, pause=0.01), 10_000, "head").removeprefix("sudo -n ")
    p = subprocess.run(["sh", "-c", inner], capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == status, p.stdout
    assert int((tmp_path / "asked").read_text()) == asked
    if status == 0:
        assert "IP: 172.16.12.50" in p.stdout
    else:
        assert p.stdout == "ndsctl: still busy with another caller after 0.05 s\n"
    assert "for try in $(seq 20)" in diag.ndsctl_status()  # the bundle's item: 20 tries, 10 s
    assert diag.ndsctl_status() in {i.command for i in diag.ITEMS}


def test_size_bound_holds_whatever_the_host_sends(tmp_path: Path) -> None:
    huge = "x" * 5_000_000  # a host that ignores the cap (worst case)
    host = FakeHost({"journalctl": (0, huge), "ps -eo": (0, huge)})
    bound = 1_200_000
    contents, results = collect(host, _pc(), R, max_bytes=bound, deadline_s=60)
    assert sum(len(v) for v in contents.values()) <= bound - diag.OVERHEAD
    assert next(r for r in results if r.name == "system/journal-since-boot.txt").truncated
    sha, size = write_bundle(tmp_path / "b.tar.gz", contents,
                             {"bundle": "b", "items": [r.to_json() for r in results]}, bound)
    assert size <= bound and (tmp_path / "b.tar.gz").stat().st_mode & 0o777 == 0o600
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        names = tar.getnames()
        manifest = json.load(io.BytesIO(tar.extractfile("b/MANIFEST.json").read()))  # type: ignore[union-attr]
    assert "b/system/journal-since-boot.txt" in names and manifest["bundle"] == "b"
    assert len(sha) == 64


def test_time_bound_skips_the_rest() -> None:
    ticks = iter(range(0, 1000, 20))  # every clock reading: 20 s later
    _, results = collect(FakeHost({}), _pc(), R, max_bytes=2_000_000, deadline_s=60,
                         clock=lambda: float(next(ticks)))
    skipped = [r for r in results if not r.ok]
    assert skipped and all("budget was used up" in r.error for r in skipped)
    assert any(r.ok for r in results)
