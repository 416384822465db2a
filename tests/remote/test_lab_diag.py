"""`fleet diag` on the deployed lab site: each listed item is in the archive, planted secrets
and a planted guest file are not (grep of the extracted bundle, after checking on the host that
they were there to be found), nor the guest client's MAC and address on the gateway, and the
size bound holds on a host whose journal is many times larger."""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from fleet.incidents import get_incident
from fleet.remote import diag
from fleet.remote.act import diagnose_device
from tests.remote.conftest import BORNE, GW, PC2, Deployed

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PASSWORD = "hunter2-Canary-Passw0rd"
TOKEN = "tok-9f8e7d6c5b4a-canary"
PEM_BODY = "b3BlbnNzaC1rZXktdjEAAAAAQ2FuYXJ5S2V5Qm9keQ"
GUEST_FILE = "/home/guest/Documents/lettre-a-la-caf-canary.txt"
GUEST_TEXT = "GUEST-PRIVATE-CANARY-4711"


def _bundle(d: Deployed, host: str, tmp: Path, **kw: object) -> tuple[diag.Bundle, Path, str]:
    store = d.store()
    try:
        bundle, _ = diagnose_device(d.site.inventory, host, store=store, actor="marie", lab=True,
                                    state_dir=d.state_dir, **kw)  # type: ignore[arg-type]
    finally:
        store.dispose()
    out = tmp / host
    out.mkdir()
    with tarfile.open(bundle.path) as tar:
        tar.extractall(out, filter="data")
    text = subprocess.run(["grep", "-r", "-a", "-h", "", str(out)], capture_output=True,
                          text=True, errors="replace").stdout
    return bundle, out / bundle.path.name.removesuffix(".tar.gz"), text


def test_bundle_of_a_pc_holds_every_item_and_no_secret(deployed: Deployed, tmp_path: Path) -> None:
    d = deployed
    snmp = d.site.device(PC2).snmp
    assert snmp is not None and snmp.auth_key is not None
    auth = snmp.auth_key.get_secret_value()
    pem = f"-----BEGIN OPENSSH PRIVATE KEY----- {PEM_BODY} -----END OPENSSH PRIVATE KEY-----"
    plant = (f"logger -t canary -- 'login password={PASSWORD} token: {TOKEN}'; "
             f"logger -t canary -- 'snmp key {auth}'; "
             f"logger -t canary -- '{pem}'; "
             f"logger -t canary -- 'opened {GUEST_FILE}'")
    d.out(PC2, plant)
    d.out(PC2, f"setpriv --reuid=guest --regid=guest --init-groups sh -c "
               f"'mkdir -p /home/guest/Documents && echo {GUEST_TEXT} > {GUEST_FILE}'")
    journal = d.out(PC2, "journalctl -b --no-pager -t canary")
    for planted in (PASSWORD, TOKEN, auth, PEM_BODY, "lettre-a-la-caf-canary"):
        assert planted in journal  # positive control: on the host, to be found
    assert GUEST_TEXT in d.out(PC2, f"cat {GUEST_FILE}")
    n = d.incident(PC2, "disk")
    bundle, root, text = _bundle(d, PC2, tmp_path, incident_id=n)
    wanted = [i.name for i in diag.ITEMS if i.applies(d.site.device(PC2).kind)]
    manifest = json.loads((root / "MANIFEST.json").read_text())
    assert [i["item"] for i in manifest["items"]] == wanted
    for name in wanted:
        assert (root / name).is_file(), name
    assert "canary" in (root / "system/journal-since-boot.txt").read_text()  # the lines are there...
    for planted in (PASSWORD, TOKEN, auth, PEM_BODY, "lettre-a-la-caf-canary", GUEST_TEXT):
        assert planted not in text, planted  # ...redacted
    assert manifest["redacted"].get("vault_value") and manifest["redacted"].get("private_key")
    assert bundle.path.stat().st_mode & 0o777 == 0o600 and bundle.size <= 20 * 1024 * 1024
    # the incident has the path and the SHA-256
    store = d.store()
    try:
        last = get_incident(store, n).events[-1]
    finally:
        store.dispose()
    assert last.kind == "action" and str(bundle.path) in last.text and bundle.sha256 in last.text
    import hashlib

    assert hashlib.sha256(bundle.path.read_bytes()).hexdigest() == bundle.sha256


def test_bundle_of_the_borne_has_the_kiosk_logs(deployed: Deployed, tmp_path: Path) -> None:
    _, root, _ = _bundle(deployed, BORNE, tmp_path)
    assert (root / "kiosk/journal.txt").is_file() and (root / "kiosk/status.txt").is_file()
    assert "relais-kiosk.service" in (root / "kiosk/status.txt").read_text()
    assert not re.search(r"https?://", (root / "kiosk/journal.txt").read_text())


def _guest_client(d: Deployed) -> tuple[str, str]:
    client = f"{d.site.site.id}-guest"
    if "inet " not in d.out(client, "ip -4 -o addr show dev eth0"):
        d.sh(client, "timeout 60 dhclient -1 eth0")
    addr = re.search(r"inet (\S+)/", d.out(client, "ip -4 -o addr show dev eth0"))
    mac = re.search(r"link/ether (\S+)", d.out(client, "ip -o link show dev eth0"))
    assert addr and mac
    d.sh(client, "curl -s -m 30 -o /dev/null http://visited-canary.example/ || true")
    return addr.group(1), mac.group(1)


def _nds_knows(d: Deployed, ip: str, mac: str) -> bool:
    """openNDS lists the guest in its status (the guest knocks first: openNDS knows a client by
    its packets).  ndsctl answers one caller at a time (relais-connlog asks every few seconds):
    asked as the bundle asks, again while busy; a CI run of 2026-12-02 read a busy ndsctl's
    silence as "the gateway does not know the guest"."""
    d.sh(f"{d.site.site.id}-guest", "curl -s -m 10 -o /dev/null http://example.com/ || true")
    status = d.sh(GW, diag.ndsctl_status()).stdout.lower()
    return ip in status or mac.lower() in status


def test_bundle_of_the_gateway_has_no_guest_data(deployed: Deployed, tmp_path: Path) -> None:
    d = deployed
    ip, mac = _guest_client(d)
    deadline = time.monotonic() + 120
    while not _nds_knows(d, ip, mac):  # positive control: the gateway knows the guest
        assert time.monotonic() < deadline, d.sh(GW, "ndsctl json").stdout[-1500:]
        time.sleep(1)
    bundle, root, text = _bundle(d, GW, tmp_path)
    for name in ("gateway/nft-ruleset.txt", "gateway/ndsctl-status.txt", "gateway/dnsmasq-statistics.txt"):
        assert (root / name).is_file(), name
    assert "table inet" in (root / "gateway/nft-ruleset.txt").read_text()
    # ndsctl answered (not a busy silence), its addresses replaced before writing
    nds = next(i for i in bundle.items if i.name == "gateway/ndsctl-status.txt")
    assert nds.ok, nds.error
    assert nds.redactions.get("guest_ip") or nds.redactions.get("mac_address"), nds.redactions
    assert ip not in text and mac.lower() not in text.lower()
    assert "visited-canary" not in text
    assert not bundle.failures or all(i.name.startswith("gateway/") for i in bundle.failures), \
        [(i.name, i.error) for i in bundle.failures]


def test_size_bound_on_a_huge_journal(deployed: Deployed, tmp_path: Path) -> None:
    d = deployed
    bound = 1_500_000
    # ~12 MB of journal (8x the bound), in few large messages (journald's rate limit counts lines)
    d.out(GW, "python3 -c \"import sys; [print('huge-journal ' + 'x' * 30000, flush=True) "
              "for _ in range(400)]\" | systemd-cat -t huge")
    size = int(d.out(GW, "journalctl -b --no-pager -o short-iso | wc -c"))
    assert size > 6 * bound, size  # positive control: really larger than the bound
    bundle, root, _ = _bundle(d, GW, tmp_path, max_bytes=bound)
    assert bundle.size <= bound
    items = {i.name: i for i in bundle.items}
    assert items["system/journal-since-boot.txt"].truncated
    assert "huge-journal" in (root / "system/journal-since-boot.txt").read_text()[-100_000:]
