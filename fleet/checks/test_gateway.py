"""The site gateway: captive portal, DNS filter, legal connection log.  Read-only.

The same facts the gateway lab tests prove by driving a guest client; here they are read on
the deployed gateway, so the post-deploy verification and the monthly audit can run them."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.checks.model import HostExpect

pytestmark = pytest.mark.kinds("gateway")

BLOCKLIST = "/etc/dnsmasq.d/50-relais-blocklist.conf"


@pytest.mark.ref("Relais captive_portal: openNDS splash (CPCE L34-1 notice)")
def test_captive_portal_running(host: Any, expect: HostExpect) -> None:
    assert host.service("opennds").is_running
    tables = host.run("nft list tables").stdout
    assert "inet relais_portal" in tables, tables


@pytest.mark.ref("Relais captive_portal: opening hours gate")
def test_opening_hours_gate_scheduled(host: Any, expect: HostExpect) -> None:
    assert host.service("relais-portal-hours.timer").is_running
    assert host.file("/etc/relais/portal-hours.json").exists


@pytest.mark.ref("CPCE L34-1 / décret 2021-1362: connection records kept one year")
def test_connection_log_collected_and_private(host: Any, expect: HostExpect) -> None:
    assert host.service("relais-connlog").is_running
    log_dir = host.file("/var/lib/relais/connlog")
    assert log_dir.is_directory and log_dir.mode == 0o700, oct(log_dir.mode)
    assert log_dir.user == "root"


@pytest.mark.ref("Relais content_filter: the guests' only resolver, queries not logged")
def test_dns_filter_running(host: Any, expect: HostExpect) -> None:
    assert host.service("dnsmasq").is_running
    tables = host.run("nft list tables").stdout
    assert "inet relais_filter" in tables, tables
    conf = host.run("cat /etc/dnsmasq.conf /etc/dnsmasq.d/*.conf").stdout
    assert not any(ln.strip().startswith("log-queries") for ln in conf.splitlines())


@pytest.mark.ref("Relais content_filter: strict profile for child areas (PMI)")
def test_filter_profile_matches_the_site(host: Any, expect: HostExpect) -> None:
    header = [ln for ln in host.file(BLOCKLIST).content_string.splitlines()
              if ln.startswith("# profile:")]
    assert header, f"{BLOCKLIST}: no profile line"
    wanted = "pmi" if expect.child_area else "standard"
    assert header[0].startswith(f"# profile: {wanted};"), header[0]
