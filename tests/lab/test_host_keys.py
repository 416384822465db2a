"""SSH host keys are checked on the lab as on a real site: every tool reaches a lab host only
when its key is the one `fleet lab up` gave it and wrote in the site's known_hosts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fleet.lab.pytest_plugin import LabSite
from fleet.remote.pyinfra_run import Target, run

pytestmark = pytest.mark.lab

HOST = "florac-fs-pc1"
NO_MASTER = ["-o", "ControlPath=none", "-o", "BatchMode=yes"]  # a fresh connection: a new key check


def _ssh(site: LabSite, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-F", str(site.ssh_config), *NO_MASTER, *extra, HOST, "true"],
                          capture_output=True, text=True, timeout=60, check=False)


def _wrong_known_hosts(site: LabSite, tmp_path: Path, host: str = HOST) -> Path:
    """A known_hosts file giving ``host`` another key than its own."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
                   check=True)
    wrong = tmp_path / "known_hosts"
    other = (tmp_path / "other.pub").read_text().split()
    wrong.write_text(f"{host},{site.device(host).ip} {other[0]} {other[1]}\n")
    return wrong


def test_the_hosts_present_the_keys_written_in_the_sites_known_hosts(lab_site: LabSite) -> None:
    known = lab_site.lab.paths.site_known_hosts(lab_site.site.id).read_text().splitlines()
    recorded = {line.split(",")[0]: line.split(" ", 1)[1] for line in known}
    assert {HOST, "florac-fs-gw", "florac-fs-borne1", "florac-fs-sw1"} <= set(recorded)
    for name in (HOST, "florac-fs-sw1"):
        scan = lab_site.ctl("ssh-keyscan", "-t", "ed25519", str(lab_site.device(name).ip))
        assert recorded[name] in scan.stdout, (name, scan.stdout, scan.stderr)


def test_ssh_checks_the_host_key(lab_site: LabSite, tmp_path: Path) -> None:
    ok = _ssh(lab_site)  # positive control: the generated config reaches the host
    assert ok.returncode == 0, ok.stderr
    refused = _ssh(lab_site, "-o", f"UserKnownHostsFile={_wrong_known_hosts(lab_site, tmp_path)}")
    assert refused.returncode == 255
    assert "IDENTIFICATION HAS CHANGED" in refused.stderr or "verification failed" in refused.stderr


def test_pyinfra_checks_the_host_key(lab_site: LabSite, tmp_path: Path) -> None:
    paths = lab_site.lab.paths
    other = "florac-fs-pc2"
    good = Target(HOST, str(lab_site.device(HOST).ip), "relais", paths.ssh_key, paths.ssh_config)
    bad = Target(other, str(lab_site.device(other).ip), "relais", paths.ssh_key, paths.ssh_config,
                 known_hosts=_wrong_known_hosts(lab_site, tmp_path, other))
    reached, refused = run([good, bad], lambda state: None)
    assert reached.ok, reached.message  # positive control, in the same run
    assert not refused.ok and refused.message == "unreachable"
    [again] = run([Target(other, bad.address, "relais", paths.ssh_key, paths.ssh_config)],
                  lambda state: None)
    assert again.ok, again.message  # the same host, with the site's known_hosts
