"""Diagnostics bundle (``fleet diag DEVICE``), collected with fabric: read-only commands and
files of one host, redacted, in one ``.tar.gz`` under the state directory.

- **Read-only**: every item is a command that reads (``journalctl``, ``systemctl --failed``,
  ``df``, ``ps``, ``lpstat``, ``nft list ruleset``, ``ndsctl status``...), run with ``sudo -n``
  and its output capped on the host (``head``/``tail -c``).  The one exception is dnsmasq's
  statistics: dnsmasq writes them to its log on SIGUSR1, which changes nothing else.
- **Independent**: each item has its own timeout; one failing is listed in the manifest
  (``MANIFEST.json``: item, command, ok, bytes, seconds, error, redactions) and the rest goes
  on.  The whole bundle is bounded in time (``diag_timeout``, 60 s): what is left when the
  time is up is listed as skipped.
- **Bounded in size** (``diag_max_bytes``, 20 MB): each item gets a share and the sum of the
  contents stays under the bound, so the archive does too (checked after writing).
- **Redacted before it is written** (:func:`redact`): secrets — every value of the vault, the
  SNMP keys and communities of the inventory, PEM private keys, ``password=``/``token:``-like
  values, ``createUser`` lines, URL credentials — and personal data — paths under a guest's
  home (no file of it is ever read), every MAC address, every address of the site's guest
  network, on the gateway every DNS query/reply line (no visited name), URLs in browser logs.
  The manifest counts redactions per rule, never what was redacted.

The bundle's path and SHA-256 are recorded on the incident given, else as a device event.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import re
import shlex
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

from fleet.errors import RemoteError
from fleet.inventory.models import Device, DeviceKind, Inventory, Site
from fleet.inventory.secrets import (
    VAULT_RELPATH,
    decrypt_vault,
    default_password_file,
    password_from,
)
from fleet.remote.pyinfra_run import Target

HOSTS = frozenset({DeviceKind.PUBLIC_PC, DeviceKind.BORNE, DeviceKind.GATEWAY})
DESKTOPS = frozenset({DeviceKind.PUBLIC_PC, DeviceKind.BORNE})
MANIFEST = "MANIFEST.json"
FORMAT = 1
#: Room left for tar headers and the manifest under the size bound.
OVERHEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class Item:
    """One piece of the bundle: a read-only command (or a file read with ``cat``)."""

    name: str
    command: str
    kinds: frozenset[DeviceKind] = HOSTS
    share: float = 0.05
    """Largest part of the size bound this item may take."""
    keep: str = "head"
    """Which end to keep when capped: ``head`` or ``tail`` (logs: the newest lines)."""
    browser: bool = False
    """Browser output: URLs are personal data (what a guest visited): replaced."""
    file: bool = False

    def applies(self, kind: DeviceKind) -> bool:
        return kind in self.kinds


WIPE_RECORD = "/var/log/relais/wipe.jsonl"
NDSCTL_BUSY = 4
"""ndsctl's exit status, silent, when another caller holds its lock (openNDS 9/10 answer one
caller at a time; relais-connlog asks every few seconds, openNDS itself while BinAuth runs)."""


def ndsctl_status(tries: int = 20, pause: float = 0.5) -> str:
    """``ndsctl status``, asked again while busy: one refused question is not a failed item."""
    return (f"for try in $(seq {tries}); do ndsctl status; s=$?; [ $s -eq {NDSCTL_BUSY} ] || exit $s; "
            f"sleep {pause:g}; done; echo 'ndsctl: still busy with another caller after "
            f"{tries * pause:g} s'; exit {NDSCTL_BUSY}")


ITEMS: tuple[Item, ...] = (
    Item("system/host.txt", "hostname; uname -a; cat /etc/os-release; uptime; "
         "cat /proc/sys/kernel/random/boot_id"),
    Item("system/journal-since-boot.txt", "journalctl -b -n 200000 --no-pager -o short-iso",
         share=0.55, keep="tail"),
    Item("system/failed-units.txt", "systemctl --failed --no-pager --all; "
         "systemctl list-timers --all --no-pager"),
    Item("system/disk.txt", "df -hT; echo; df -i"),
    Item("system/memory.txt", "free -m; echo; cat /proc/meminfo; echo; cat /proc/loadavg"),
    Item("system/processes.txt", "ps -eo pid,ppid,user,stat,pcpu,pmem,rss,etime,comm --sort=-pcpu"),
    Item("system/network.txt", "ip -br link; ip -br addr; ip route"),
    Item("relais/wipe-records.jsonl", f"tail -n 50 {WIPE_RECORD}", DESKTOPS, file=True),
    Item("relais/wipe-watcher.json", "/usr/local/sbin/relais-wipe status", DESKTOPS),
    Item("kiosk/journal.txt", "journalctl -b -u relais-kiosk.service -u relais-kiosk-watchdog.service "
         "-n 20000 --no-pager -o short-iso", frozenset({DeviceKind.BORNE}), share=0.1, keep="tail",
         browser=True),
    Item("kiosk/status.txt", "systemctl status --no-pager relais-kiosk.service "
         "relais-kiosk-watchdog.timer", frozenset({DeviceKind.BORNE}), browser=True),
    Item("browser/policies.json", "cat /etc/chromium/policies/managed/*.json", DESKTOPS, file=True),
    Item("print/lpstat.txt", "lpstat -t", frozenset({DeviceKind.PUBLIC_PC})),
    Item("gateway/nft-ruleset.txt", "nft list ruleset", frozenset({DeviceKind.GATEWAY}), share=0.1),
    Item("gateway/ndsctl-status.txt", ndsctl_status(), frozenset({DeviceKind.GATEWAY})),
    Item("gateway/dnsmasq-statistics.txt",
         "pkill -USR1 -x dnsmasq && sleep 1 && journalctl -u dnsmasq --since -10s --no-pager -o cat "
         "| grep -E '^(time |cache size|queries |server |pool memory|DNSSEC)'",
         frozenset({DeviceKind.GATEWAY})),
)


# ------------------------------------------------------------------------------ redaction --


@dataclass(frozen=True, slots=True)
class Redactor:
    """Everything that must not reach a bundle, for one site."""

    secrets: tuple[str, ...] = ()
    guest_networks: tuple[ipaddress.IPv4Network, ...] = ()
    guest_users: tuple[str, ...] = ("guest",)
    gateway: bool = False


_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|\Z)", re.S)
_KV = re.compile(  # anchored on the keyword (no leading wildcard: linear on any input)
    r"(?i)((?:pass(?:word|wd|phrase)?|secret|token|community|api[_-]?key|authkey|privkey|auth_key"
    r"|priv_key)[\w.-]{0,64})([\"']?\s*[=:]\s*|\s+)(\"[^\"\n]{0,512}\"|'[^'\n]{0,512}'|[^\s,;&\"']{1,512})")
_CREATE_USER = re.compile(r"(?im)^(\s*createUser\s+\S+).*$")
_URL_CRED = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,15}://)[^/\s:@]{1,256}:[^/\s@]{1,256}@")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_MAC = re.compile(r"(?i)\b[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5}\b")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_URL = re.compile(r"(?i)\b(?:https?|wss?|ftp)://[^\s\"'<>]+")
_DNS_LINE = re.compile(r"(?im)^.*\bdnsmasq(?:-dhcp)?(?:\[\d+\])?:\s+(?:\d+\s+\S+\s+)?"
                       r"(?:query\[|reply |forwarded |cached |config |/etc/hosts |validation |"
                       r"DHCP\w*\().*$\n?")


def redact(text: str, r: Redactor, *, browser: bool = False) -> tuple[str, dict[str, int]]:
    """``text`` with every secret and piece of personal data replaced; counts per rule."""
    counts: dict[str, int] = {}

    def sub(rule: str, pattern: re.Pattern[str], repl: str | Callable[[re.Match[str]], str],
            value: str) -> str:
        new, n = pattern.subn(repl, value)
        if n:
            counts[rule] = counts.get(rule, 0) + n
        return new

    for secret in sorted({s for s in r.secrets if len(s) >= 4}, key=len, reverse=True):
        n = text.count(secret)
        if n:
            text = text.replace(secret, "<secret>")
            counts["vault_value"] = counts.get("vault_value", 0) + n
    text = sub("private_key", _PEM, "<private key>", text)
    text = sub("snmp_user", _CREATE_USER, r"\1 <secret>", text)
    text = sub("url_credentials", _URL_CRED, r"\1<secret>@", text)
    text = sub("bearer", _BEARER, r"\1 <secret>", text)
    text = sub("secret_value", _KV, lambda m: f"{m.group(1)}{m.group(2)}<secret>", text)
    if r.gateway:
        text = sub("dns_or_dhcp_line", _DNS_LINE, "", text)
    for user in r.guest_users:
        home = re.compile(rf"/home/{re.escape(user)}/[^\s\"':,;)\]]+")
        text = sub("guest_home_path", home, f"/home/{user}/<redacted>", text)
    text = sub("mac_address", _MAC, "<mac>", text)
    if r.guest_networks:
        def guest_ip(m: re.Match[str]) -> str:
            try:
                ip = ipaddress.IPv4Address(m.group(0))
            except ValueError:
                return m.group(0)
            return "<guest-ip>" if any(ip in n for n in r.guest_networks) else m.group(0)

        before = text
        text = _IPV4.sub(guest_ip, text)
        if text != before:
            counts["guest_ip"] = counts.get("guest_ip", 0) + before.count(".") - text.count(".")
    if browser:
        text = sub("url", _URL, "<url>", text)
    return text, counts


# Vault entries that name an account rather than hold a secret (an SNMPv3 user travels in clear
# in every packet): redacting them everywhere would blank the product's own name ("relais") in
# unit names and paths, and make a bundle unreadable (the borne's relais-kiosk.service status).
_IDENTIFIER_KEY = re.compile(r"_(user|username|login)$")


def vault_values(inventory_root: Path) -> tuple[str, ...]:
    """Every secret value of the vault (to redact them wherever they appear); account names
    (``*_user``, ``*_username``, ``*_login``) are identifiers, not secrets."""
    path = inventory_root / VAULT_RELPATH
    if not path.is_file():
        return ()
    from fleet import settings

    pw_file = settings.get("vault_password_file")
    password = password_from(Path(pw_file) if pw_file else default_password_file(inventory_root))
    data = yaml.safe_load(decrypt_vault(path, password))
    if not isinstance(data, dict):
        return ()
    return tuple(str(v) for k, v in data.items()
                 if v not in (None, "") and not _IDENTIFIER_KEY.search(str(k)))


def redactor_for(inventory: Inventory, site: Site, device: Device) -> Redactor:
    secrets: list[str] = list(vault_values(Path(inventory.root)))
    for d in inventory.devices:
        if d.snmp is None:
            continue
        for s in (d.snmp.community, d.snmp.auth_key, d.snmp.priv_key):
            if s is not None:
                secrets.append(s.get_secret_value())
    nets = tuple(n for n in (site.guest,) if n is not None)
    return Redactor(tuple(secrets), nets, (device.guest_user,), device.kind is DeviceKind.GATEWAY)


# ------------------------------------------------------------------------------ collecting --


class Runner(Protocol):
    """Runs one command on the host; (exit status, output) or raises on timeout/connection."""

    def __call__(self, command: str, timeout: float) -> tuple[int, str]: ...


@dataclass(frozen=True, slots=True)
class ItemResult:
    name: str
    command: str
    ok: bool
    bytes: int = 0
    seconds: float = 0.0
    truncated: bool = False
    error: str = ""
    redactions: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"item": self.name, "command": self.command, "ok": self.ok, "bytes": self.bytes,
                "seconds": round(self.seconds, 2), "truncated": self.truncated,
                "error": self.error, "redactions": dict(self.redactions)}


@dataclass(frozen=True, slots=True)
class Bundle:
    device: str
    site_id: str
    path: Path
    sha256: str
    size: int
    items: tuple[ItemResult, ...]
    seconds: float

    @property
    def failures(self) -> list[ItemResult]:
        return [i for i in self.items if not i.ok]

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "site": self.site_id, "path": str(self.path),
                "sha256": self.sha256, "bytes": self.size, "seconds": round(self.seconds, 1),
                "items": [i.to_json() for i in self.items],
                "failed": [i.name for i in self.failures]}


SIGPIPE_STATUS = 141
"""The command's status when ``head`` stopped reading (its output was cut): not a failure."""


def capped(command: str, limit: int, keep: str) -> str:
    """``command`` run by root, its output (both streams) capped on the host to ``limit`` bytes
    (+1, to know it was cut); the exit status is the command's, not the cutter's."""
    cut = "tail" if keep == "tail" else "head"
    inner = f"( {command} ) 2>&1 | {cut} -c {limit + 1}; exit ${{PIPESTATUS[0]}}"
    return f"sudo -n bash -c {shlex.quote(inner)}"


def collect(run_command: Runner, device: Device, redactor: Redactor, *, max_bytes: int,
            deadline_s: float, clock: Callable[[], float] = time.monotonic,
            items: Sequence[Item] = ITEMS) -> tuple[dict[str, bytes], list[ItemResult]]:
    """Run every item for the device's kind; redacted contents by name, and per-item results."""
    started = clock()
    budget = max(0, max_bytes - OVERHEAD)
    contents: dict[str, bytes] = {}
    results: list[ItemResult] = []
    wanted = [i for i in items if i.applies(device.kind)]
    for n, item in enumerate(wanted):
        left_s = deadline_s - (clock() - started)
        if left_s <= 1:
            results.append(ItemResult(item.name, item.command, False,
                                      error=f"skipped: the {deadline_s:.0f} s budget was used up"))
            continue
        used = sum(len(v) for v in contents.values())
        room = budget - used
        # keep room for the items after this one (each at least a small share)
        later = sum(min(i.share, 0.02) for i in wanted[n + 1:]) * budget
        limit = int(max(0, min(item.share * budget, room - later)))
        if limit <= 0:
            results.append(ItemResult(item.name, item.command, False, error="skipped: size bound reached"))
            continue
        t0 = clock()
        per_item = max(1.0, min(left_s - 0.5, deadline_s / 2))
        try:
            status, output = run_command(capped(item.command, limit, item.keep), per_item)
        except Exception as exc:  # third-party boundary (fabric, paramiko, invoke): one item fails
            first = (str(exc).splitlines() or [""])[0][:200]
            results.append(ItemResult(item.name, item.command, False, seconds=clock() - t0,
                                      error=f"{type(exc).__name__}: {first}"))
            continue
        raw = output.encode("utf-8", errors="replace")
        truncated = len(raw) > limit
        if truncated:
            raw = raw[-limit:] if item.keep == "tail" else raw[:limit]
        text, counts = redact(raw.decode("utf-8", errors="replace"), redactor, browser=item.browser)
        data = text.encode("utf-8")[:limit]
        contents[item.name] = data
        ok = status == 0 or (status == SIGPIPE_STATUS and truncated)
        last = (text.strip().splitlines() or [""])[-1][:200]
        error = "" if ok else f"exit status {status}: {last}"
        results.append(ItemResult(item.name, item.command, ok, len(data), clock() - t0, truncated,
                                  error, counts))
    return contents, results


def write_bundle(path: Path, contents: Mapping[str, bytes], manifest: Mapping[str, Any],
                 max_bytes: int) -> tuple[str, int]:
    """Write the archive (mode 0600) and return (SHA-256, size); never over ``max_bytes``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in [(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode()),
                           *sorted(contents.items())]:
            info = tarfile.TarInfo(f"{manifest['bundle']}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    blob = buf.getvalue()
    if len(blob) > max_bytes:
        raise ValueError(f"bundle of {len(blob)} bytes over the bound {max_bytes}")
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(blob)
    return hashlib.sha256(blob).hexdigest(), len(blob)


# ------------------------------------------------------------------------------ fabric ----


def fabric_runner(target: Target, connect_timeout: float, lab: bool) -> tuple[Runner, Callable[[], None]]:
    """A :class:`Runner` over one fabric connection, and its closer.  Outside the lab, host
    keys must already be known (paramiko's RejectPolicy with the system's known_hosts); the
    lab's SSH config trusts its own throwaway hosts."""
    from fabric import Config, Connection
    from paramiko import RejectPolicy

    config = Config(runtime_ssh_path=str(target.ssh_config)) if target.ssh_config else Config()
    kwargs: dict[str, Any] = {"look_for_keys": target.ssh_key is None}
    if target.ssh_key is not None:
        kwargs["key_filename"] = str(target.ssh_key)
    host = target.hostname if target.ssh_config else target.address
    conn = Connection(host, user=target.user, config=config, connect_timeout=int(connect_timeout),
                      connect_kwargs=kwargs)
    if not lab:
        conn.client.load_system_host_keys()
        conn.client.set_missing_host_key_policy(RejectPolicy())
    conn.open()

    def run_command(command: str, timeout: float) -> tuple[int, str]:
        res = conn.run(command, hide=True, warn=True, timeout=max(1, int(timeout)), in_stream=False)
        return int(res.exited), str(res.stdout) + str(res.stderr)

    return run_command, conn.close


def diagnose(inventory: Inventory, device: Device, target: Target, *, state_dir: Path,
             max_bytes: int, timeout: float, lab: bool, actor: str,
             incident_id: int | None, now: datetime,
             runner: Runner | None = None) -> Bundle:
    """Collect, redact and write one host's bundle under ``state_dir/diag/<site>/``."""
    started = time.monotonic()
    site = inventory.site_of(device)
    redactor = redactor_for(inventory, site, device)
    close: Callable[[], None] = lambda: None  # noqa: E731
    results: list[ItemResult]
    contents: dict[str, bytes]
    if runner is None:
        try:
            runner, close = fabric_runner(target, min(15.0, timeout / 2), lab)
        except Exception as exc:  # third-party boundary (fabric, paramiko): cannot connect
            first = (str(exc).splitlines() or [""])[0][:200]
            raise RemoteError(f"{device.hostname}: cannot connect for diagnostics: "
                              f"{type(exc).__name__}: {first}") from exc
    try:
        contents, results = collect(runner, device, redactor, max_bytes=max_bytes, deadline_s=timeout)
    finally:
        close()
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{device.hostname}-{stamp}"
    manifest = {
        "format": FORMAT, "bundle": name, "device": device.hostname, "kind": device.kind.value,
        "site": site.id, "collected_at": now.astimezone(UTC).isoformat(), "by": actor,
        "incident": incident_id, "max_bytes": max_bytes, "timeout_s": timeout,
        "items": [r.to_json() for r in results],
        "failed": [r.name for r in results if not r.ok],
        "redacted": _total(r.redactions for r in results),
        "note": "read-only collection; secrets and personal data redacted before writing "
                "(counts per rule only)",
    }
    path = state_dir / "diag" / site.id / f"{name}.tar.gz"
    sha, size = write_bundle(path, contents, manifest, max_bytes)
    return Bundle(device.hostname, site.id, path, sha, size, tuple(results), time.monotonic() - started)


def _total(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out
