"""The connection log: parsing the kernel's tracking table and ndsctl, records, purge."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleet.errors import ConfigError
from fleet.gateway import connlog
from fleet.gateway.connlog import Client, Collector, Flow

GUEST = ipaddress.IPv4Network("172.18.1.0/24")
T0 = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)

# /proc/net/nf_conntrack lines as the kernel writes them (captured on a lab gateway)
TCP = ("ipv4     2 tcp      6 431999 ESTABLISHED src=172.18.1.162 dst=198.18.0.1 sport=51234 "
       "dport=80 src=198.18.0.1 dst=198.18.0.2 sport=80 dport=51234 [ASSURED] mark=0 zone=0 use=2")
UDP = ("ipv4     2 udp      17 28 src=172.18.1.162 dst=198.18.0.1 sport=40000 dport=443 "
       "[UNREPLIED] src=198.18.0.1 dst=198.18.0.2 sport=443 dport=1025 mark=0 zone=0 use=2")
ICMP = ("ipv4     2 icmp     1 29 src=172.18.1.162 dst=198.18.0.1 type=8 code=0 id=7 "
        "src=198.18.0.1 dst=198.18.0.2 type=0 code=0 id=7 mark=0 zone=0 use=2")
CONNTRACK_L = ("tcp      6 117 SYN_SENT src=172.18.1.9 dst=198.18.0.1 sport=1 dport=443 "
               "[UNREPLIED] src=198.18.0.1 dst=198.18.0.2 sport=443 dport=2 mark=0 use=1")

NDSCTL = json.dumps({"client_list_length": "1", "clients": {
    "36:96:3e:57:65:88": {"id": 1, "ip": "172.18.1.162", "mac": "36:96:3E:57:65:88",
                          "added": int(T0.timestamp()), "active": int(T0.timestamp()),
                          "state": "Authenticated", "token": "abc"},
    "aa:bb:cc:00:00:01": {"id": 2, "ip": "172.18.1.163", "mac": "aa:bb:cc:00:00:01",
                          "added": int(T0.timestamp()), "state": "Preauthenticated"}}})


def test_parse_conntrack_lines() -> None:
    f = connlog.parse_conntrack_line(TCP)
    assert f == Flow("tcp", "172.18.1.162", 51234, "198.18.0.1", 80, "198.18.0.2", 51234)
    u = connlog.parse_conntrack_line(UDP)
    assert u is not None and (u.public_ip, u.public_port) == ("198.18.0.2", 1025)
    assert connlog.parse_conntrack_line("garbage") is None
    c = connlog.parse_conntrack_line(CONNTRACK_L)
    assert c is not None and c.public_port == 2


def test_parse_ndsctl_keeps_authenticated_clients_only() -> None:
    clients = connlog.parse_ndsctl_json(NDSCTL)
    assert clients == [Client("36:96:3e:57:65:88", "172.18.1.162", T0)]
    # not an answer (ndsctl busy with another caller prints a line, not JSON): unknown, not empty
    for text in ("", "{bad", "ndsctl: is already in use by another process", "{}", "[]"):
        assert connlog.parse_ndsctl_json(text) is None, text
    assert connlog.parse_ndsctl_json('{"client_list_length":"0","clients":{}}') == []


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def test_collector_session_and_nat_records(tmp_path: Path) -> None:
    clock = Clock(T0 + timedelta(seconds=5))
    col = Collector(tmp_path / "log", GUEST, frozenset({"172.18.1.1"}), clock,
                    tmp_path / "log" / ".state.json")
    client = connlog.parse_ndsctl_json(NDSCTL)
    flow = connlog.parse_conntrack_line(TCP)
    assert flow is not None
    dns_to_gw = Flow("udp", "172.18.1.162", 5000, "172.18.1.1", 53, "172.18.1.1", 53)
    unauth = Flow("tcp", "172.18.1.163", 5001, "198.18.0.1", 80, "198.18.0.2", 5001)
    # before authentication openNDS redirects port 80 to its portal: the reply comes back
    # from the gateway to the client, nothing is translated to a public address
    to_portal = Flow("tcp", "172.18.1.162", 5002, "198.18.0.1", 80, "172.18.1.162", 5002)
    first = col.tick(client, [flow, dns_to_gw, unauth, to_portal])
    assert [r.kind for r in first] == ["session", "nat"]
    session, nat = first
    assert (session.at, session.mac, session.ip, session.end) == (T0, "36:96:3e:57:65:88",
                                                                 "172.18.1.162", None)
    assert (nat.sport, nat.public_ip, nat.public_port, nat.proto) == (51234, "198.18.0.2",
                                                                       51234, "tcp")
    # the same flow again: nothing new
    clock.t += timedelta(seconds=5)
    assert col.tick(client, [flow]) == []
    # a restarted collector remembers the open session and mapping, ends them when they go
    col2 = Collector(tmp_path / "log", GUEST, frozenset(), clock, tmp_path / "log" / ".state.json")
    clock.t += timedelta(minutes=30)
    end = col2.tick([], [])
    assert [(r.kind, r.key, r.end) for r in end] == [("session", session.key, clock.t),
                                                      ("nat", nat.key, clock.t)]
    merged = connlog.merge_sessions(connlog.read_records(connlog.log_files(tmp_path / "log")))
    assert [(r.kind, r.end) for r in merged] == [("session", clock.t), ("nat", clock.t)]


def test_an_unknown_answer_ends_no_session(tmp_path: Path) -> None:
    """ndsctl answers one caller at a time: when the test (or an operator) holds it, the
    collector's snapshot has no client list; the legal log must not show the session ending
    and starting again (the CI run of 2026-11-30 saw the busy answers)."""
    clock = Clock(T0 + timedelta(seconds=5))
    col = Collector(tmp_path, GUEST, frozenset(), clock)
    flow = connlog.parse_conntrack_line(TCP)
    assert flow is not None
    first = col.tick(connlog.parse_ndsctl_json(NDSCTL), [flow])
    assert [r.kind for r in first] == ["session", "nat"]
    clock.t += timedelta(seconds=5)
    assert col.tick(connlog.parse_ndsctl_json("ndsctl is busy"), [flow]) == []
    clock.t += timedelta(seconds=5)
    assert col.tick(connlog.parse_ndsctl_json(NDSCTL), [flow]) == []
    # positive control: an answer without the client ends its session
    clock.t += timedelta(seconds=5)
    assert [r.kind for r in col.tick(connlog.parse_ndsctl_json('{"clients":{}}'), [])] == \
        ["session", "nat"]


def test_a_new_session_between_two_snapshots_is_its_own_record(tmp_path: Path) -> None:
    """De-authenticated and accepted again between two snapshots: openNDS's session start
    moves on, and the log records two sessions, not one (the lab's gateway tests do this)."""
    clock = Clock(T0 + timedelta(seconds=5))
    col = Collector(tmp_path, GUEST, frozenset(), clock)
    first = col.tick(connlog.parse_ndsctl_json(NDSCTL), [])
    assert [(r.kind, r.at, r.end) for r in first] == [("session", T0, None)]
    again = T0 + timedelta(minutes=3)
    data = json.loads(NDSCTL)
    data["clients"]["36:96:3e:57:65:88"]["added"] = int(again.timestamp())
    clock.t = again + timedelta(seconds=2)
    second = col.tick(connlog.parse_ndsctl_json(json.dumps(data)), [])
    assert [(r.kind, r.key, r.at, r.end) for r in second] == [
        ("session", first[0].key, T0, again), ("session", second[1].key, again, None)]
    assert second[1].key != first[0].key
    # the same session again: nothing new (positive control of the comparison)
    clock.t += timedelta(seconds=5)
    assert col.tick(connlog.parse_ndsctl_json(json.dumps(data)), []) == []


def _clients(*pairs: tuple[str, str]) -> list[Client]:
    return [Client(mac, ip, T0) for mac, ip in pairs]


def test_a_connection_opened_in_the_last_interval_is_in_its_session(tmp_path: Path) -> None:
    """A guest who opens a connection and is cut off (logout, session length) before the next
    snapshot: the mapping, first seen by the snapshot that ends the session, is recorded for
    that session (it was not, before 2026-12-01: the address no longer had a session)."""
    clock = Clock(T0 + timedelta(seconds=5))
    col = Collector(tmp_path, GUEST, frozenset(), clock)
    a = ("36:96:3e:57:65:88", "172.18.1.162")
    old = Flow("tcp", a[1], 50000, "198.18.0.1", 80, "198.18.0.2", 50000)
    assert [r.kind for r in col.tick(_clients(a), [old])] == ["session", "nat"]
    new = Flow("udp", a[1], 40000, "198.18.0.1", 443, "198.18.0.2", 1025)
    clock.t += timedelta(seconds=5)
    out = col.tick([], [old, new])
    assert sorted((r.kind, r.mac, r.sport, r.at == clock.t, r.end) for r in out) == [
        ("nat", a[0], 40000, True, clock.t), ("nat", a[0], 50000, False, clock.t),
        ("session", a[0], None, False, clock.t)]
    # still in the table at the next snapshots: nothing more (they ended with the session)
    clock.t += timedelta(seconds=5)
    assert col.tick([], [old, new]) == []


def test_a_lingering_mapping_is_never_given_to_the_next_device(tmp_path: Path) -> None:
    """The kernel keeps a connection's mapping after the guest's session ended (two minutes
    for a closed TCP connection, days for one never closed).  Another device that gets the
    same address must not inherit it in the log: a requisition would name the wrong person.
    The first device, back, finds its own mapping again."""
    clock = Clock(T0 + timedelta(seconds=5))
    state = tmp_path / ".state.json"
    col = Collector(tmp_path, GUEST, frozenset(), clock, state)
    a, b = ("36:96:3e:57:65:88", "172.18.1.162"), ("aa:bb:cc:00:00:01", "172.18.1.162")
    old = Flow("tcp", a[1], 50000, "198.18.0.1", 80, "198.18.0.2", 50000)
    col.tick(_clients(a), [old])
    clock.t += timedelta(seconds=5)
    col.tick([], [old])  # A's session ends; its mapping stays in the kernel's table
    clock.t += timedelta(seconds=5)
    mine = Flow("tcp", b[1], 50001, "198.18.0.1", 80, "198.18.0.2", 50001)
    col = Collector(tmp_path, GUEST, frozenset(), clock, state)  # a restart in between
    out = col.tick(_clients(b), [old, mine])
    assert sorted((r.kind, r.mac, r.sport) for r in out) == [
        ("nat", b[0], 50001), ("session", b[0], None)]  # B's own connection, not A's
    clock.t += timedelta(seconds=5)
    assert col.tick(_clients(b), [old, mine]) == []
    # control: the same snapshots with A back instead of B: A's mapping is A's again
    clock_a = Clock(T0 + timedelta(seconds=5))
    col = Collector(tmp_path / "a", GUEST, frozenset(), clock_a)
    col.tick(_clients(a), [old])
    clock_a.t += timedelta(seconds=5)
    col.tick([], [old])
    clock_a.t += timedelta(seconds=5)
    back = col.tick(_clients(a), [old])
    assert sorted((r.kind, r.mac, r.sport) for r in back) == [
        ("nat", a[0], 50000), ("session", a[0], None)]
    # once gone from the table, the mapping is forgotten: a new flow with the same mapping
    # (same client port, same public port) belongs to whoever holds the address then
    clock.t += timedelta(seconds=5)
    col_b = Collector(tmp_path, GUEST, frozenset(), clock, state)
    col_b.tick(_clients(b), [mine])
    assert col_b.lingering == {}
    clock.t += timedelta(seconds=5)
    again = col_b.tick(_clients(b), [mine, old])
    assert [(r.kind, r.mac, r.sport) for r in again] == [("nat", b[0], 50000)]


def test_log_never_holds_a_destination_url_or_name(tmp_path: Path) -> None:
    col = Collector(tmp_path, GUEST, frozenset(), Clock(T0))
    flow = connlog.parse_conntrack_line(TCP)
    assert flow is not None
    col.tick(connlog.parse_ndsctl_json(NDSCTL), [flow])
    text = "".join(p.read_text() for p in connlog.log_files(tmp_path))
    assert "198.18.0.1" not in text  # the destination
    assert "dport" not in text and "http" not in text
    for line in text.splitlines():
        assert set(json.loads(line)) <= connlog.FIELDS


DEST = "203.0.113.77"  # a destination that appears nowhere else in these tests


def _assert_no_destination(root: Path) -> None:
    written = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.name == ".state.json" for p in written)
    for path in written:
        text = path.read_text()
        assert DEST not in text and "8443" not in text and "3478" not in text, (path, text)


def test_no_file_the_collector_writes_holds_a_destination(tmp_path: Path) -> None:
    """Issue 9.4: the state file used to keep 'proto|src|sport|dst|dport' keys."""
    log = tmp_path / "log"
    clock = Clock(T0)
    flows = [Flow("tcp", "172.18.1.162", 51234, DEST, 8443, "198.18.0.2", 51234),
             Flow("udp", "172.18.1.162", 40001, DEST, 3478, "198.18.0.2", 40001),
             Flow("icmp", "172.18.1.162", 7, DEST, 0, "198.18.0.2", 7)]
    col = Collector(log, GUEST, frozenset({"172.18.1.1"}), clock, log / ".state.json")
    clients = connlog.parse_ndsctl_json(NDSCTL)
    for _ in range(3):  # while the flows are open, after every snapshot
        col.tick(clients, flows)
        _assert_no_destination(log)
        clock.t += timedelta(seconds=5)
    # a restart mid-way, then the flows close and the client leaves
    col = Collector(log, GUEST, frozenset({"172.18.1.1"}), clock, log / ".state.json")
    col.tick(clients, flows[:1])
    _assert_no_destination(log)
    clock.t += timedelta(seconds=5)
    col.tick([], [])
    _assert_no_destination(log)


def test_nat_mappings_get_an_end_and_are_keyed_without_destination(tmp_path: Path) -> None:
    log = tmp_path / "log"
    clock = Clock(T0)
    col = Collector(log, GUEST, frozenset(), clock, log / ".state.json")
    clients = connlog.parse_ndsctl_json(NDSCTL)
    a = Flow("udp", "172.18.1.162", 40001, DEST, 443, "198.18.0.2", 40001)
    b = Flow("udp", "172.18.1.162", 40001, "192.0.2.9", 443, "198.18.0.2", 40001)
    first = col.tick(clients, [a, b])  # one socket, two destinations: one public mapping
    assert [r.kind for r in first] == ["session", "nat"]
    clock.t += timedelta(seconds=5)
    assert col.tick(clients, [b]) == []  # the mapping is still in use
    clock.t += timedelta(seconds=5)
    ended = col.tick(clients, [])
    assert [(r.kind, r.key, r.at, r.end) for r in ended] == [
        ("nat", first[1].key, T0, T0 + timedelta(seconds=10))]
    clock.t += timedelta(seconds=5)
    again = col.tick(clients, [a])  # the same port used again later: a new mapping record
    assert [r.kind for r in again] == ["nat"] and again[0].key != first[1].key
    merged = connlog.merge_sessions(connlog.read_records(connlog.log_files(log)))
    nats = [r for r in merged if r.kind == "nat"]
    assert [(r.at, r.end) for r in nats] == [(T0, T0 + timedelta(seconds=10)),
                                             (T0 + timedelta(seconds=15), None)]


def test_icmp_flows_are_logged_with_their_identifier() -> None:
    f = connlog.parse_conntrack_line(ICMP)
    assert f == Flow("icmp", "172.18.1.162", 7, "198.18.0.1", 0, "198.18.0.2", 7)


def test_an_old_state_file_is_read_and_its_destinations_forgotten(tmp_path: Path) -> None:
    state = tmp_path / ".state.json"
    state.write_text(json.dumps({"sessions": {}, "flows": {
        f"tcp|172.18.1.162|51234|{DEST}|443": "2026-11-23T09:30:00Z"}}))
    col = Collector(tmp_path, GUEST, frozenset(), Clock(T0), state)
    col.tick(connlog.parse_ndsctl_json(NDSCTL), [])
    assert DEST not in state.read_text() and "172.18.1.162" in state.read_text()


def test_parse_record_refuses_unknown_fields_and_bad_values() -> None:
    good = {"kind": "session", "key": "s:x:1", "at": "2026-11-23T09:30:00Z",
            "mac": "aa:bb:cc:dd:ee:ff", "ip": "172.18.1.5"}
    assert connlog.parse_record(json.dumps(good)).ip == "172.18.1.5"
    with pytest.raises(connlog.RecordError, match=r"f:3: unexpected field 'url'"):
        connlog.parse_record(json.dumps({**good, "url": "http://x"}), "f:3")
    with pytest.raises(ConfigError, match="ip: not an IP address"):
        connlog.parse_record(json.dumps({**good, "ip": "999.1.1.1"}))
    with pytest.raises(connlog.RecordError, match="time without a timezone"):
        connlog.parse_record(json.dumps({**good, "at": "2026-11-23T09:30:00"}))
    with pytest.raises(connlog.RecordError, match="nat record without 'public_ip'"):
        connlog.parse_record(json.dumps({**good, "kind": "nat", "proto": "tcp", "sport": 1,
                                         "public_port": 2}))


def _line(at: datetime, key: str) -> str:
    return json.dumps({"kind": "session", "key": key, "at": connlog.iso(at),
                       "mac": "aa:bb:cc:dd:ee:ff", "ip": "172.18.1.5"})


def test_purge_after_365_days_with_injected_clock(tmp_path: Path) -> None:
    now = datetime(2027, 11, 24, 12, 0, tzinfo=UTC)
    old = now - timedelta(days=366)
    boundary_old = now - timedelta(days=365, hours=1)
    boundary_new = now - timedelta(days=364, hours=23)
    recent = now - timedelta(days=10)
    for t, key in [(old, "old"), (boundary_old, "bold"), (boundary_new, "bnew"), (recent, "new")]:
        path = tmp_path / f"{t.date().isoformat()}.jsonl"
        with path.open("a") as fh:
            fh.write(_line(t, key) + "\n")
    assert connlog.purge(tmp_path, now) == 2
    keys = {r.key for r in connlog.read_records(connlog.log_files(tmp_path))}
    assert keys == {"bnew", "new"}
    assert not (tmp_path / f"{old.date().isoformat()}.jsonl").exists()
    assert connlog.purge(tmp_path, now) == 0  # idempotent
    assert connlog.purge(tmp_path, now + timedelta(days=400)) == 2
    with pytest.raises(connlog.RecordError, match="at least 1"):
        connlog.purge(tmp_path, now, days=0)


def test_gateway_cli_purge_uses_the_injected_clock(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    (tmp_path / "2026-01-01.jsonl").write_text(_line(t, "k") + "\n")
    assert connlog.main(["--dir", str(tmp_path), "--now", "2026-12-31T00:00:00Z", "purge"]) == 0
    assert json.loads(capsys.readouterr().out) == {"purged": 0}
    assert connlog.main(["--dir", str(tmp_path), "--now", "2027-01-02T00:00:00Z", "purge"]) == 0
    assert json.loads(capsys.readouterr().out) == {"purged": 1}
    assert connlog.main(["--dir", str(tmp_path), "--now", "yesterday", "purge"]) == 2
