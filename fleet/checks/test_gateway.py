"""The site gateway: captive portal, DNS filter, legal connection log, hardening.  Read-only.

The same facts the gateway lab tests prove by driving a guest client; here they are read on
the deployed gateway, so the post-deploy verification and the monthly audit can run them.
The desktop hardening checks (test_firewall, test_ssh, ...) are for PCs and bornes; the
gateway's own hardening (its firewall differs: it routes, and serves DHCP/DNS/portal to
guests) is checked here."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from fleet.checks.model import HostExpect
from fleet.checks.plugin import not_applicable

pytestmark = pytest.mark.kinds("gateway")

BLOCKLIST = "/etc/dnsmasq.d/50-relais-blocklist.conf"
LISTS_META = "/var/lib/relais/blocklists/meta.json"
HOURS = "/etc/relais/portal-hours.json"
# Real UT1 lists: tens of thousands of names in the standard categories, millions in the adult
# ones.  Fewer means sample or truncated lists.  UT1 publishes daily; older than this is stale.
MIN_BLOCKED = MappingProxyType({"standard": 1_000, "pmi": 100_000})
MAX_AGE_DAYS = 45
MIN_HOURS_AHEAD_DAYS = 60  # fleet.gateway.hoursfile.MIN_REMAINING_DAYS
GUEST_PORTS = MappingProxyType({"udp": {53, 67}, "tcp": {53}})  # plus the portal and its resolver


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def lists_problems(meta: Mapping[str, Any], blocked: int, profile: str,
                   now: datetime) -> list[str]:
    """What is wrong with a gateway's lists (empty: fine).  Sample lists are the lab's
    business: the caller skips them there."""
    out = []
    if meta.get("sample"):
        out.append(f"sample lists ({meta.get('source')}) on a gateway outside the lab")
        return out
    minimum = MIN_BLOCKED.get(profile, MIN_BLOCKED["standard"])
    if blocked < minimum:
        out.append(f"{blocked} blocked names for profile {profile} (at least {minimum} expected)")
    dated = _time(meta.get("lists_date")) or _time(meta.get("loaded_at"))
    if dated is None:
        out.append("the lists' date is unknown (run fleet blocklists update)")
    elif (now - dated).days > MAX_AGE_DAYS:
        out.append(f"lists dated {dated:%Y-%m-%d}, {(now - dated).days} days old "
                   f"(at most {MAX_AGE_DAYS}): run fleet blocklists update")
    return out


def _now(host: Any) -> datetime:
    return datetime.fromtimestamp(int(host.run("date +%s").stdout.strip()), UTC)


# ----------------------------------------------------------------------------- portal


@pytest.mark.ref("Relais captive_portal: openNDS splash (CPCE L34-1 notice)")
def test_captive_portal_running(host: Any, expect: HostExpect) -> None:
    assert host.service("opennds").is_running
    tables = host.run("nft list tables").stdout
    assert "inet relais_portal" in tables, tables


@pytest.mark.ref("Relais captive_portal: no DNS before the terms are accepted")
def test_dns_before_acceptance_forwards_nothing(host: Any, expect: HostExpect) -> None:
    assert host.service("relais-portal-dns").is_running
    conf = host.file("/etc/relais/portal-dns.conf").content_string
    assert "no-resolv" in conf and re.search(r"^address=/#/", conf, re.M), conf
    assert not re.search(r"^server=", conf, re.M)
    chain = host.run("nft list chain inet relais_portal prerouting")
    assert chain.rc == 0 and "redirect to :" in chain.stdout, chain.stdout + chain.stderr


@pytest.mark.ref("Relais captive_portal: the idle timeout counts the guest's traffic")
def test_portal_idle_timer_sees_guest_traffic(host: Any, expect: HostExpect) -> None:
    """openNDS 9.10's own upload limit makes its counter reader miss every guest's upload, so
    its idle timeout disconnects active guests; the portal's nftables table limits instead."""
    conf = host.file("/etc/opennds/opennds.conf").content_string
    rate = re.search(r"^uploadrate\s+(\d+)", conf, re.M)
    assert rate is None or rate.group(1) == "0", (
        f"opennds.conf: uploadrate {rate.group(1)}: openNDS would disconnect active guests "
        "(re-deploy: the portal's nftables table limits the upload)")


@pytest.mark.ref("Relais captive_portal: opening hours gate")
def test_opening_hours_gate_scheduled(host: Any, expect: HostExpect) -> None:
    assert host.service("relais-portal-hours.timer").is_running
    data = json.loads(host.file(HOURS).content_string)
    assert data.get("format") == 2, "the hours file must hold opening intervals (re-deploy)"
    until = _time(data.get("valid_until"))
    assert until is not None, data.get("valid_until")
    left = (until - _now(host)).days
    assert left >= MIN_HOURS_AHEAD_DAYS, f"opening intervals end in {left} days: re-deploy"


# ----------------------------------------------------------------------------- personal data


@pytest.mark.ref("CPCE L34-1 / décret 2021-1362: connection records kept one year")
def test_connection_log_collected_and_private(host: Any, expect: HostExpect) -> None:
    assert host.service("relais-connlog").is_running
    log_dir = host.file("/var/lib/relais/connlog")
    assert log_dir.is_directory and log_dir.mode == 0o700, oct(log_dir.mode)
    assert log_dir.user == "root"


@pytest.mark.ref("RGPD art. 5.1.c/e: DHCP keeps no personal trace in logs or on disk")
def test_dhcp_is_quiet(host: Any, expect: HostExpect) -> None:
    conf = host.file("/etc/dnsmasq.d/10-relais-guest.conf").content_string
    for line in ("quiet-dhcp", "dhcp-ignore-names"):
        assert re.search(rf"^{line}$", conf, re.M), f"{line} missing"
    lease = re.search(r"^dhcp-leasefile=(\S+)", conf, re.M)
    assert lease and lease.group(1).startswith("/run/"), "leases must stay in memory (/run)"
    assert not any(ln.strip().startswith("log-dhcp") for ln in conf.splitlines())


@pytest.mark.ref("RGPD art. 5.1.c: the portal writes no login log (MAC, IP, User-Agent)")
def test_portal_writes_no_login_log(host: Any, expect: HostExpect) -> None:
    theme = host.file("/usr/lib/opennds/theme_relais.sh").content_string
    assert not re.search(r"^\s*auth_log\b", theme, re.M), "the theme calls auth_log"
    conf = host.file("/etc/opennds/opennds.conf").content_string
    assert re.search(r"^debuglevel 0$", conf, re.M), "openNDS logs clients above level 0"


# ----------------------------------------------------------------------------- filter


@pytest.mark.ref("Relais content_filter: the guests' only resolver, queries not logged")
def test_dns_filter_running(host: Any, expect: HostExpect) -> None:
    assert host.service("dnsmasq").is_running
    tables = host.run("nft list tables").stdout
    assert "inet relais_dnsfilter" in tables, tables
    conf = host.run("cat /etc/dnsmasq.conf /etc/dnsmasq.d/*.conf").stdout
    assert not any(ln.strip().startswith("log-queries") for ln in conf.splitlines())


@pytest.mark.ref("Relais content_filter: strict profile for child areas (PMI)")
def test_filter_profile_matches_the_site(host: Any, expect: HostExpect) -> None:
    header = [ln for ln in host.file(BLOCKLIST).content_string.splitlines()
              if ln.startswith("# profile:")]
    assert header, f"{BLOCKLIST}: no profile line"
    wanted = "pmi" if expect.child_area else "standard"
    assert header[0].startswith(f"# profile: {wanted};"), header[0]
    if expect.child_area:  # QUIC, VPN ports and unresolved addresses closed
        chain = host.run("nft list chain inet relais_dnsfilter forward").stdout
        assert "@resolved_v4" in chain and "443" in chain and "51820" in chain, chain


@pytest.mark.ref("Relais content_filter: lists of real size, updated (UT1)")
def test_blocklists_size_and_age(host: Any, expect: HostExpect) -> None:
    text = host.file(BLOCKLIST).content_string
    m = re.search(r"^# blocked names: (\d+)$", text, re.M)
    assert m, f"{BLOCKLIST}: no count line"
    meta_file = host.file(LISTS_META)
    assert meta_file.exists, f"{LISTS_META} missing: re-deploy the gateway"
    meta = json.loads(meta_file.content_string)
    if meta.get("sample") and meta.get("lab"):
        # the lab deploys the sample lists on purpose: this check is about real lists
        not_applicable(f"lab: sample lists ({m.group(1)} names); size and age apply to real lists")
    profile = "pmi" if expect.child_area else "standard"
    problems = lists_problems(meta, int(m.group(1)), profile, _now(host))
    assert not problems, "; ".join(problems)


# ----------------------------------------------------------------------------- hardening


def _chain(host: Any, name: str) -> str:
    out = host.run(f"nft list chain inet relais_filter {name}")
    assert out.rc == 0, f"no relais {name} chain: {out.stderr.strip()}"
    return str(out.stdout)


@pytest.mark.ref("CIS 4.3.x", "CIS 5.1.x")
def test_gateway_inbound_default_drop(host: Any, expect: HostExpect) -> None:
    chain = _chain(host, "input")
    assert "policy drop" in chain
    assert host.service("nftables").is_enabled
    ssh = [ln.strip() for ln in chain.splitlines() if "dport 22" in ln]
    assert ssh and all("saddr" in r for r in ssh), f"SSH open to any source: {ssh}"
    assert any(expect.management in r for r in ssh), ssh
    snmp = [ln.strip() for ln in chain.splitlines() if "dport 161" in ln]
    assert all("saddr" in r for r in snmp), f"SNMP open to any source: {snmp}"
    # from guests: DHCP, DNS, the portal and its resolver (the ports those services use)
    portal = re.search(r"^gatewayport (\d+)", host.file("/etc/opennds/opennds.conf")
                       .content_string, re.M)
    resolver = re.search(r"^port=(\d+)", host.file("/etc/relais/portal-dns.conf")
                         .content_string, re.M)
    assert portal and resolver
    allowed = {"udp": GUEST_PORTS["udp"] | {int(resolver.group(1))},
               "tcp": GUEST_PORTS["tcp"] | {int(resolver.group(1)), int(portal.group(1))}}
    guest = [ln.strip() for ln in chain.splitlines() if "iifname" in ln and "accept" in ln]
    assert guest, "no rule for the guests' DHCP, DNS and portal"
    for rule in guest:
        assert "dport" in rule, f"guest rule without a port: {rule}"
        ports = {int(p) for p in re.findall(r"\b(\d+)\b", rule.split("dport", 1)[1])}
        proto = "udp" if "udp dport" in rule else "tcp"
        assert ports and ports <= allowed[proto], f"guest rule opens {sorted(ports)}: {rule}"


@pytest.mark.ref("CIS 3.3.x", "CIS 4.3.x")
def test_gateway_forwards_guests_to_the_internet_only(host: Any, expect: HostExpect) -> None:
    chain = _chain(host, "forward")
    assert "policy drop" in chain, chain
    accepts = [ln.strip() for ln in chain.splitlines() if ln.strip().endswith("accept")]
    for rule in accepts:
        assert "established" in rule or "oifname" in rule, f"forwarding too wide: {rule}"


@pytest.mark.ref("Relais captive_portal: openNDS restarts without hanging")
def test_opennds_not_ordered_after_dnsmasq(host: Any, expect: HostExpect) -> None:
    """openNDS runs `systemctl restart dnsmasq` itself: ordered after dnsmasq, each restart of
    the portal waits for itself until systemd's stop timeout (90 s without a portal)."""
    after = host.run("systemctl show opennds -p After --value")
    assert after.rc == 0, after.stderr
    assert "dnsmasq.service" not in after.stdout.split(), after.stdout


@pytest.mark.ref("CIS 5.1.x")
def test_gateway_sshd_hardened(host: Any, expect: HostExpect) -> None:
    out = host.run("sshd -T -C user=nobody,host=localhost,addr=127.0.0.1")
    assert out.rc == 0, out.stderr
    conf = dict(ln.partition(" ")[::2] for ln in out.stdout.splitlines())
    for key, value in (("passwordauthentication", "no"), ("permitrootlogin", "no"),
                       ("authenticationmethods", "publickey"), ("allowtcpforwarding", "no")):
        assert conf.get(key) == value, (key, conf.get(key))


@pytest.mark.ref("ANSSI-BP-028 R71", "CIS 6.1.x")
def test_gateway_journal_bounded(host: Any, expect: HostExpect) -> None:
    conf = host.file("/etc/systemd/journald.conf.d/50-relais.conf").content_string
    for key in ("SystemMaxUse=", "MaxRetentionSec="):
        assert key in conf, f"{key} missing"
    assert not host.user(expect.guest_user).exists, "a guest account on the gateway"
