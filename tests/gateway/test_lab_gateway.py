"""The public wifi on real lab gateways, seen from a real guest client (DHCP, curl, dig).

Two sites side by side: rennes-maurepas (site_pmi: true) and florac-fs (standard).  Both
gateways are deployed with playbooks/gateway.yml (auth idle timeout shortened to 1 minute, the
opening-hours gate on with an injected clock), then the tests follow the issue's "Must show".
Run as root: ``.venv/bin/pytest -m lab tests/gateway`` (pytest takes the lab lock).  Both sites
are always brought down, also on failure.

The deploys and ``fleet`` commands use a state directory of their own (``FLEET_STATE_DIR``):
no list store at first (the sample lists, allowed in the lab), then the synthetic UT1 archive
``fleet blocklists update`` loads, which the final re-deploy must keep.  The fake internet is
given a query log, two addresses of its own and a packet counter per probe, so a test can tell
whether a probe reached it.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from fleet.checks import expectations_for, run_checks
from fleet.lab import down, make_lab
from fleet.lab.pytest_plugin import LabSite, lab_skip_reason, start_lab_site
from tests.gateway.conftest import make_ut1_archive
from tests.roles.conftest import REPO, ansible_env, tool

pytestmark = pytest.mark.lab

PMI, STD = "rennes-maurepas", "florac-fs"
OPEN_NOW = "2026-11-23T10:00:00+01:00"    # a Monday morning: both sites open
CLOSED_NOW = "2026-11-23T20:00:00+01:00"  # Monday evening: both closed
FAKENET = "198.18.0.1"
# A page openNDS builds with its shell scripts (the splash, the answer to the button): seconds
# on an idle machine, more than 10 s for the first one after a deploy while the other test
# session loads both cores (the README run of 2026-12-01 got an empty page at `-m 10`). The
# verdict is what the page says, not how fast it came.
# Any other answer that must come (a redirect, a port that opens) gets as long: the CI run
# of 1a1ef60 got nothing within 5 s from an openNDS that had answered moments before. A
# connection that must NOT be made gets REFUSED seconds, after a control that showed the same
# path answering.
ANSWER = 60
REFUSED = 5
PAGE = f"curl -s -m {ANSWER}"
PAGE_WAIT = ANSWER + 30  # the subprocess's own limit, above curl's
SPOOF_NS = "relais-gwtest-spoof"
# example.com A over UDP, from the gateway: prints NOERROR when the resolver answers
UDP_QUERY = ("import socket;s=socket.socket(2,2);s.settimeout(2);s.sendto(bytes.fromhex("
             "'123401000001000000000000076578616d706c6503636f6d0000010001'),"
             f"('{FAKENET}',53));r=s.recv(512);print('NOERROR' if r[3]&15==0 else 'ERR')")
EXTRA_VARS = {
    "captive_portal_auth_idle_timeout": 1,
    "captive_portal_checkinterval": 10,
    "captive_portal_follow_opening_hours": True,
    "captive_portal_hours_fixed_now": OPEN_NOW,
}


SECRET_HOST = "visite-secrete.example"  # the fake internet answers it with SECRET_IP
SECRET_IP = "203.0.113.77"
UNRESOLVED_IP = "203.0.113.10"  # a server no name of the lab resolves to (a DoH resolver, say)
PROBES = {  # counted where they arrive, on the fake internet: name -> nft match
    "gre": "ip protocol gre", "esp": "ip protocol esp", "sentinel": "udp dport 9",
    "udp-443": "udp dport 443", "udp-853": "udp dport 853", "udp-8853": "udp dport 8853",
    "tcp-853": "tcp dport 853", "udp-1194": "udp dport 1194", "tcp-1194": "tcp dport 1194",
    "udp-51820": "udp dport 51820", "udp-500": "udp dport 500", "udp-4500": "udp dport 4500",
    "udp-1701": "udp dport 1701", "tcp-1723": "tcp dport 1723",
}
_RULES = "\n".join(f'    {m} counter comment "{n}"' for n, m in PROBES.items())
FAKENET_SETUP = (
    "set -e\n"
    "printf 'log-queries\\nlog-facility=/var/log/relais-gwtest-dns.log\\n"
    f"address=/{SECRET_HOST}/{SECRET_IP}\\n' > /etc/dnsmasq.d/zz-relais-gwtest.conf\n"
    f"ip addr add {SECRET_IP}/32 dev lo\n"
    f"ip addr add {UNRESOLVED_IP}/32 dev lo\n"
    "systemctl restart dnsmasq\n"
    "nft -f - <<'NFT'\n"
    "table inet relais_probe {\n  chain input {\n"
    "    type filter hook input priority -10; policy accept;\n"
    f"{_RULES}\n  }}\n}}\nNFT\n"
)


def _env(state: Path) -> dict[str, str]:
    return {**ansible_env(), "FLEET_STATE_DIR": str(state)}


def _deploy(sites: dict[str, LabSite], state: Path) -> subprocess.CompletedProcess[str]:
    overlays = [a for s in sites.values() for a in ("-i", str(s.ansible_overlay))]
    return subprocess.run(
        [tool("ansible-playbook"), "-i", str(REPO / "inventory"), *overlays,
         "playbooks/gateway.yml", "--limit", f"{PMI}-gw,{STD}-gw", "-e", json.dumps(EXTRA_VARS)],
        cwd=REPO, capture_output=True, text=True, env=_env(state), timeout=900, check=False)


def _recap(stdout: str) -> dict[str, dict[str, int]]:
    out = {}
    for m in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", stdout, re.M):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return out


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The controller's state directory of these tests (the list store lives in it)."""
    return tmp_path_factory.mktemp("fleet-state")


@pytest.fixture(scope="module")
def sites(state: Path) -> Iterator[dict[str, LabSite]]:
    reason = lab_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    lab = make_lab(REPO / "inventory", with_secrets=False)
    up: dict[str, LabSite] = {}
    try:
        for site_id in (PMI, STD):
            up[site_id] = start_lab_site(REPO, site_id)
        proc = _deploy(up, state)
        if proc.returncode != 0:
            # one more try, as a technician would: a host unreachable (rc 4), or a unit the
            # lab's containers failed to (re)start (their systemd cannot manage cgroups)
            print(proc.stdout[-3000:])
            proc = _deploy(up, state)
        assert proc.returncode == 0, proc.stdout[-5000:]
        for s in up.values():
            done = s.exec(f"{s.site.id}-inet", "bash", "-c", FAKENET_SETUP)
            assert done.returncode == 0, done.stdout + done.stderr
        for s in up.values():  # openNDS, restarted by the deploy's handlers, answers again
            wait_for(f"{s.site.id}'s portal answering its guest", partial(portal_answers, s),
                     timeout=180)
        yield up
    finally:
        subprocess.run(["ip", "netns", "del", SPOOF_NS], capture_output=True, check=False)
        for site_id in (PMI, STD):
            down(lab, site_id)


def guest(s: LabSite, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return s.exec(f"{s.site.id}-guest", "sh", "-c", command, timeout=timeout)


def gw(s: LabSite, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return s.exec(f"{s.site.id}-gw", "sh", "-c", command, timeout=timeout)


def http_code(s: LabSite, url: str, limit: float = ANSWER) -> str:
    """The HTTP status the guest gets ("000": none within ``limit`` seconds)."""
    return guest(s, f"curl -s -m {limit:g} -o /dev/null -w '%{{http_code}}' {url}",
                 timeout=limit + 30).stdout.strip()


def portal_answers(s: LabSite) -> bool:
    """The guest gets an HTTP answer at all (which one is for the tests to judge): openNDS
    has started. Its restart at the end of a deploy took more than the first test's 5 s on a
    loaded machine (the runs of 2026-12-01)."""
    return http_code(s, "http://example.com/", limit=REFUSED) not in ("", "000")


def portal_state(s: LabSite) -> str:
    """What the gateway says of openNDS (a failure's explanation): systemd's pending jobs, the
    resolvers' state, openNDS's restarts, its last start, its last notices."""
    return "\n" + gw(s, "systemctl list-jobs --no-pager; systemctl is-active dnsmasq "
                        "relais-portal-dns; systemctl show opennds -p NRestarts "
                        "-p ActiveEnterTimestamp -p ActiveState; journalctl -u opennds -n 25 "
                        "--no-pager -o short-precise").stdout[-3500:]


def tcp_open(s: LabSite, host: str, port: int, on_gateway: bool = False,
             limit: float = ANSWER) -> bool:
    """A TCP connection opens within ``limit`` s (pass REFUSED where it must not open)."""
    cmd = f"timeout {limit:g} bash -c 'echo > /dev/tcp/{host}/{port}'"
    run = gw if on_gateway else guest
    return run(s, cmd, timeout=limit + 30).returncode == 0


# A question to a resolver: 5 s, asked twice. With 2 s and one try, the README run of
# 2026-12-01 (both cores busy) failed the filtering test, which checks answers, not speed.
# A query that must get nothing costs 10 s.
DIG = "dig +time=5 +tries=2"


def dig(s: LabSite, name: str, extra: str = "") -> str:
    out = guest(s, f"{DIG} {extra} {name} A").stdout
    m = re.search(r"status: (\w+)", out)
    return m.group(1) if m else "TIMEOUT"


def client_ip(s: LabSite) -> str:
    out = guest(s, "ip -4 -o addr show dev eth0").stdout
    m = re.search(r"inet (\S+)/", out)
    assert m, out
    return m.group(1)


JOURNAL_WHO = """
import json, sys
needle, start = sys.argv[1].lower(), int(sys.argv[2]) * 1_000_000
for line in sys.stdin:
    e = json.loads(line)
    hits = [k for k, v in e.items() if isinstance(v, str) and needle in v.lower()]
    if hits:
        print(int(e["__REALTIME_TIMESTAMP"]) >= start, e.get("SYSLOG_IDENTIFIER"),
              e.get("_SYSTEMD_UNIT"), hits, str(e.get("MESSAGE"))[:160])
"""  # which journal entries hold a string (a failure's explanation): since start?, who, fields


def nds_clients(s: LabSite) -> dict[str, Any]:
    """openNDS's clients by its own account, asked again until a client list comes: ndsctl
    answers one caller at a time and relais-connlog asks every few seconds; openNDS restarting
    answers nothing for a while.  No answer is never read as "no client" (a CI run of
    2026-12-01 left the idle-timeout test's wait 40 s early on a busy ndsctl, then found the
    guest still authenticated)."""
    answers: list[dict[str, Any]] = []

    def answered() -> bool:
        try:
            data = json.loads(gw(s, "ndsctl json").stdout or "null")
        except ValueError:
            data = None
        clients = data.get("clients") if isinstance(data, dict) else None
        if isinstance(clients, dict):
            answers.append(clients)
        return bool(answers)

    wait_for("openNDS's client list (ndsctl json)", answered, timeout=ANSWER)
    return answers[0]


def authenticated(s: LabSite, ip: str) -> bool:
    """The client is authenticated by openNDS's own account."""
    return any(c.get("ip") == ip and c.get("state") == "Authenticated"
               for c in nds_clients(s).values())


def operator_auth(s: LabSite, ip: str, within: float = 120) -> bool:
    """Authenticate a client by hand, as an operator would with `ndsctl auth`. openNDS only
    knows a client once it has sent a packet since its last de-authentication, and takes the
    auth on its next pass: so the client knocks, the operator asks, and the test looks again,
    until ``within`` seconds have passed (openNDS restarting after an opening-hours change
    answers nothing for a while, longer on a loaded machine: the verdict is whether the
    client gets in, not how fast)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if authenticated(s, ip):
            return True
        guest(s, "curl -s -m 3 -o /dev/null http://example.com/")
        gw(s, f"ndsctl auth {ip}")
        time.sleep(1)
    return authenticated(s, ip)


def online(s: LabSite) -> bool:
    """The guest gets the fake internet's page (through the gateway's resolver, as a browser)."""
    return "Relais lab fake internet" in guest(s, f"{PAGE} http://example.com/",
                                               timeout=PAGE_WAIT).stdout


def ensure_auth(s: LabSite) -> str:
    """Authenticate the guest, and wait until its traffic is let through: the verdict of
    "authenticated" is the guest's, not openNDS's list (a lab run of 2026-12-01 got openNDS's
    307 right after the list said "Authenticated": openNDS's idle timeout then cut guests off
    a minute after their first packet, see test_an_active_guest_is_not_taken_for_idle)."""
    ip = client_ip(s)
    assert operator_auth(s, ip), gw(s, "ndsctl json").stdout[-1500:]
    wait_for("the authenticated guest let through", partial(online, s), timeout=60)
    return ip


def inet(s: LabSite, command: str) -> subprocess.CompletedProcess[str]:
    return s.exec(f"{s.site.id}-inet", "sh", "-c", command)


def arrivals(s: LabSite) -> dict[str, int]:
    """Packets counted per probe where they arrive, on the fake internet."""
    data = json.loads(inet(s, "nft -j list chain inet relais_probe input").stdout)
    out = {}
    for item in data["nftables"]:
        rule = item.get("rule")
        if rule:
            counter = next(e["counter"] for e in rule["expr"] if "counter" in e)
            out[rule["comment"]] = int(counter["packets"])
    return out


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    """Wait for a condition (never for a fixed time): fail after a generous timeout."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.5)


def send_probe(s: LabSite, name: str, dest: str = FAKENET, on_gateway: bool = False) -> None:
    """One packet of the probe ``name`` towards the fake internet, from the guest (or the
    gateway itself: the positive control that the probe can arrive at all)."""
    def run(command: str) -> None:
        (gw if on_gateway else guest)(s, command)

    if name in ("gre", "esp"):
        proto = 47 if name == "gre" else 50
        run(f"python3 -c \"import socket;socket.socket(2,3,{proto}).sendto(bytes(24),"
            f"('{dest}',0))\"")
    elif name.startswith("tcp-"):
        run(f"timeout 2 bash -c 'echo > /dev/tcp/{dest}/{name[4:]}'")
    else:
        port = 9 if name == "sentinel" else int(name[4:])
        run(f"python3 -c \"import socket;socket.socket(2,2).sendto(b'relais',"
            f"('{dest}',{port}))\"")


def probe_arrives(s: LabSite, name: str, on_gateway: bool = False) -> bool:
    """Did the probe reach the fake internet?  A sentinel sent after it on the same path
    (allowed everywhere) is awaited first: once it has arrived, a probe that has not was
    dropped (no waiting for a time that may be too short)."""
    before = arrivals(s)
    send_probe(s, name, on_gateway=on_gateway)
    send_probe(s, "sentinel", on_gateway=on_gateway)
    wait_for("the sentinel probe", lambda: arrivals(s)["sentinel"] > before["sentinel"])
    return arrivals(s)[name] > before[name]


def connlog(s: LabSite, known: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The legal log's records, less those whose key is in ``known``.  A record's time says
    when the collector first saw it, not when the traffic began: the guest keeps its address
    across the module, and the first snapshot of a new session also records the mappings
    still tracked from the previous one.  So a test takes the keys before its traffic and
    waits for new ones (CI's run of d7b2d0c took earlier records for its own, then looked for
    the log's file before the collector had written it)."""
    text = gw(s, "cat /var/lib/relais/connlog/*.jsonl 2>/dev/null").stdout
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in records if r["key"] not in known]


def connlog_keys(s: LabSite) -> set[str]:
    return {r["key"] for r in connlog(s)}


def gw_now(s: LabSite) -> int:
    """The gateway's clock, in epoch seconds."""
    return int(gw(s, "date +%s").stdout.strip())


def fakenet_queries(s: LabSite) -> str:
    return inet(s, "cat /var/log/relais-gwtest-dns.log 2>/dev/null").stdout


def deauth(s: LabSite, ip: str) -> None:
    """``ndsctl deauth``, asked again while the client is still authenticated: ndsctl refuses
    while openNDS is busy with another command (its lock), which a loaded machine makes likely
    (a full run of 2026-11-30 waited 30 s for a deauth that had been refused)."""

    def gone() -> bool:
        if not authenticated(s, ip):
            return True
        gw(s, f"ndsctl deauth {ip}")
        return not authenticated(s, ip)

    wait_for("the de-authentication (ndsctl deauth asked until done)", gone, timeout=60)


def click_through(s: LabSite, attempts: int = 6) -> str:
    """Open the splash page and press the button, as a visitor would (who, like openNDS's own
    "try again" link suggests, retries when the very first page of a new client was stale)."""
    result = page = ""
    for attempt in range(attempts):
        if attempt and authenticated(s, ip := client_ip(s)):
            # the last try authenticated the client yet answered with a stale page: start over
            gw(s, f"ndsctl deauth {ip}")
            time.sleep(1)
        page = guest(s, f"{PAGE} -L http://example.com/", timeout=PAGE_WAIT).stdout
        m = re.search(r'name="fas" value="([^"]+)"', page)
        if not m:  # no splash yet (openNDS still starting, or a stale first page): try again
            time.sleep(3)
            continue
        gw_ip = s.site.guest_gateway_ip
        result = guest(s, f"{PAGE} 'http://{gw_ip}:2050/opennds_preauth/?fas={m.group(1)}"
                          "&landing=yes'", timeout=PAGE_WAIT).stdout
        if "Vous êtes connecté" in result:
            break
        time.sleep(3)
    assert result, f"no splash page after {attempts} tries: {page[-2000:]!r}"
    return result


# ----------------------------------------------------------------------------- portal


def test_before_auth_http_goes_to_the_french_splash(sites: dict[str, LabSite]) -> None:
    s = sites[PMI]
    head = guest(s, f"{PAGE} -o /dev/null -w '%{{http_code}} %{{redirect_url}}' "
                    "http://example.com/", timeout=PAGE_WAIT).stdout
    assert head.startswith("307 http://172.18.1.1:2050/opennds_preauth/"), head + portal_state(s)
    page = guest(s, f"{PAGE} -L http://example.com/", timeout=PAGE_WAIT).stdout
    assert "Wifi public — Espace social commun de Maurepas" in page
    assert "conditions générales d'utilisation" in page and "Vos données" in page
    assert "samedi : 09:30-12:00" in page and 'lang="en"' in page


def test_before_auth_every_bypass_fails(sites: dict[str, LabSite]) -> None:
    s = sites[PMI]
    # control: the fake internet's SSH port answers the gateway itself
    assert tcp_open(s, FAKENET, 22, on_gateway=True)
    assert not tcp_open(s, FAKENET, 22, limit=REFUSED)  # direct IP, another port
    body = guest(s, f"{PAGE} -L http://{FAKENET}/", timeout=PAGE_WAIT).stdout
    assert 'name="fas"' in body and "Relais lab fake internet" not in body, body[-1500:]  # the splash
    # IPv6 to the gateway's link-local address on the guest network
    ll = re.search(r"inet6 (fe80::[0-9a-f:]+)/", gw(s, "ip -6 addr show dev eth1").stdout)
    if ll is not None:
        assert guest(s, f"ping -6 -c 2 -W 2 {ll.group(1)}%eth0").returncode != 0


def test_before_auth_no_dns_query_leaves_the_gateway(sites: dict[str, LabSite]) -> None:
    """Issue 9.5: before the terms are accepted only the portal answers DNS (every name gets
    the portal's address, TXT gets nothing): no query reaches the internet, so a DNS tunnel
    carries nothing.  Control: once accepted, the same kind of query reaches the fake
    internet's resolver (its query log)."""
    s = sites[PMI]
    ip = client_ip(s)
    portal = str(s.site.guest_gateway_ip)
    assert not authenticated(s, ip)
    tunnel = f"t{uuid.uuid4().hex[:12]}.tunnel.example"
    assert guest(s, f"{DIG} +short {tunnel} A").stdout.strip() == portal
    assert guest(s, f"{DIG} +short data.{tunnel} TXT").stdout.strip() == ""
    assert guest(s, f"{DIG} +short wifi.relais.internal A").stdout.strip() == portal
    assert guest(s, f"{DIG} +short @{FAKENET} {tunnel} A").stdout.strip() in (
        "", portal)  # a resolver on the internet cannot be asked either
    assert tunnel not in fakenet_queries(s)
    # control: after acceptance the query goes out, and is answered by the internet
    ensure_auth(s)
    after = f"t{uuid.uuid4().hex[:12]}.tunnel.example"
    assert guest(s, f"{DIG} +short {after} A").stdout.strip() == FAKENET
    wait_for("the query in the fake internet's log", lambda: after in fakenet_queries(s))
    assert tunnel not in fakenet_queries(s)
    deauth(s, ip)


def through_to_the_internet(s: LabSite, within: float = 30) -> list[str]:
    """Wait until the guest gets the fake internet's page (not a page of the gateway's); return
    what it got before, with openNDS's account and marks at the first miss (empty when the
    first try passed).

    The CI run of 2026-12-01 (the machine loaded by the other test session) saw a guest that
    had just been told "Vous êtes connecté" get one page through, then openNDS's own "511"
    page (openNDS's comment on it: "the firewall rule came too late"), and pass again in the
    next test.  Not reproduced in 70 tries on this machine, idle or loaded.  openNDS's idle
    timeout then cut guests off a minute after their first packet (fixed since), which may
    have been the cause, unproven; so the verdict is that the guest gets through, and a miss
    is reported (a warning in the run's summary) with what the gateway said at that moment."""
    seen: list[str] = []
    deadline = time.monotonic() + within
    while True:
        got = guest(s, "curl -s -m 5 -w '\\n%{http_code} %{remote_ip}:%{remote_port}' "
                       "http://example.com/x").stdout
        if "Relais lab fake internet" in got:
            return seen
        if not seen:
            marks = gw(s, "iptables -t mangle -S ndsOUT; ndsctl json").stdout
            seen.append(f"gateway at the first miss: {marks[-1500:]!r}")
        seen.append(got[-300:])
        assert time.monotonic() < deadline, f"not through within {within:.0f} s: {seen}"
        time.sleep(1)


def warn_missed(missed: list[str]) -> None:
    """Say (a warning in the run's summary) what a guest just told "Vous êtes connecté" got
    before the fake internet's page: never a fixed sleep before the first check."""
    if missed:
        warnings.warn(f"the guest, just connected, first got a page of the gateway: {missed}",
                      stacklevel=2)


def test_after_click_through_traffic_passes(sites: dict[str, LabSite]) -> None:
    s = sites[PMI]
    assert "Vous êtes connecté" in click_through(s)
    warn_missed(through_to_the_internet(s))
    done = guest(s, f"{PAGE} -w '\\n%{{http_code}}' http://example.com/",
                 timeout=PAGE_WAIT).stdout
    assert "Relais lab fake internet" in done and done.endswith("\n200"), done[-300:]
    assert tcp_open(s, FAKENET, 22)


def test_after_auth_dns_and_dot_elsewhere_are_dropped(sites: dict[str, LabSite]) -> None:
    s = sites[PMI]
    assert tcp_open(s, FAKENET, 22)  # authenticated: the internet is reachable
    assert dig(s, "example.com") == "NOERROR"  # through the gateway's resolver
    # control from the gateway: the outside resolver answers on 53/udp and 53/tcp
    assert "NOERROR" in gw(s, f"python3 -c \"{UDP_QUERY}\"").stdout
    assert tcp_open(s, FAKENET, 53, on_gateway=True)
    assert dig(s, "example.com", f"@{FAKENET}") == "TIMEOUT"
    assert dig(s, "example.com", f"+tcp @{FAKENET}") == "TIMEOUT"
    # DoT: something listens on 853 at the outside address (started for the test)
    inet = f"{s.site.id}-inet"
    s.exec(inet, "sh", "-c", "nohup python3 -m http.server 853 >/dev/null 2>&1 &")
    wait_for("the DoT stand-in reached from the gateway",
             partial(tcp_open, s, FAKENET, 853, on_gateway=True))
    assert not tcp_open(s, FAKENET, 853, limit=REFUSED)


def test_after_auth_doh_is_blocked_by_name_and_by_address(sites: dict[str, LabSite]) -> None:
    s = sites[PMI]
    assert dig(s, "dns.doh-resolver.example") == "NXDOMAIN"
    assert dig(s, "dns.google") == "NXDOMAIN"
    # a DoH resolver listed by address (192.0.2.53 in the doh category): give it to the fake
    # internet, check the gateway reaches it, then the guest must not
    s.exec(f"{s.site.id}-inet", "ip", "addr", "add", "192.0.2.53/32", "dev", "lo")
    assert tcp_open(s, "192.0.2.53", 80, on_gateway=True)
    assert tcp_open(s, FAKENET, 80)
    assert not tcp_open(s, "192.0.2.53", 80, limit=REFUSED)
    assert http_code(s, "--resolve dns.doh-resolver.example:80:192.0.2.53 "
                        "http://dns.doh-resolver.example/dns-query", limit=REFUSED) == "000"


# One DNS question (example.com, A) over UDP, asked again for up to 30 s: exit 0 on an answer.
DNS_PROBE = """
import socket, sys, time
q = bytes.fromhex("123401000001000000000000") + b"\\x07example\\x03com\\x00" + bytes.fromhex("00010001")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
end = time.monotonic() + 30
while time.monotonic() < end:
    s.sendto(q, (sys.argv[1], 53))
    try:
        if s.recv(512)[:2] == q[:2]:
            sys.exit(0)
    except OSError:
        pass
sys.exit("no DNS answer from " + sys.argv[1])
"""


def test_a_second_client_reusing_the_ip_gets_nothing(sites: dict[str, LabSite]) -> None:
    s = sites[PMI]
    ip = client_ip(s)
    assert tcp_open(s, FAKENET, 22)  # the real, authenticated client
    site_ns = s.plan.netns
    cmds = [["ip", "netns", "add", SPOOF_NS],
            ["ip", "-n", site_ns, "link", "add", "spoofp", "type", "veth", "peer", "name", "spoofc"],
            ["ip", "-n", site_ns, "link", "set", "spoofc", "netns", SPOOF_NS],
            ["ip", "-n", site_ns, "link", "set", "spoofp", "master", "brg", "up"],
            ["ip", "-n", SPOOF_NS, "link", "set", "spoofc", "up"],
            ["ip", "-n", SPOOF_NS, "addr", "add", f"{ip}/24", "dev", "spoofc"],
            ["ip", "-n", SPOOF_NS, "route", "add", "default", "via", str(s.site.guest_gateway_ip)]]
    for c in cmds:
        subprocess.run(c, check=True, capture_output=True, timeout=30)
    try:
        # positive control: the impostor is on the guest network, the gateway's resolver
        # answers it (DNS, not HTTP: an HTTP request would make openNDS list the impostor with
        # the real client's address, which later tests would then find "by IP")
        answered = subprocess.run(["ip", "netns", "exec", SPOOF_NS, sys.executable, "-c",
                                   DNS_PROBE, str(s.site.guest_gateway_ip)],
                                  capture_output=True, text=True, timeout=60, check=False)
        assert answered.returncode == 0, answered.stdout + answered.stderr
        reached = subprocess.run(["ip", "netns", "exec", SPOOF_NS, "timeout", "4", "bash", "-c",
                                  f"echo > /dev/tcp/{FAKENET}/22"], capture_output=True,
                                 timeout=30, check=False).returncode == 0
        assert not reached, "a second device with the authenticated client's IP got through"
    finally:
        subprocess.run(["ip", "netns", "del", SPOOF_NS], capture_output=True, check=False)
        subprocess.run(["ip", "-n", site_ns, "link", "del", "spoofp"], capture_output=True,
                       check=False)
        # the gateway learnt the impostor's MAC for that IP: forget it, let the client re-announce
        gw(s, "ip neigh flush dev eth1")
        guest(s, f"ping -c 1 -W 2 {s.site.guest_gateway_ip}")
    assert tcp_open(s, FAKENET, 22)  # the real client is unaffected


# ----------------------------------------------------------------------------- 9.5


def test_icmp_is_logged_esp_and_gre_are_dropped(sites: dict[str, LabSite]) -> None:
    """Issue 9.5: what goes through is in the legal log (ICMP by its echo identifier); what
    the log cannot record (ESP, GRE) does not go through."""
    s = sites[STD]
    ip = ensure_auth(s)
    known = connlog_keys(s)
    assert guest(s, f"ping -c 1 -W 3 {FAKENET}").returncode == 0  # reaches the internet
    wait_for("an ICMP record in the connection log", lambda: any(
        r["kind"] == "nat" and r["ip"] == ip and r.get("proto") == "icmp"
        for r in connlog(s, known)))
    for proto in ("gre", "esp"):
        assert probe_arrives(s, proto, on_gateway=True), proto  # control: it can arrive
        assert not probe_arrives(s, proto), f"{proto} from a guest reached the internet"


# every profile: DNS over TLS / QUIC; pmi only: QUIC and the usual VPN ports
ALWAYS_CLOSED = ("tcp-853", "udp-853", "udp-8853")
PMI_CLOSED = ("udp-443", "udp-1194", "tcp-1194", "udp-51820", "udp-500", "udp-4500",
              "udp-1701", "tcp-1723")


def test_doq_quic_and_vpn_ports_per_profile(sites: dict[str, LabSite]) -> None:
    pmi, std = sites[PMI], sites[STD]
    for s in (std, pmi):  # the PMI guest last: its probes come right after its authentication
        ensure_auth(s)
        assert guest(s, "dig +short example.com A").stdout.strip() == FAKENET
    for probe in ALWAYS_CLOSED + PMI_CLOSED:
        assert probe_arrives(pmi, probe, on_gateway=True), probe  # control: it can arrive
        assert not probe_arrives(pmi, probe), f"{PMI}: {probe} reached the internet"
    assert tcp_open(pmi, FAKENET, 22)  # and the guest was online all along (not timed out)
    ensure_auth(std)  # the PMI probes above can outlast the lab's 1-minute idle timeout
    for probe in ALWAYS_CLOSED:
        assert not probe_arrives(std, probe), f"{STD}: {probe} reached the internet"
    for probe in PMI_CLOSED:  # the standard profile lets QUIC and VPNs through
        assert probe_arrives(std, probe), f"{STD}: {probe} did not reach the internet"


def test_pmi_reaches_only_addresses_its_resolver_gave(sites: dict[str, LabSite]) -> None:
    """A DoH resolver that is not on the lists, or any resolver reached by address, cannot
    hand a PMI guest the address of a blocked site: on a pmi site a connection may only go to
    an address the gateway's filtering resolver gave out."""
    pmi, std = sites[PMI], sites[STD]
    url = f"http://{UNRESOLVED_IP}/dns-query?dns=AAABAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE"
    # each guest is authenticated right before its own probes: the lab's idle timeout is one
    # minute, and the other site's authentication may take longer than that on a loaded
    # machine (the README run of 2026-12-01 failed here with both authenticated first)
    ensure_auth(std)
    assert http_code(std, url) == "200"  # control: that server answers (standard profile)
    ensure_auth(pmi)
    assert http_code(pmi, url, limit=REFUSED) == "000"
    # a blocked name's address obtained outside the gateway (as from a DoH answer)
    assert http_code(pmi, f"--resolve adult-sample.example:80:{UNRESOLVED_IP} "
                          "http://adult-sample.example/", limit=REFUSED) == "000"
    # an address the gateway's resolver gave out becomes reachable
    assert http_code(pmi, f"http://{SECRET_IP}/", limit=REFUSED) == "000"
    assert guest(pmi, f"dig +short {SECRET_HOST} A").stdout.strip() == SECRET_IP
    assert http_code(pmi, f"http://{SECRET_HOST}/") == "200"


# ----------------------------------------------------------------------------- 9.4, 9.6


def test_no_file_the_gateway_writes_holds_a_destination(sites: dict[str, LabSite]) -> None:
    """Issue 9.4/9.6: after real guest traffic and the end of the session, no file the
    gateway wrote meanwhile (state, caches, logs, journal, tmpfs) holds a destination address,
    a visited name, a URL or the browser's User-Agent; the device's MAC address is only in the
    legal log and the DHCP lease table (in memory)."""
    s = sites[STD]
    ip = client_ip(s)
    if authenticated(s, ip):
        deauth(s, ip)
    mac = re.search(r"ether (\S+)", guest(s, "ip link show eth0").stdout)
    assert mac
    tag = uuid.uuid4().hex[:10]
    agent = f"NavigateurSecret-{tag}"
    start = gw_now(s)  # files written from now on are newer
    known = connlog_keys(s)
    # before acceptance: a first page asked for (openNDS keeps it to send the guest back)
    guest(s, f"{PAGE} -A {agent} -o /dev/null http://avant-{tag}.example/avant-{tag}",
          timeout=PAGE_WAIT)
    page = guest(s, f"{PAGE} -L -A {agent} http://avant-{tag}.example/avant-{tag}",
                 timeout=PAGE_WAIT).stdout
    m = re.search(r'name="fas" value="([^"]+)"', page)
    assert m, page[-1500:]
    done = guest(s, f"{PAGE} -A {agent} 'http://{s.site.guest_gateway_ip}:2050/"
                    f"opennds_preauth/?fas={m.group(1)}&landing=yes'", timeout=PAGE_WAIT).stdout
    if "Vous êtes connecté" not in done:
        ensure_auth(s)
    # the legal log has seen this session (its start, a key it did not hold before)
    session: dict[str, Any] = {}

    def session_started() -> bool:
        session.update(next((r for r in connlog(s, known) if r["kind"] == "session"
                             and r["ip"] == ip and not r.get("end")), {}))
        return bool(session)

    wait_for("the start of the session in the log", session_started)
    known = connlog_keys(s)  # with the mappings still tracked from the previous session
    # openNDS's client files while the guest is connected: the positive control (a file holds
    # this guest's address, so the search reaches where openNDS writes), and none holds the
    # first page asked for (before the role's patch "originurl" did, until the client was
    # forgotten)
    cid_files = gw(s, "grep -l -r -F -e 'clientip=\"" + ip + "\"' /tmp/ndscids /run/ndscids "
                      "2>/dev/null").stdout.split()
    assert cid_files, gw(s, "ls -la /tmp/ndscids /run/ndscids 2>&1").stdout
    for needle in (f"avant-{tag}", agent):
        held = gw(s, f"grep -l -r -F -e '{needle}' /tmp/ndscids /run/ndscids 2>/dev/null").stdout
        assert not held.strip(), f"{needle!r} in openNDS's client files {held.split()}"
    # after acceptance: a name, a URL, ICMP and UDP to one destination
    assert guest(s, f"dig +short {SECRET_HOST} A").stdout.strip() == SECRET_IP
    assert "Relais lab fake internet" in guest(
        s, f"{PAGE} -A {agent} http://{SECRET_HOST}/chemin-{tag}?q=secret-{tag}",
        timeout=PAGE_WAIT).stdout
    guest(s, f"ping -c 1 -W 3 {SECRET_IP}")
    guest(s, f"python3 -c \"import socket;socket.socket(2,2).sendto(b'x',('{SECRET_IP}',3478))\"")
    wait_for("the NAT records of that traffic", lambda: sum(
        1 for r in connlog(s, known) if r["kind"] == "nat" and r["ip"] == ip) >= 3)
    deauth(s, ip)
    wait_for("the end of the session in the log", lambda: any(
        r["key"] == session["key"] and r.get("end") for r in connlog(s)))
    gw(s, "journalctl --flush; sync")
    newer = (f"find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -type f "
             f"-newermt @{start} -print")
    listed = gw(s, newer).stdout.split()
    assert any(p.startswith("/var/lib/relais/connlog/") for p in listed), listed
    assert any("journal" in p for p in listed), listed
    secrets = [SECRET_IP, SECRET_HOST, "visite-secrete", f"chemin-{tag}", f"secret-{tag}",
               f"avant-{tag}", agent]
    for needle in secrets:
        found = gw(s, f"{newer} | xargs -r grep -l -a -F -e '{needle}'").stdout.split()
        assert not found, f"{needle!r} written to {found}"
        journal = gw(s, f"journalctl --since @{start} -o cat | grep -c -F -e '{needle}'")
        assert journal.stdout.strip() == "0", f"{needle!r} in the journal"
    with_mac = gw(s, f"{newer} | xargs -r grep -l -a -i -F -e '{mac.group(1)}'").stdout.split()
    assert all(p.startswith(("/var/lib/relais/connlog/", "/run/dnsmasq/")) for p in with_mac), (
        with_mac, gw(s, "journalctl -o json | python3 -c " + shlex.quote(JOURNAL_WHO)
                     + f" {mac.group(1)} {start}").stdout[-3000:])
    assert gw(s, f"journalctl --since @{start} -o cat | grep -c -i -F -e '{mac.group(1)}'"
              ).stdout.strip() == "0"


# ----------------------------------------------------------------------------- filtering

BLOCKED = {  # one sample name per category of each profile
    "standard": ["malware-sample.example", "phishing-banque.example", "coinminer-sample.example",
                 "doh-resolver.example", "spyphone-sample.example", "booter-sample.example"],
    "pmi_only": ["adult-sample.example", "www.adult-sample.example", "casino-demo.example",
                 "rencontres-demo.example", "haine-demo.example", "explosifs-demo.example",
                 "drogue-demo.example", "vpn-demo.example", "proxy-anonyme.example",
                 "translate-proxy.example", "forum-mixed-adult.example",
                 "education-adulte-demo.example"],
}
ALLOWED = ["example.com", "service-public.fr", "banque-demo.example", "ok.adult-sample.example"]


def test_filtering_pmi_and_standard_side_by_side(sites: dict[str, LabSite]) -> None:
    pmi, std = sites[PMI], sites[STD]
    # the filter is the authenticated guests' resolver: before the terms are accepted the
    # portal's own resolver answers every name with the splash page's address (NOERROR).  Each
    # site's guest is authenticated right before its own questions (the lab's idle timeout is
    # one minute: the other site's authentication may take longer than that)
    ensure_auth(pmi)
    for name in BLOCKED["standard"] + BLOCKED["pmi_only"]:
        assert dig(pmi, name) == "NXDOMAIN", (PMI, name)
    for name in ALLOWED:
        assert dig(pmi, name) == "NOERROR", (PMI, name)
    # forced SafeSearch on the PMI site only
    assert guest(pmi, "dig +short www.google.com A").stdout.strip() == "216.239.38.120"
    ensure_auth(std)
    for name in BLOCKED["standard"]:
        assert dig(std, name) == "NXDOMAIN", (STD, name)
    for name in BLOCKED["pmi_only"] + ALLOWED:
        assert dig(std, name) == "NOERROR", (STD, name)
    assert guest(std, "dig +short www.google.com A").stdout.strip() == FAKENET


# ----------------------------------------------------------------------------- log, timeouts


def test_connection_log_records_and_purge(sites: dict[str, LabSite], tmp_path: Path) -> None:
    s = sites[PMI]
    ip = ensure_auth(s)
    mac = re.search(r"ether (\S+)", guest(s, "ip link show eth0").stdout)
    assert mac
    known = connlog_keys(s)
    assert "Relais lab fake internet" in guest(s, f"{PAGE} http://example.com/log-me",
                                               timeout=PAGE_WAIT).stdout
    wait_for("the collector's records of that session and connection", lambda: any(
        r["kind"] == "nat" and r["ip"] == ip and r.get("proto") == "tcp" for r in connlog(s, known))
        and any(r["kind"] == "session" and r["ip"] == ip for r in connlog(s)))
    text = gw(s, "cat /var/lib/relais/connlog/*.jsonl").stdout
    records = [json.loads(line) for line in text.splitlines()]
    sessions = [r for r in records if r["kind"] == "session" and r["ip"] == ip]
    nats = [r for r in records if r["kind"] == "nat" and r["ip"] == ip]
    assert sessions and sessions[0]["mac"] == mac.group(1)
    assert nats and all(r["public_ip"] == "198.18.0.2" for r in nats)
    assert any(r["proto"] == "tcp" and r["public_port"] > 0 for r in nats)
    for forbidden in ("example.com", "log-me", "http", FAKENET, "google"):
        assert forbidden not in text, forbidden
    mode = gw(s, "stat -c %a /var/lib/relais/connlog").stdout.strip()
    assert mode == "700"
    # collected centrally into the store, over SSH (pyinfra), idempotent
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    for expect_new in (True, False):
        proc = subprocess.run([str(Path(tool("fleet"))), "portal", "collect", PMI, "--lab", "--db",
                               db, "--json"], cwd=REPO, capture_output=True, text=True,
                              timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert (json.loads(proc.stdout)["inserted"] > 0) == expect_new
    proc = subprocess.run([tool("fleet"), "portal", "sessions", PMI, "--from", "2020-01-01",
                           "--to", "2100-01-01", "--db", db, "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert any(r["client_ip"] == ip for r in json.loads(proc.stdout))
    # purge on the gateway with an injected clock: nothing at +364 days, everything at +366
    py = "python3 /usr/local/lib/relais/connlog.py --dir /var/lib/relais/connlog"
    now = time.time()
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 364 * 86400))
    assert json.loads(gw(s, f"{py} --now {later} purge").stdout) == {"purged": 0}
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 366 * 86400 + 3600))
    assert json.loads(gw(s, f"{py} --now {later} purge").stdout)["purged"] >= len(sessions) + 1
    assert gw(s, "cat /var/lib/relais/connlog/*.jsonl 2>/dev/null").stdout.strip() == ""


def nds_client(s: LabSite, ip: str) -> dict[str, Any]:
    """openNDS's account of the client at ``ip``, waited for until openNDS lists it."""
    found: dict[str, Any] = {}

    def known() -> bool:
        found.update(next((c for c in nds_clients(s).values() if c.get("ip") == ip), {}))
        return bool(found)

    wait_for(f"openNDS's account of {ip}", known)
    return found


def test_an_active_guest_is_not_taken_for_idle(sites: dict[str, LabSite]) -> None:
    """A guest who keeps using the connection stays connected past the idle timeout, in the
    same session.  openNDS 9.10 with its own upload limit never counted a client's upload:
    every guest was disconnected the idle timeout after its first packet, active or not (the
    lab's gateway journal of 2026-12-01: "Timeout authenticated idle user ... inactive: 71s,
    out: 0kB", 24 s after the authentication; the flaky gateway tests of CI had this cause)."""
    s = sites[STD]
    ip = ensure_auth(s)
    session = nds_client(s, ip)["session_start"]
    # the idle timeout (1 min) and two check intervals (10 s) while the guest browses
    deadline = time.monotonic() + 60 + 2 * 10 + 10
    while time.monotonic() < deadline:
        guest(s, "curl -s -m 5 -o /dev/null http://example.com/")
        time.sleep(3)
    now = nds_client(s, ip)
    assert now["state"] == "Authenticated" and now["session_start"] == session, now
    assert int(now["last_active"]) > int(session), now  # openNDS saw the guest's traffic
    assert online(s)


def upload_drops(s: LabSite) -> int:
    """Packets the portal's per-client upload limit dropped (its rule's counter)."""
    data = json.loads(gw(s, "nft -j list chain inet relais_portal forward").stdout)
    rule = next(i["rule"] for i in data["nftables"]
                if "rule" in i and i["rule"].get("comment") == "upload limit")
    return int(next(e["counter"] for e in rule["expr"] if "counter" in e)["packets"])


def test_upload_is_limited_per_client(sites: dict[str, LabSite]) -> None:
    """Issue 5's per-client rate limit, upload side (2000 kbit/s, the portal's nftables table:
    see opennds.conf): a burst far over it is cut at the gateway, what fits in it arrives.
    4.8 MB sent at once against 250 kB/s and a 250 kB burst: for all of it to pass, the
    guest would have to take 18 s to send it."""
    s = sites[STD]
    ensure_auth(s)
    sent = 4000
    before, dropped = arrivals(s)["sentinel"], upload_drops(s)
    guest(s, "python3 -c \"import socket;t=socket.socket(2,2)\n"
             f"for _ in range({sent}): t.sendto(b'x'*1200,('{FAKENET}',9))\"")
    wait_for("the upload limit's drops", lambda: upload_drops(s) > dropped)
    wait_for("the part of the burst within the limit", lambda: arrivals(s)["sentinel"] > before)
    arrived = arrivals(s)["sentinel"] - before
    assert 0 < arrived < sent * 3 // 4, arrived
    assert online(s)  # the limit cuts the excess, not the guest


def test_after_the_idle_timeout_the_splash_is_back(sites: dict[str, LabSite]) -> None:
    s = sites[STD]  # a fresh client: authenticate, stay idle, be redirected again
    assert "Vous êtes connecté" in click_through(s)
    warn_missed(through_to_the_internet(s))
    assert http_code(s, "http://example.com/") == "200"
    ip = client_ip(s)
    assert authenticated(s, ip)
    deadline = time.monotonic() + 180  # 1 min idle timeout + check interval slack
    while time.monotonic() < deadline and authenticated(s, ip):
        time.sleep(10)  # the gateway is asked, the client stays idle
    assert not authenticated(s, ip), gw(s, "ndsctl json").stdout[-1500:]
    assert http_code(s, "http://example.com/") == "307"


def test_outside_opening_hours_no_access(sites: dict[str, LabSite]) -> None:
    s = sites[PMI]

    closed_set = "nft list set inet relais_portal closed"

    def set_clock(now: str) -> None:
        """The gate's clock moved, and the gate applied it: `systemctl start` joins a run the
        timer (every minute) began before the change, with the old clock (a lab run of
        2026-12-02), so the service is started again until the gate shows the new state."""
        gw(s, f"sed -i 's/^RELAIS_NOW=.*/RELAIS_NOW={now}/' /etc/default/relais-portal-hours")
        closed = now == CLOSED_NOW

        def applied() -> bool:
            gw(s, "systemctl start relais-portal-hours.service", timeout=120)
            return ('"eth1"' in gw(s, closed_set).stdout) == closed

        wait_for(f"the gate {'closed' if closed else 'open'} at {now}", applied, timeout=180)

    set_clock(OPEN_NOW)
    assert '"eth1"' not in gw(s, closed_set).stdout
    assert "Vous êtes connecté" in click_through(s)
    warn_missed(through_to_the_internet(s))
    assert tcp_open(s, FAKENET, 22)
    ip = client_ip(s)
    try:
        set_clock(CLOSED_NOW)  # the site closes: the gate shuts and everyone is de-authenticated
        assert '"eth1"' in gw(s, closed_set).stdout
        assert not authenticated(s, ip), gw(s, "journalctl -u relais-portal-hours -n 30 "
                                              "--no-pager -o short-precise; ndsctl json").stdout[-3000:]
        assert not tcp_open(s, FAKENET, 22, limit=REFUSED)
        # even an operator's manual auth gets nothing while closed
        assert operator_auth(s, ip), gw(s, "ndsctl json").stdout[-1500:]
        assert not tcp_open(s, FAKENET, 22, limit=REFUSED)
    finally:  # open again whatever happened: the next tests need guests let through
        set_clock(OPEN_NOW)
    assert '"eth1"' not in gw(s, closed_set).stdout
    ensure_auth(s)
    assert tcp_open(s, FAKENET, 22)


# ----------------------------------------------------------------------------- idempotence


def _gateway_checks(s: LabSite) -> dict[str, str]:
    gw_device = s.site.gateway
    assert gw_device is not None
    targets = expectations_for(s.inventory, s.site, [gw_device], REPO / "roles")
    report = run_checks(targets, ssh_config=s.ssh_config, modules=["gateway"])
    assert not report.host_errors, report.host_errors
    return {r.check: r.outcome + (f": {r.message}" if r.message else "")
            for r in report.results}


def test_gateway_checks_pass_on_the_lab_lists(sites: dict[str, LabSite]) -> None:
    for s in sites.values():
        outcomes = _gateway_checks(s)
        bad = {k: v for k, v in outcomes.items() if not v.startswith("passed")}
        # the lab deploys the sample lists: their size and age do not apply (said, not a pass)
        assert list(bad) == ["blocklists_size_and_age"], bad
        assert bad["blocklists_size_and_age"].startswith("not_applicable: lab: sample lists")


SYNTH = {  # the synthetic UT1 archive: one new name per category, and real-list sizes
    "malware": [f"m{i}.malware-synthetique.example" for i in range(1500)],
    "adult": [f"a{i}.adulte-synthetique.example" for i in range(120_000)],
    **{c: [f"x.{c}-synthetique.example"] for c in (
        "phishing", "cryptojacking", "stalkerware", "ddos", "mixed_adult", "gambling",
        "dating", "agressif", "dangerous_material", "drogue", "vpn", "redirector",
        "strict_redirector", "sexual_education_adult")},
    "doh": ["dns.doh-synthetique.example", "192.0.2.54"],
    "liste_blanche": ["ok.a1.adulte-synthetique.example"],
}


def test_blocklist_update_is_pushed_checked_and_kept(sites: dict[str, LabSite], state: Path,
                                                     tmp_path: Path) -> None:
    """Issue 9.7: `fleet blocklists update` loads an archive into the controller's list store
    and pushes it; the gateway check sees lists of real size and age; the re-deploy below must
    keep them (it pushes the store, never the sample lists)."""
    archive = make_ut1_archive(tmp_path / "blacklists.tar.gz", SYNTH,
                               time.time() - 2.5 * 86400, white=("liste_blanche",))
    proc = subprocess.run([tool("fleet"), "blocklists", "update", "--from", str(archive),
                           "--site", PMI, "--site", STD, "--lab", "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=600, check=False,
                          env=_env(state))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert sorted(g["host"] for g in data["gateways"] if g["ok"]) == sorted([f"{PMI}-gw", f"{STD}-gw"])
    assert data["sample"] is False and data["age_days"] == 2
    pmi, std = sites[PMI], sites[STD]
    # the filter answers authenticated guests (the idle timeout ran): each guest is
    # authenticated right before its own questions (the other's may take over a minute)
    ensure_auth(pmi)
    assert dig(pmi, "a7.adulte-synthetique.example") == "NXDOMAIN"
    assert dig(pmi, "ok.a1.adulte-synthetique.example") == "NOERROR"
    ensure_auth(std)
    assert dig(std, "a7.adulte-synthetique.example") == "NOERROR"
    assert dig(std, "m3.malware-synthetique.example") == "NXDOMAIN"
    for s in (pmi, std):
        outcomes = _gateway_checks(s)
        assert outcomes["blocklists_size_and_age"] == "passed", outcomes
        assert all(v.startswith("passed") for v in outcomes.values()), outcomes


def test_redeploy_changes_nothing(sites: dict[str, LabSite], state: Path) -> None:
    # the clock file was rewritten by the opening-hours test: back to the deployed value
    gw(sites[PMI], f"sed -i 's/^RELAIS_NOW=.*/RELAIS_NOW={OPEN_NOW}/' "
                   "/etc/default/relais-portal-hours")
    proc = _deploy(sites, state)
    assert proc.returncode == 0, proc.stdout[-4000:]
    recap = _recap(proc.stdout)
    assert recap[f"{PMI}-gw"]["changed"] == 0, proc.stdout[-6000:]
    assert recap[f"{STD}-gw"]["changed"] == 0, proc.stdout[-6000:]
    # the deploy pushed the controller's lists (the update above), not the sample ones; asked
    # as an authenticated guest (before the terms, the portal's resolver answers every name)
    ensure_auth(sites[PMI])
    assert dig(sites[PMI], "a7.adulte-synthetique.example") == "NXDOMAIN"
    assert dig(sites[PMI], "ok.a1.adulte-synthetique.example") == "NOERROR"  # control


def test_opennds_never_failed_meanwhile(sites: dict[str, LabSite]) -> None:
    """openNDS holds every guest's session in memory: if it fails, systemd starts it again
    (Restart=on-failure, the role's drop-in) and every guest is de-authenticated.  Through
    the whole module's traffic it never failed; the control then shows that a failure would
    be counted, and that openNDS comes back from it."""
    def restarts(s: LabSite) -> str:
        return gw(s, "systemctl show opennds -p NRestarts --value").stdout.strip()

    for s in sites.values():
        assert restarts(s) == "0", portal_state(s)
    s = sites[STD]
    gw(s, "kill -SEGV $(systemctl show opennds -p MainPID --value)")
    wait_for("openNDS started again by systemd", lambda: restarts(s) == "1", timeout=60)
    wait_for("the portal answering again", partial(portal_answers, s), timeout=120)


def test_opennds_restarts_without_waiting_for_itself(sites: dict[str, LabSite]) -> None:
    """openNDS restarts dnsmasq itself (`systemctl restart dnsmasq &`, its dnsconfig.sh); with
    opennds ordered after dnsmasq, that job waited for openNDS's own stop, which waited for it:
    every restart ended on systemd's stop timeout (90 s, the portal down; the CI run of
    2026-12-02).  The verdict is systemd's account of the stop, not its duration."""
    s = sites[PMI]
    assert "dnsmasq.service" not in gw(s, "systemctl show opennds -p After --value").stdout
    since = gw(s, "date +%s").stdout.strip()
    done = gw(s, "systemctl restart opennds", timeout=300)
    assert done.returncode == 0, done.stderr + portal_state(s)

    def journal() -> str:
        return gw(s, f"journalctl -u opennds --since @{since} --no-pager -o cat").stdout

    # positive control: the journal read holds this stop and start (journald may lag a moment)
    wait_for("systemd's account of the restart in the journal",
             lambda: "Stopped opennds.service" in (j := journal()) and "Started opennds.service" in j)
    text = journal()
    assert "timed out" not in text and "Failed with result" not in text, text[-2000:]
    assert gw(s, "systemctl show opennds -p Result --value").stdout.strip() == "success"
    wait_for("the portal answering again", partial(portal_answers, s), timeout=120)
