"""The legal connection log of the public wifi (CPCE art. L34-1, décret n° 2021-1362).

What is recorded, per guest session: when it started and ended, the client's MAC and IP
address; and for each connection the client made through the gateway's NAT, when it was first
seen and the public source address and port it was given (plus the protocol and the client's
own source port, which tie the public port to the session), and when that mapping ended.
Never a destination, a URL or a DNS query: a flow is known by its public mapping (protocol,
client address and port, public address and port), which is all the law asks for; the
destination is read from the kernel's table only to skip traffic to the gateway itself, kept in
memory for that one snapshot, and never written anywhere, the state file included.

Records are JSON lines in one file per UTC day under the log directory; :func:`purge` removes
every record older than the retention (365 days), with an injectable clock.

Standard library only: the ``captive_portal`` role installs this module on the gateway as
``relais-connlog`` (a service polling ``ndsctl json`` and the kernel's connection tracking
table every few seconds), and the controller uses the same record parser when it collects the
files into the store.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

RETENTION_DAYS = 365
RECORD_KINDS = ("session", "nat")
# The fields a record may have: anything else (a URL, a name) is refused on the way in.
FIELDS = frozenset({
    "kind", "key", "at", "end", "mac", "ip", "proto", "sport", "public_ip", "public_port",
})  # fmt: skip

try:  # on the controller a RecordError is a FleetError; on the gateway (stdlib only) a ValueError
    from fleet.errors import RecordError
except ImportError:  # pragma: no cover - only on the gateway

    class RecordError(ValueError):  # type: ignore[no-redef]
        """A log line is not a valid connection record; the message names the file and line."""

Clock = Callable[[], datetime]

def utcnow() -> datetime:
    return datetime.now(UTC)

def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

def parse_time(text: str, where: str = "time") -> datetime:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError) as exc:
        raise RecordError(f"{where}: not an ISO 8601 time: {text!r}") from exc
    if t.tzinfo is None:
        raise RecordError(f"{where}: time without a timezone: {text!r}")
    return t.astimezone(UTC)

# ----------------------------------------------------------------------------- records

@dataclass(frozen=True, slots=True)
class Record:
    """One line of the log.  ``kind`` is ``session`` (``at`` = start, ``end`` = end) or ``nat``
    (``at`` = first seen, ``end`` = first snapshot without it).  The start and the end of a
    record are two lines with the same ``key`` (:func:`merge_sessions` folds them); a record
    without an end covers its start instant only.  ``key`` identifies the record across
    re-reads, so collecting the same file twice stores it once."""

    kind: str
    key: str
    at: datetime
    mac: str
    ip: str
    end: datetime | None = None
    proto: str | None = None
    sport: int | None = None
    public_ip: str | None = None
    public_port: int | None = None

    def to_json(self) -> str:
        d = {k: v for k, v in asdict(self).items() if v is not None}
        d["at"] = iso(self.at)
        if self.end is not None:
            d["end"] = iso(self.end)
        return json.dumps(d, sort_keys=True, separators=(",", ":"))

def _int(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise RecordError(f"{where}: not a port number: {value!r}")
    return value

def _addr(value: object, where: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError as exc:
        raise RecordError(f"{where}: not an IP address: {value!r}") from exc

def parse_record(line: str, where: str = "record") -> Record:
    """One JSON line to a :class:`Record`; refuses unknown fields (a URL or a domain name never
    gets into the store, even from a tampered file)."""
    try:
        d = json.loads(line)
    except ValueError as exc:
        raise RecordError(f"{where}: not JSON: {exc}") from exc
    if not isinstance(d, dict):
        raise RecordError(f"{where}: not a JSON object")
    unknown = set(d) - FIELDS
    if unknown:
        raise RecordError(f"{where}: unexpected field {sorted(unknown)[0]!r}")
    kind = d.get("kind")
    if kind not in RECORD_KINDS:
        raise RecordError(f"{where}: kind must be one of {RECORD_KINDS}, not {kind!r}")
    for req in ("key", "at", "mac", "ip"):
        if not isinstance(d.get(req), str) or not d[req]:
            raise RecordError(f"{where}: missing field {req!r}")
    if kind == "nat":
        for req in ("proto", "sport", "public_ip", "public_port"):
            if d.get(req) is None:
                raise RecordError(f"{where}: nat record without {req!r}")
    end = d.get("end")
    return Record(
        kind=kind,
        key=d["key"],
        at=parse_time(d["at"], f"{where}: at"),
        mac=d["mac"].lower(),
        ip=_addr(d["ip"], f"{where}: ip"),
        end=parse_time(end, f"{where}: end") if end is not None else None,
        proto=str(d["proto"]) if d.get("proto") is not None else None,
        sport=_int(d.get("sport"), f"{where}: sport"),
        public_ip=_addr(d["public_ip"], f"{where}: public_ip") if d.get("public_ip") else None,
        public_port=_int(d.get("public_port"), f"{where}: public_port"),
    )

def read_records(files: Iterable[Path]) -> Iterator[Record]:
    for path in files:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield parse_record(line, f"{path}:{n}")

def merge_sessions(records: Iterable[Record]) -> list[Record]:
    """Fold a session's start and end lines into one record (the latest line of a key wins)."""
    by_key: dict[str, Record] = {}
    for r in records:
        prev = by_key.get(r.key)
        if prev is None or (r.end is not None and prev.end is None):
            by_key[r.key] = r
    return sorted(by_key.values(), key=lambda r: (r.at, r.key))

# ----------------------------------------------------------------------------- sources

@dataclass(frozen=True, slots=True)
class Flow:
    """One tracked connection as read from the kernel: the original tuple and the NAT'd source
    of the reply tuple.  Lives in memory for one snapshot; only :attr:`mapping` is kept."""

    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    public_ip: str
    public_port: int

    @property
    def mapping(self) -> tuple[str, str, int, str, int]:
        """What the legal log identifies a flow by: no destination (several flows from one
        client socket to several destinations share one public mapping, and one record)."""
        return (self.proto, self.src, self.sport, self.public_ip, self.public_port)


def parse_conntrack_line(line: str) -> Flow | None:
    """A line of ``/proc/net/nf_conntrack`` or ``conntrack -L`` (TCP, UDP, SCTP, UDP-Lite and
    ICMP; anything else None).

    ``ipv4 2 tcp 6 117 SYN_SENT src=C dst=D sport=P dport=Q [UNREPLIED] src=D dst=N sport=Q
    dport=R ...``: the first src/sport are the client's, the reply's dst/dport the public
    (NAT) address and port.  For ICMP the echo identifier (``id=``) plays the port's part
    (masquerading rewrites it like a port)."""
    tokens = line.split()
    proto = next((t for t in tokens[:4] if t in ("tcp", "udp", "sctp", "udplite", "icmp")),
                 None)
    if proto is None:
        return None
    orig: dict[str, str] = {}
    reply: dict[str, str] = {}
    for tok in tokens:
        if "=" not in tok:
            continue
        k, _, v = tok.partition("=")
        if proto == "icmp" and k == "id":
            k = "sport" if "sport" not in orig else "dport"
            (reply if "src" in reply else orig)[k] = v
            continue
        if k in ("src", "dst", "sport", "dport"):
            (reply if k in orig else orig)[k] = v
    try:
        if proto == "icmp":
            return Flow(proto, orig["src"], int(orig["sport"]), orig["dst"], 0, reply["dst"],
                        int(reply["dport"]))
        return Flow(proto, orig["src"], int(orig["sport"]), orig["dst"], int(orig["dport"]),
                    reply["dst"], int(reply["dport"]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Client:
    mac: str
    ip: str
    since: datetime | None

def parse_ndsctl_json(text: str) -> list[Client] | None:
    """Authenticated clients from ``ndsctl json`` (openNDS 9/10: ``{"clients": {MAC: {...}}}``);
    ``None`` when the answer is not a client list (ndsctl busy with another caller, openNDS
    restarting): not knowing is not "nobody is connected", and must not end anyone's session."""
    try:
        data = json.loads(text or "null")
    except ValueError:
        return None
    if not isinstance(data, dict) or "clients" not in data:
        return None
    clients = data["clients"]
    items = clients.values() if isinstance(clients, dict) else clients
    out = []
    for c in items:
        if not isinstance(c, dict):
            continue
        state = str(c.get("state", "")).lower()
        if "authenticated" not in state or "preauth" in state:
            continue
        mac, ip = str(c.get("mac", "")).lower(), str(c.get("ip", ""))
        if not mac or not ip:
            continue
        since = None
        for key in ("session_start", "added"):
            try:
                since = datetime.fromtimestamp(int(c[key]), UTC)
                break
            except (KeyError, TypeError, ValueError):
                continue
        out.append(Client(mac, ip, since))
    return out

# ----------------------------------------------------------------------------- collector

@dataclass(slots=True)
class Collector:
    """Turns successive snapshots (authenticated clients, tracked flows) into records.

    Between snapshots it remembers the open sessions and the open NAT mappings (client address
    and port, public address and port, first seen: what the log holds anyway, never a
    destination) in ``state_file``, so a restarted collector still writes the end of what was
    open."""

    log_dir: Path
    guest: ipaddress.IPv4Network
    local: frozenset[str] = frozenset()
    clock: Clock = utcnow
    state_file: Path | None = None
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)
    flows: dict[str, dict[str, str]] = field(default_factory=dict)
    # mappings still in the kernel's table after their session ended: mapping -> that
    # session's MAC (never attributed to another device that gets the same address)
    lingering: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.state_file is not None and self.state_file.is_file():
            try:
                st = json.loads(self.state_file.read_text("utf-8"))
                self.sessions = dict(st.get("sessions", {}))
                # a state file of an older collector keyed flows by their destination: those
                # entries are dropped (and the file rewritten at the first snapshot)
                self.flows = {k: v for k, v in dict(st.get("flows", {})).items()
                              if isinstance(v, dict) and {"key", "at", "mac", "ip"} <= set(v)}
                self.lingering = {str(k): str(v)
                                  for k, v in dict(st.get("lingering", {})).items()}
            except (OSError, ValueError, AttributeError):
                pass

    def _save(self) -> None:
        if self.state_file is None:
            return
        _atomic_write(self.state_file,
                      json.dumps({"sessions": self.sessions, "flows": self.flows,
                                  "lingering": self.lingering}))

    def _in_guest(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.guest
        except ValueError:
            return False

    def tick(self, clients: Sequence[Client] | None, flows: Sequence[Flow]) -> list[Record]:
        """One snapshot in, the new records out (also appended to the log).  ``clients`` is
        ``None`` when openNDS did not answer: the open sessions stay open, as they are.

        A mapping belongs to the session of its client address that was open when it was
        first seen.  One first seen in the snapshot that ends its session (opened during the
        last interval) is recorded for that session, ended at once.  A mapping still in the
        kernel's table after its session ended lingers: it is never attributed to another
        device that gets the same address (only to its own device's next session)."""
        now = self.clock().astimezone(UTC).replace(microsecond=0)
        out: list[Record] = []
        if clients is None:
            current = {mac: Client(mac, s["ip"], None) for mac, s in self.sessions.items()}
        else:
            current = {c.mac: c for c in clients if self._in_guest(c.ip)}
        ended: dict[str, str] = {}  # client address -> MAC of a session ended by this snapshot
        for mac, s in list(self.sessions.items()):
            c = current.get(mac)
            if c is None or c.ip != s["ip"]:
                out.append(Record("session", s["key"], parse_time(s["at"]), mac, s["ip"],
                                  end=now))
                ended[s["ip"]] = mac
                del self.sessions[mac]
            elif c.since is not None and c.since > parse_time(s["at"]):
                # a new openNDS session between two snapshots (de-authenticated, then
                # accepted again): the previous one ended at the latest when this one began
                out.append(Record("session", s["key"], parse_time(s["at"]), mac, s["ip"],
                                  end=min(c.since, now).replace(microsecond=0)))
                del self.sessions[mac]
        for mac, c in current.items():
            if mac not in self.sessions:
                start = min(c.since, now) if c.since is not None else now
                key = f"s:{mac}:{int(start.timestamp())}"
                self.sessions[mac] = {"key": key, "at": iso(start), "ip": c.ip}
                out.append(Record("session", key, start.replace(microsecond=0), mac, c.ip))
        by_ip = {s["ip"]: mac for mac, s in self.sessions.items()}
        seen: dict[str, tuple[Flow, str]] = {}   # mappings of open sessions -> (flow, MAC)
        last: dict[str, tuple[Flow, str]] = {}   # first seen as their session ended
        lingering: dict[str, str] = {}
        for f in flows:
            if not self._in_guest(f.src) or f.dst in self.local:
                continue
            if self._in_guest(f.public_ip) or f.public_ip in self.local:
                continue  # not translated to a public address (e.g. redirected to the portal)
            ident = "|".join(map(str, f.mapping))
            if ident in self.lingering:
                owner: str | None = self.lingering[ident]
            elif ident in self.flows:
                owner = self.flows[ident]["mac"]
            else:
                owner = by_ip.get(f.src) or ended.get(f.src)
            if owner is None:
                continue
            if by_ip.get(f.src) == owner:
                seen.setdefault(ident, (f, owner))
                continue
            lingering[ident] = owner
            if ident not in self.flows and ended.get(f.src) == owner:
                last.setdefault(ident, (f, owner))
        self.lingering = lingering
        for ident, st in list(self.flows.items()):
            if ident not in seen:  # gone from the table, or its client's session ended
                proto, _src, sport, public_ip, public_port = ident.split("|")
                out.append(Record("nat", st["key"], parse_time(st["at"]), st["mac"], st["ip"],
                                  end=now, proto=proto, sport=int(sport), public_ip=public_ip,
                                  public_port=int(public_port)))
                del self.flows[ident]
        for ident, (f, mac) in [*seen.items(), *last.items()]:
            if ident in self.flows:
                continue
            key = (f"n:{f.proto}:{f.src}:{f.sport}:{f.public_ip}:{f.public_port}:"
                   f"{int(now.timestamp())}")
            if ident in seen:
                self.flows[ident] = {"key": key, "at": iso(now), "mac": mac, "ip": f.src}
            out.append(Record("nat", key, now, mac, f.src, proto=f.proto, sport=f.sport,
                              public_ip=f.public_ip, public_port=f.public_port,
                              end=None if ident in seen else now))
        self.append(out)
        self._save()
        return out

    def append(self, records: Sequence[Record]) -> None:
        by_day: dict[date, list[str]] = {}
        for r in records:
            stamp = r.end if r.end is not None else r.at
            by_day.setdefault(stamp.date(), []).append(r.to_json())
        for day, lines in by_day.items():
            self.log_dir.mkdir(parents=True, exist_ok=True)
            path = self.log_dir / f"{day.isoformat()}.jsonl"
            with path.open("a", encoding="utf-8") as fh:
                fh.write("".join(line + "\n" for line in lines))
            path.chmod(0o640)

def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    Path(tmp).chmod(0o640)
    Path(tmp).replace(path)

def log_files(log_dir: Path) -> list[Path]:
    return sorted(p for p in log_dir.glob("*.jsonl") if _day_of(p) is not None)

def _day_of(path: Path) -> date | None:
    try:
        return date.fromisoformat(path.stem)
    except ValueError:
        return None

def _record_time(line: str) -> datetime | None:
    try:
        d = json.loads(line)
        return parse_time(d.get("end") or d["at"])
    except (ValueError, KeyError, TypeError, RecordError):
        return None

def purge(log_dir: Path, now: datetime, days: int = RETENTION_DAYS) -> int:
    """Remove every record older than ``days`` (by its latest time); returns how many.
    Whole day files older than the cutoff go at once; the boundary day is rewritten."""
    if days < 1:
        raise RecordError(f"retention days must be at least 1, not {days}")
    cutoff = now.astimezone(UTC) - timedelta(days=days)
    removed = 0
    for path in log_files(log_dir):
        day = _day_of(path)
        assert day is not None
        if day > cutoff.date():
            continue
        lines = path.read_text("utf-8").splitlines()
        keep = [ln for ln in lines if ln.strip() and ((t := _record_time(ln)) is None or t >= cutoff)]
        removed += len([ln for ln in lines if ln.strip()]) - len(keep)
        if keep:
            if len(keep) != len(lines):
                _atomic_write(path, "".join(ln + "\n" for ln in keep))
        else:
            path.unlink()
    return removed

# ----------------------------------------------------------------------------- gateway CLI

def _now_from(arg: str | None) -> Clock:
    fixed = arg or os.environ.get("RELAIS_NOW") or ""
    if fixed:
        t = parse_time(fixed, "--now")
        return lambda: t
    return utcnow

def read_snapshot(ndsctl: str, conntrack: Path) -> tuple[list[Client] | None, list[Flow]]:
    try:
        out = subprocess.run([ndsctl, "json"], capture_output=True, text=True, timeout=20,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    flows: list[Flow] = []
    try:
        with conntrack.open(encoding="ascii", errors="replace") as fh:
            flows = [f for f in map(parse_conntrack_line, fh) if f is not None]
    except OSError:
        pass
    return parse_ndsctl_json(out), flows

def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="relais-connlog", description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/var/lib/relais/connlog"))
    ap.add_argument("--now", help="fixed current time (tests), else $RELAIS_NOW, else the clock")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "once"):
        p = sub.add_parser(name, help="collect forever" if name == "run" else "collect once")
        p.add_argument("--guest", required=True, type=ipaddress.IPv4Network)
        p.add_argument("--local", action="append", default=[], help="the gateway's addresses")
        p.add_argument("--interval", type=float, default=5.0)
        p.add_argument("--days", type=int, default=RETENTION_DAYS)
        p.add_argument("--ndsctl", default="ndsctl")
        p.add_argument("--conntrack", type=Path, default=Path("/proc/net/nf_conntrack"))
    pp = sub.add_parser("purge", help="remove records older than the retention")
    pp.add_argument("--days", type=int, default=RETENTION_DAYS)
    args = ap.parse_args(argv)
    try:
        clock = _now_from(args.now)
        if args.cmd == "purge":
            print(json.dumps({"purged": purge(args.dir, clock(), args.days)}))
            return 0
        col = Collector(args.dir, args.guest, frozenset(args.local), clock,
                        args.dir / ".state.json")
        last_purge = 0.0
        while True:
            if time.monotonic() - last_purge > 3600:
                purge(args.dir, clock(), args.days)
                last_purge = time.monotonic()
            recs = col.tick(*read_snapshot(args.ndsctl, args.conntrack))
            if args.cmd == "once":
                print(json.dumps({"records": len(recs)}))
                return 0
            time.sleep(args.interval)
    except RecordError as exc:
        print(f"relais-connlog: error: {exc}", file=sys.stderr)
        return 2

def as_dict(r: Record) -> dict[str, Any]:
    """A record for JSON output (times as ISO strings)."""
    d: dict[str, Any] = json.loads(r.to_json())
    return d

__all__ = ["Collector", "Record", "RecordError", "as_dict", "merge_sessions", "parse_record",
           "purge", "read_records"]

if __name__ == "__main__":
    raise SystemExit(main())
