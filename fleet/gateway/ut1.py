"""Category blocklists in the UT1 format (Université Toulouse 1 Capitole), and the DNS filter
profiles built from them.

A list set is a directory (or a ``.tar.gz`` of one) holding one directory per category, each
with a ``domains`` file (one name per line, ``#`` comments) and optionally a ``usage`` file
saying ``black`` (the default) or ``white``.  Lines of a ``domains`` file that are IP addresses
(the ``doh`` category lists resolver addresses) are kept apart: they are blocked by address in
the gateway firewall, names are blocked by the resolver.

Standard library only: the ``content_filter`` role installs this module on the gateway as
``relais-blocklist`` (``python3 relais-blocklist build ...``), and ``fleet blocklists update``
uses the same parser on the controller.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

# A DNS name as it appears in the lists: labels of letters, digits, '-', '_' (some real list
# entries carry '_'), at least two labels, no trailing dot.
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
NAME_RE = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")
CATEGORY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

PROFILES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # every site: threats to the visitor's device and to the filtering itself
    "standard": ("malware", "phishing", "cryptojacking", "doh", "stalkerware", "ddos"),
    # child areas (PMI): the standard set plus content unsuitable for children and the tools
    # that would get round the filter
    "pmi": (
        "malware", "phishing", "cryptojacking", "doh", "stalkerware", "ddos",
        "adult", "mixed_adult", "gambling", "dating", "agressif", "dangerous_material",
        "drogue", "vpn", "redirector", "strict_redirector", "sexual_education_adult",
    ),
})  # fmt: skip
"""Categories blocked by each profile.  A category missing from a list set is skipped (and
reported), so a small sample set and the full UT1 archive both work."""

SAFESEARCH: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # The search engines' documented "forced SafeSearch" addresses: the name is answered with
    # the engine's strict front end (DNS only: nothing is contacted while building).
    # forcesafesearch.google.com
    "216.239.38.120": ("www.google.com", "google.com", "www.google.fr", "google.fr"),
    "216.239.38.119": ("www.youtube.com", "m.youtube.com", "youtubei.googleapis.com",
                       "youtube.googleapis.com", "www.youtube-nocookie.com"),  # restrictmoderate.youtube.com
    "204.79.197.220": ("www.bing.com", "bing.com"),  # strict.bing.com
    "52.142.124.215": ("duckduckgo.com", "www.duckduckgo.com"),  # safe.duckduckgo.com
})  # fmt: skip
"""Forced SafeSearch records of the ``pmi`` profile: address -> names answered with it."""


try:  # on the controller a ListError is a FleetError; on the gateway (stdlib only) a ValueError
    from fleet.errors import ListError
except ImportError:  # pragma: no cover - only on the gateway

    class ListError(ValueError):  # type: ignore[no-redef]
        """A list set or an argument is unusable; the message names the file and value."""


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    usage: str  # "black" or "white"
    domains: frozenset[str]
    addresses: frozenset[str]
    skipped: int = 0
    """Lines that were neither a name nor an address (counted, never fatal: real lists have a
    few; a whole file of them is refused by :func:`load_dir`)."""


@dataclass(frozen=True, slots=True)
class ListSet:
    categories: Mapping[str, Category] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {n: len(c.domains) + len(c.addresses) for n, c in sorted(self.categories.items())}


@dataclass(frozen=True, slots=True)
class Profile:
    """What one DNS filter profile blocks, composed from a list set."""

    name: str
    block: frozenset[str]
    allow: frozenset[str]
    addresses: frozenset[str]
    categories: tuple[str, ...]
    missing: tuple[str, ...]
    safesearch: bool


def normalise(line: str) -> str:
    """One list line to a bare lower-case name or address ('' when blank or a comment)."""
    text = line.split("#", 1)[0].strip().lower().rstrip(".")
    if text.startswith("*."):
        text = text[2:]
    return text


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_domains(lines: Iterable[str], source: str) -> tuple[set[str], set[str], int]:
    """(names, addresses, skipped) of a ``domains`` file."""
    names: set[str] = set()
    addresses: set[str] = set()
    skipped = 0
    for raw in lines:
        text = normalise(raw)
        if not text:
            continue
        if is_address(text):
            addresses.add(str(ipaddress.ip_address(text)))
        elif NAME_RE.match(text) and not text.replace(".", "").isdigit():
            names.add(text)
        else:
            skipped += 1
    del source
    return names, addresses, skipped


def parse_usage(text: str, source: str) -> str:
    words = {normalise(line) for line in text.splitlines()} - {""}
    if not words:
        return "black"
    if words <= {"black", "white"} and len(words) == 1:
        return words.pop()
    raise ListError(f"{source}: usage must say 'black' or 'white', not {sorted(words)!r}")


def load_dir(root: Path) -> ListSet:
    """Read a UT1 list set from a directory (the archive's ``blacklists/`` or the repo's
    ``blocklists/``): every sub-directory with a ``domains`` file is a category."""
    if not root.is_dir():
        raise ListError(f"{root}: not a directory")
    cats: dict[str, Category] = {}
    for sub in sorted(root.iterdir()):
        domains = sub / "domains"
        if not sub.is_dir() or not domains.is_file():
            continue
        if not CATEGORY_RE.match(sub.name):
            raise ListError(f"{sub}: invalid category name {sub.name!r}")
        try:
            with domains.open(encoding="utf-8", errors="replace") as fh:
                names, addrs, skipped = parse_domains(fh, str(domains))
            usage_file = sub / "usage"
            usage = (parse_usage(usage_file.read_text("utf-8", errors="replace"), str(usage_file))
                     if usage_file.is_file() else "black")
        except OSError as exc:
            raise ListError(f"{domains}: cannot read: {exc.strerror}") from exc
        if skipped and not names and not addrs:
            raise ListError(f"{domains}: no valid domain name ({skipped} lines unusable)")
        cats[sub.name] = Category(sub.name, usage, frozenset(names), frozenset(addrs), skipped)
    if not cats:
        raise ListError(f"{root}: no category (expected sub-directories with a 'domains' file)")
    return ListSet(cats)


def _safe_members(tar: tarfile.TarFile, source: str) -> list[tarfile.TarInfo]:
    out = []
    for m in tar.getmembers():
        p = PurePosixPath(m.name)
        if p.is_absolute() or ".." in p.parts:
            raise ListError(f"{source}: unsafe path in archive: {m.name!r}")
        if m.isfile() and p.name in ("domains", "usage"):
            out.append(m)
    return out


def extract_archive(archive: Path, dest: Path) -> Path:
    """Extract the ``domains``/``usage`` files of a UT1 archive (``blacklists.tar.gz``) under
    ``dest``; returns the directory holding the category directories."""
    if not archive.is_file():
        raise ListError(f"{archive}: no such file")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _safe_members(tar, str(archive))
            if not members:
                raise ListError(f"{archive}: no '<category>/domains' file in the archive")
            for m in members:
                target = dest / m.name
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                if src is None:
                    continue
                with src, target.open("wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ListError(f"{archive}: not a readable tar archive: {exc}") from exc
    parents = {(dest / m.name).parent.parent for m in members}
    return min(parents, key=lambda p: len(p.parts))


def load(source: Path) -> ListSet:
    """A list set from a directory or a tar archive."""
    if source.is_dir():
        return load_dir(source)
    with tempfile.TemporaryDirectory(prefix="relais-ut1-") as tmp:
        return load_dir(extract_archive(source, Path(tmp)))


def minimise(names: Iterable[str]) -> set[str]:
    """Drop names already covered by a blocked parent (``a.b.example`` under ``b.example``):
    a dnsmasq ``address=/b.example/`` covers every subdomain."""
    ordered = sorted(set(names), key=lambda n: n.count("."))
    kept: set[str] = set()
    for name in ordered:
        labels = name.split(".")
        if any(".".join(labels[i:]) in kept for i in range(1, len(labels) - 1)):
            continue
        kept.add(name)
    return kept


def compose(lists: ListSet, profile: str, extra: Sequence[str] = (),
            allow: Sequence[str] = ()) -> Profile:
    """The block/allow sets of one profile (plus site-specific extra categories)."""
    if profile not in PROFILES:
        raise ListError(f"profile {profile!r}: unknown (choose from {', '.join(PROFILES)})")
    wanted = tuple(dict.fromkeys([*PROFILES[profile], *extra]))
    block: set[str] = set()
    addrs: set[str] = set()
    allowed: set[str] = {normalise(a) for a in allow} - {""}
    present: list[str] = []
    for cat in lists.categories.values():
        if cat.usage == "white":
            allowed |= cat.domains
    for name in wanted:
        found = lists.categories.get(name)
        if found is None:
            continue
        present.append(name)
        if found.usage == "white":
            continue
        block |= found.domains
        addrs |= found.addresses
    block = minimise(block - allowed)
    return Profile(
        name=profile,
        block=frozenset(block),
        allow=frozenset(a for a in allowed if _covered(a, block)),
        addresses=frozenset(addrs),
        categories=tuple(present),
        missing=tuple(n for n in wanted if n not in lists.categories),
        safesearch=profile == "pmi",
    )


def _covered(name: str, blocked: set[str]) -> bool:
    labels = name.split(".")
    return any(".".join(labels[i:]) in blocked for i in range(len(labels)))


def render_dnsmasq(p: Profile) -> str:
    """The dnsmasq configuration of a profile: ``address=/name/`` answers NXDOMAIN for the
    name and its subdomains; allowed names under a blocked one go to the upstream servers
    (``server=/name/#``); forced SafeSearch answers the search engines with their strict front
    end.  Sorted, so the same lists always give the same file (idempotent deploys)."""
    out = [
        "# Relais content filter (generated by relais-blocklist; do not edit)",
        f"# profile: {p.name}; categories: {', '.join(p.categories) or '-'}",
        f"# blocked names: {len(p.block)}",
    ]
    out += [f"address=/{name}/" for name in sorted(p.block)]
    out += [f"server=/{name}/#" for name in sorted(p.allow)]
    if p.safesearch:
        for address, names in sorted(SAFESEARCH.items()):
            out += [f"address=/{name}/{address}" for name in names]
    return "\n".join(out) + "\n"


def render_nft_addresses(p: Profile, table: str = "relais_dnsfilter") -> str:
    """An nft script refilling the DoH address sets (IPv4 and IPv6) of ``table``."""
    v4 = sorted(a for a in p.addresses if ipaddress.ip_address(a).version == 4)
    v6 = sorted(a for a in p.addresses if ipaddress.ip_address(a).version == 6)
    lines = [f"flush set inet {table} doh_v4", f"flush set inet {table} doh_v6"]
    if v4:
        lines.append(f"add element inet {table} doh_v4 {{ {', '.join(v4)} }}")
    if v6:
        lines.append(f"add element inet {table} doh_v6 {{ {', '.join(v6)} }}")
    return "\n".join(lines) + "\n"


def _write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text("utf-8") == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    Path(tmp).chmod(0o644)
    Path(tmp).replace(path)
    return True


def build(lists_dir: Path, profile: str, dnsmasq_out: Path, nft_out: Path,
          extra: Sequence[str] = (), allow: Sequence[str] = ()) -> dict[str, object]:
    """Compose a profile from ``lists_dir`` and write its dnsmasq and nft files when they
    differ; returns a summary (``changed`` says whether a file was rewritten)."""
    p = compose(load_dir(lists_dir), profile, extra, allow)
    changed = _write_if_changed(dnsmasq_out, render_dnsmasq(p))
    changed = _write_if_changed(nft_out, render_nft_addresses(p)) or changed
    return {"changed": changed, "profile": p.name, "blocked": len(p.block),
            "addresses": len(p.addresses), "categories": list(p.categories),
            "missing": list(p.missing)}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="relais-blocklist", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="write the dnsmasq and nft files of a profile")
    b.add_argument("--lists", type=Path, required=True, help="directory of category dirs")
    b.add_argument("--profile", required=True, choices=sorted(PROFILES))
    b.add_argument("--dnsmasq", type=Path, required=True)
    b.add_argument("--nft", type=Path, required=True)
    b.add_argument("--extra", action="append", default=[], help="extra category to block")
    b.add_argument("--allow", action="append", default=[], help="name never blocked")
    c = sub.add_parser("counts", help="entries per category, as JSON")
    c.add_argument("source", type=Path)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "build":
            result: object = build(args.lists, args.profile, args.dnsmasq, args.nft,
                                   args.extra, args.allow)
        else:
            result = load(args.source).counts()
    except ListError as exc:
        print(f"relais-blocklist: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
