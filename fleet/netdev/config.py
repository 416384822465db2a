"""Device configurations as data: parse, normalise, compare — without noise.

A configuration (the text a device shows, or the text a template renders) is read into
**sections**: a top-level line and the lines indented under it (IOS ``interface Fa0/3`` and its
``switchport ...``; RouterOS ``/interface vlan`` and its ``add ...`` items).  Normalising then

* drops volatile lines (IOS ``Current configuration : 1234 bytes``, ``! Last configuration
  change at ...``, ``ntp clock-period ...``; ProCurve ``; J9773A Configuration Editor...``;
  RouterOS ``# 2027-01-05 10:00:00 by RouterOS 7.13``) and comments;
* masks secrets (passwords, SNMP communities and keys, WPA passphrases) as ``<secret>`` —
  what is compared, shown and stored never holds a secret, while the clear value stays beside
  it (:attr:`Line.real`) for the commands a push needs;
* canonicalises lines whose spelling varies but whose meaning does not (VLAN lists written
  ``10,20,30-32`` or split over ``... allowed vlan add`` lines);
* orders each section's lines, except where the vendor's order matters (a dialect says which).

Two normalised configurations are then compared section by section (:func:`diff`), within a
**scope**: what Relais manages (the intent) or everything (a backup).  The comparison is what
``plan``, ``apply``'s verification, ``drift`` and the backup history share.

Vendor specifics are data in a :class:`Dialect`; the drivers (:mod:`fleet.netdev.drivers`)
declare theirs.  Nothing here talks to a device.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

MASK = "<secret>"


@dataclass(frozen=True, slots=True)
class Line:
    """One normalised line: ``text`` is compared and shown (secrets masked), ``real`` is what
    the device needs (secrets in clear; equal to ``text`` when the line holds none)."""

    text: str
    real: str = field(compare=False, hash=False, repr=False)

    @property
    def has_secret(self) -> bool:
        return MASK in self.text


@dataclass(frozen=True, slots=True)
class Section:
    header: Line
    children: tuple[Line, ...] = ()

    @property
    def key(self) -> str:
        return self.header.text


@dataclass(frozen=True, slots=True)
class Normalised:
    """A configuration, normalised: sections by header text (in the device's order of first
    appearance), plus the intent's write-only lines (that a device never shows back)."""

    sections: Mapping[str, Section]
    write_only: tuple[Line, ...] = ()

    def text(self) -> str:
        """Canonical text (masked): what is diffed for display and digested for history."""
        out: list[str] = []
        for key in sorted(self.sections, key=natural):
            sec = self.sections[key]
            out.append(sec.header.text)
            out += [" " + c.text for c in sec.children]
        return "\n".join(out) + ("\n" if out else "")

    def digest(self) -> str:
        return hashlib.sha256(self.text().encode()).hexdigest()

    def __len__(self) -> int:
        return sum(1 + len(s.children) for s in self.sections.values())


Substitution = tuple[re.Pattern[str], str]


def _never(_header: str) -> bool:
    return False


def _same(_header: str, children: list[Line]) -> list[Line]:
    return children


@dataclass(frozen=True)
class Dialect:
    """How one vendor writes its configuration."""

    name: str
    comment: re.Pattern[str] = re.compile(r"^\s*!")
    volatile: tuple[re.Pattern[str], ...] = ()
    """Lines dropped wherever they are (after comments; matched against the stripped line)."""
    secrets: tuple[Substitution, ...] = ()
    """(pattern, replacement) applied to each stripped line; the replacement writes MASK."""
    skip: tuple[re.Pattern[str], ...] = ()
    """Block terminators and noise that carry no configuration (``end``, ``exit``)."""
    ordered: Callable[[str], bool] = _never
    """Whether the children order of the section with this header matters."""
    canon_children: Callable[[str, list[Line]], list[Line]] = _same
    """Rewrite a section's children into their canonical spelling."""
    write_only: tuple[re.Pattern[str], ...] = ()
    """Top-level lines the device accepts but never shows (IOS ``snmp-server user``)."""
    continuation: str | None = None
    """A line ending with this continues on the next one (RouterOS ``\\``)."""
    path_headers: bool = False
    """Headers are RouterOS paths (``/interface vlan``): every non-``/`` line is a child."""
    section_secrets: tuple[tuple[re.Pattern[str], tuple[Substitution, ...]], ...] = ()
    """Secrets that depend on the section (RouterOS ``/snmp community``: the ``name`` is the
    community): (header pattern, substitutions for its children)."""


# ----------------------------------------------------------------------------- parse ---


def _clean(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # ANSI escape sequences
    return [ln.rstrip() for ln in text.split("\n")]


def _mask(dialect: Dialect, line: str, header: str | None = None) -> str:
    for pattern, repl in dialect.secrets:
        line = pattern.sub(repl, line)
    if header is not None:
        for hp, subs in dialect.section_secrets:
            if hp.match(header):
                for pattern, repl in subs:
                    line = pattern.sub(repl, line)
    return line


def _join(raw: list[str], dialect: Dialect) -> list[str]:
    """Continued lines joined: ``key=\\<newline>    value`` → ``key=value`` (the backslash,
    the line break and the next line's indentation go; a space, if any, was written before the
    backslash)."""
    if dialect.continuation is None:
        return raw
    joined: list[str] = []
    buf: str | None = None
    for ln in raw:
        part = ln if buf is None else ln.lstrip()
        if part.endswith(dialect.continuation):
            buf = (buf or "") + part[: -len(dialect.continuation)]
            continue
        joined.append(part if buf is None else buf + part)
        buf = None
    if buf is not None:
        joined.append(buf)
    return joined


def mask_text(text: str, dialect: Dialect) -> str:
    """The configuration as the device showed it, secrets masked, layout kept (continued lines
    joined, so no secret is split across two): what a backup stores."""
    out: list[str] = []
    header: str | None = None
    for ln in _join(_clean(text), dialect):
        body = ln.strip()
        top = body.startswith("/") if dialect.path_headers else (bool(body) and not ln[:1].isspace())
        masked = _mask(dialect, body, None if top else header)
        if top:
            header = masked
        indent = ln[: len(ln) - len(ln.lstrip())]
        out.append(indent + masked)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def normalise(text: str, dialect: Dialect) -> Normalised:
    """Parse and normalise a configuration text (see the module docstring)."""
    raw = _join(_clean(text), dialect)
    order: list[str] = []
    headers: dict[str, Line] = {}
    children: dict[str, list[Line]] = {}
    write_only: list[Line] = []
    current: str | None = None
    for ln in raw:
        if not ln.strip() or dialect.comment.match(ln):
            continue
        stripped = re.sub(r"\s+", " ", ln.strip())
        if any(p.match(stripped) for p in dialect.volatile):
            continue
        if any(p.fullmatch(stripped) for p in dialect.skip):
            continue
        top = stripped.startswith("/") if dialect.path_headers else not ln[:1].isspace()
        line = Line(_mask(dialect, stripped, None if top else current), stripped)
        if top:
            if not dialect.path_headers and any(p.match(stripped) for p in dialect.write_only):
                write_only.append(line)
                current = None
                continue
            current = line.text
            if current not in headers:
                order.append(current)
                headers[current] = line
                children[current] = []
            continue
        if current is None:
            if dialect.path_headers:
                continue  # an item before any path: not a configuration line
            # an indented line with no header above it: keep it as its own section
            order.append(line.text)
            headers[line.text] = line
            children[line.text] = []
            continue
        children[current].append(line)
    sections: dict[str, Section] = {}
    for key in order:
        kids = dialect.canon_children(key, children[key])
        if not dialect.ordered(key):
            kids = sorted(set(kids), key=lambda c: c.text)
        sections[key] = Section(headers[key], tuple(kids))
    return Normalised(sections, tuple(write_only))


def canonical_text(text: str, dialect: Dialect) -> str:
    return normalise(text, dialect).text()


# ------------------------------------------------------------------------------ diff ---


@dataclass(frozen=True, slots=True)
class Scope:
    """What a comparison looks at, beyond the target's own sections: running sections and
    children outside the scope are ignored (the device's own defaults, what Relais does not
    manage).  ``everything`` compares all (a backup against the running configuration)."""

    sections: Callable[[str], bool]
    children: Callable[[str, str], bool]

    @staticmethod
    def everything() -> Scope:
        return Scope(lambda _h: True, lambda _h, _c: True)


@dataclass(frozen=True, slots=True)
class SectionDiff:
    header: Line
    status: Literal["added", "removed", "changed"]
    added: tuple[Line, ...] = ()
    removed: tuple[Line, ...] = ()

    def lines(self) -> list[str]:
        """The change as ``+``/``-`` lines, header first (masked)."""
        if self.status == "added":
            return [f"+ {self.header.text}", *(f"+   {c.text}" for c in self.added)]
        if self.status == "removed":
            return [f"- {self.header.text}", *(f"-   {c.text}" for c in self.removed)]
        return [f"  {self.header.text}", *(f"-   {c.text}" for c in self.removed),
                *(f"+   {c.text}" for c in self.added)]


Changes = tuple[SectionDiff, ...]


def diff(target: Normalised, running: Normalised, scope: Scope, ordered: Callable[[str], bool] = _never,
         ) -> Changes:
    """What must change for ``running`` to become ``target`` (within ``scope``)."""
    out: list[SectionDiff] = []
    for key, want in target.sections.items():
        have = running.sections.get(key)
        if have is None:
            out.append(SectionDiff(want.header, "added", added=want.children))
            continue
        mine = {c.text for c in want.children}
        theirs = {c.text for c in have.children}
        if ordered(key):
            kept = [c for c in have.children if c.text in mine or scope.children(key, c.text)]
            if [c.text for c in kept] != [c.text for c in want.children]:
                out.append(SectionDiff(want.header, "changed", added=want.children,
                                       removed=tuple(kept)))
            continue
        added = tuple(c for c in want.children if c.text not in theirs)
        removed = tuple(c for c in have.children
                        if c.text not in mine and scope.children(key, c.text))
        if added or removed:
            out.append(SectionDiff(want.header, "changed", added=added, removed=removed))
    for key, have in running.sections.items():
        if key not in target.sections and scope.sections(key):
            out.append(SectionDiff(have.header, "removed",
                                   removed=tuple(c for c in have.children if scope.children(key, c.text))))
    return tuple(out)


def diff_text(changes: Sequence[SectionDiff]) -> str:
    """The changes as text, one ``+``/``-`` line per configuration line (secrets masked)."""
    return "\n".join(ln for ch in changes for ln in ch.lines())


def count(changes: Iterable[SectionDiff]) -> int:
    """Number of configuration lines added or removed."""
    n = 0
    for ch in changes:
        n += len(ch.added) + len(ch.removed) + (1 if ch.status != "changed" else 0)
    return n


# ------------------------------------------------------------------- small helpers ---


def natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: ``FastEthernet0/2`` before ``FastEthernet0/10``."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", text))


def invert(changes: Sequence[SectionDiff]) -> Changes:
    """The same differences seen from the other side (what the device has that the reference
    has not): used to show drift as ``- expected / + found``."""
    flip = {"added": "removed", "removed": "added", "changed": "changed"}
    return tuple(SectionDiff(c.header, flip[c.status], added=c.removed, removed=c.added)  # type: ignore[arg-type]
                 for c in changes)


def vlan_set(text: str) -> list[int]:
    """``10,20,30-32`` → [10, 20, 30, 31, 32] (``none`` → [])."""
    out: set[int] = set()
    text = text.strip()
    if text in ("", "none"):
        return []
    for raw in text.split(","):
        part = raw.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            out.update(range(int(a), int(b) + 1))
        elif part:
            out.add(int(part))
    return sorted(out)


def vlan_ranges(values: Iterable[int], min_run: int = 3) -> str:
    """[10, 20, 30, 31, 32] → ``10,20,30-32``: runs of ``min_run`` or more become ranges."""
    vals = sorted(set(values))
    if not vals:
        return "none"
    runs: list[list[int]] = [[vals[0]]]
    for v in vals[1:]:
        if v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    parts: list[str] = []
    for r in runs:
        if len(r) >= min_run:
            parts.append(f"{r[0]}-{r[-1]}")
        else:
            parts += [str(v) for v in r]
    return ",".join(parts)


def substitutions(pairs: Sequence[tuple[str, str]]) -> tuple[Substitution, ...]:
    return tuple((re.compile(p), r) for p, r in pairs)


def patterns(texts: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(t) for t in texts)
