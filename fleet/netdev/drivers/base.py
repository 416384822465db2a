"""The one driver interface every vendor implements (NAPALM's pattern): render the intended
configuration, read the running one, push, back up, diff.

A :class:`Driver` is stateless vendor knowledge: its template, its :class:`~fleet.netdev.config.
Dialect`, what Relais manages on it (:meth:`Driver.scope`) and how a difference becomes
commands (:meth:`Driver.commands`).  A :class:`Session` is one open CLI connection; reading
(:meth:`Session.read_running`) never changes the device, the verbs that do say so
(:meth:`Session.push`, :meth:`Session.save`).
"""

from __future__ import annotations

import contextlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from ipaddress import IPv4Address
from typing import Any, ClassVar

import jinja2
from pydantic import SecretStr

from fleet.errors import NetdevError
from fleet.inventory.network import NetGear, Platform, SiteNetwork
from fleet.netdev.config import (
    MASK,
    Changes,
    Dialect,
    Line,
    Normalised,
    Scope,
    SectionDiff,
    mask_text,
    normalise,
    vlan_ranges,
)
from fleet.netdev.transport import (
    Connector,
    Endpoint,
    HostKeys,
    Timeouts,
    open_netmiko,
    translated,
)

Observer = Callable[[int, int, str], None]
"""Called after each pushed command: (number done, total, command)."""


def _quiet(_done: int, _total: int, _command: str) -> None:
    return None


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(  # noqa: S701 - configuration text, not HTML
        loader=jinja2.FunctionLoader(_template_source),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["vlan_ranges"] = vlan_ranges
    env.filters["secret"] = _secret
    return env


def _template_source(name: str) -> str:
    return files("fleet.netdev").joinpath("templates").joinpath(name).read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Rendered:
    """The intended configuration of one device: its text (secrets in clear: never print or
    store it; use :meth:`Driver.normalise` for what may be shown)."""

    hostname: str
    text: str


class Driver(ABC):
    platform: ClassVar[Platform]
    netmiko_type: ClassVar[str]
    template: ClassVar[str]
    dialect: ClassVar[Dialect]
    show_running: ClassVar[str] = "show running-config"
    save_command: ClassVar[str | None] = None
    config_mode: ClassVar[bool] = True
    error_patterns: ClassVar[tuple[re.Pattern[str], ...]] = ()
    """A pushed command's output matching one of these means the device refused it."""
    commit_to_apply: ClassVar[bool] = False
    """Pushed lines take effect only once saved (Aruba Instant's ``commit apply``): the engine
    saves right after a push, before reading back to verify."""

    # ------------------------------------------------------------------ render / compare

    def render(self, network: SiteNetwork, gear: NetGear) -> Rendered:
        """The intended configuration, in the form the device shows it back."""
        env = _environment()
        vlans = {v.role.value: v for v in network.vlans}
        text = env.get_template(self.template).render(
            net=network, gear=gear, vlans=vlans, ports=gear.ports,
            netmask=str(network.management.netmask),
            prefixlen=network.management.prefixlen,
            **self.template_context(network, gear),
        )
        return Rendered(gear.hostname, text)

    def template_context(self, network: SiteNetwork, gear: NetGear) -> dict[str, Any]:
        return {}

    def normalise(self, text: str) -> Normalised:
        return normalise(text, self.dialect)

    def masked(self, text: str) -> str:
        """The configuration as a backup keeps it: as the device showed it, secrets masked."""
        return mask_text(text, self.dialect)

    @abstractmethod
    def scope(self, intended: Normalised) -> Scope:
        """What Relais manages on this device, given the intended configuration."""

    def diff(self, target: Normalised, running: Normalised, scope: Scope) -> Changes:
        from fleet.netdev.config import diff

        return diff(target, running, scope, self.dialect.ordered)

    @abstractmethod
    def commands(self, changes: Changes, target: Normalised) -> list[str]:
        """The commands that make the running configuration become ``target`` (secrets in
        clear, from :attr:`Line.real`).  Never contains a masked value."""

    # ------------------------------------------------------------------ sessions

    def netmiko_options(self) -> dict[str, Any]:
        return {}

    def open(self, endpoint: Endpoint, connector: Connector, timeouts: Timeouts,
             host_keys: HostKeys | None = None) -> Session:
        """A session on the device; its SSH host key must be known (``host_keys``; default:
        ``~/.ssh/known_hosts``), else NetdevError before anything is sent."""
        conn = open_netmiko(endpoint, self.netmiko_type, connector, timeouts,
                            host_keys if host_keys is not None else HostKeys(),
                            **self.netmiko_options())
        session = Session(self, conn, endpoint, timeouts)
        try:
            with translated(endpoint, "preparing the session"):
                self.prepare(conn)
        except BaseException:
            session.close()
            raise
        return session

    def prepare(self, conn: Any) -> None:
        """After login (enable mode, paging already handled by netmiko)."""
        return

    def read(self, conn: Any, timeouts: Timeouts) -> str:
        # the prompt *at the end* of the output: a configuration names the device, so the bare
        # hostname netmiko waits for by default may match in the middle ("name test-ap1")
        prompt = rf"{re.escape(str(conn.base_prompt))}[^\n]*[>#]\s*$"
        out: str = conn.send_command(self.show_running, expect_string=prompt,
                                     read_timeout=timeouts.read)
        # a prompt fragment left in the channel can keep the command's echo in the output
        lines = out.splitlines()
        for i, line in enumerate(lines[:3]):
            if line.rstrip().endswith(self.show_running):
                return "\n".join(lines[i + 1:]) + "\n"
        return out

    def push_lines(self, conn: Any, commands: Sequence[str], timeouts: Timeouts,
                   observer: Observer, endpoint: Endpoint) -> None:
        """Send the commands one by one; stop at the first one the device refuses."""
        total = len(commands)
        if self.config_mode:
            with translated(endpoint, "entering configuration mode"):
                conn.config_mode()
        for i, command in enumerate(commands, 1):
            with translated(endpoint, f"pushing line {i}/{total}"):
                out = self.send_config_line(conn, command, timeouts)
            refused = self.refusal(out)
            if refused is not None:
                raise NetdevError(f"{endpoint.label}: the device refused line {i}/{total} "
                                  f"{_shown(command)!r}: {refused}", reason="rejected")
            observer(i, total, command)
        if self.config_mode:
            with translated(endpoint, "leaving configuration mode"):
                conn.exit_config_mode()
        with translated(endpoint, "reading the prompt after the push"):
            conn.set_base_prompt()  # a pushed hostname changes it

    def send_config_line(self, conn: Any, command: str, timeouts: Timeouts) -> str:
        out: str = conn.send_config_set([command], enter_config_mode=False, exit_config_mode=False,
                                        cmd_verify=True, read_timeout=timeouts.read)
        return out

    def refusal(self, output: str) -> str | None:
        for line in output.splitlines():
            if any(p.search(line) for p in self.error_patterns):
                return " ".join(line.split())[:160]
        return None

    def save(self, conn: Any, timeouts: Timeouts) -> None:
        if self.save_command:
            conn.send_command_timing(self.save_command, read_timeout=timeouts.read)


def _shown(command: str) -> str:
    """A command as it may be shown in a message (secrets masked)."""
    return re.sub(r"(?i)((?:secret|password|passphrase|key|community|auth \S+|priv \S+(?: \d+)?)"
                  r"[\s=]+)(\"[^\"]*\"|\S+)", rf"\1{MASK}", command)


class Session:
    """One open CLI session with a device."""

    def __init__(self, driver: Driver, conn: Any, endpoint: Endpoint, timeouts: Timeouts) -> None:
        self.driver = driver
        self.conn = conn
        self.endpoint = endpoint
        self.timeouts = timeouts

    def read_running(self) -> str:
        """The running configuration, as the device shows it (read-only)."""
        with translated(self.endpoint, "reading the running configuration"):
            return self.driver.read(self.conn, self.timeouts)

    def push(self, commands: Sequence[str], observer: Observer = _quiet) -> None:
        """Change the device: send ``commands`` (see :meth:`Driver.commands`)."""
        bad = [c for c in commands if MASK in c]
        if bad:
            raise NetdevError(f"{self.endpoint.label}: refusing to push a masked secret "
                              f"({bad[0]!r}): the clear value is not known", reason="masked")
        self.driver.push_lines(self.conn, commands, self.timeouts, observer, self.endpoint)

    def save(self) -> None:
        """Make the running configuration the startup one (where the vendor separates them)."""
        with translated(self.endpoint, "saving the configuration"):
            self.driver.save(self.conn, self.timeouts)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead connection: nothing left to do
            self.conn.disconnect()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# ------------------------------------------------------------ indented CLIs (IOS-like) ---


@dataclass(frozen=True)
class CliRules:
    """How a difference becomes commands on an indented CLI (IOS, ProCurve, Aruba Instant)."""

    priority: Callable[[str], int]
    """Order of sections in a push (lower first); removals run in the reverse order, last."""
    single_keys: tuple[str, ...] = ()
    """Child keys with one value: a new value replaces the old (no negation needed)."""
    top_single_keys: tuple[str, ...] = ()
    exit_word: str = "exit"
    negations: Mapping[str, str] | None = None
    """Child line → its negation when not ``no <line>`` (ProCurve ``disable`` → ``enable``)."""
    permanent: Callable[[str], bool] = lambda _header: False
    """Sections that cannot be removed (physical interfaces): their children are undone."""


def key_of(line: str, keys: Iterable[str]) -> str | None:
    best = None
    for k in keys:
        if (line == k or line.startswith(k + " ")) and (best is None or len(k) > len(best)):
            best = k
    return best


def negate(line: str, keys: Iterable[str], negations: Mapping[str, str] | None = None) -> str:
    if negations and line in negations:
        return negations[line]
    if line.startswith("no "):
        return line[3:]
    k = key_of(line, keys)
    return f"no {k}" if k is not None else f"no {line}"


def cli_commands(changes: Changes, rules: CliRules,
                 extra_after: Callable[[SectionDiff], list[str]] | None = None) -> list[str]:
    """Additions and changes by priority, then removals in reverse priority."""
    adds = sorted((c for c in changes if c.status != "removed"), key=lambda c: rules.priority(c.header.text))
    rems = sorted((c for c in changes if c.status == "removed"),
                  key=lambda c: -rules.priority(c.header.text))
    added_top_keys = {key_of(c.header.text, rules.top_single_keys) for c in adds
                      if not c.added and c.status == "added"} - {None}
    out: list[str] = []
    for ch in adds:
        out += block_commands(ch, rules)
        if extra_after is not None:
            out += extra_after(ch)
    for ch in rems:
        k = key_of(ch.header.text, rules.top_single_keys)
        if k is not None and k in added_top_keys:
            continue
        if rules.permanent(ch.header.text):
            out += block_commands(ch, rules)
            continue
        out.append(negate(ch.header.real, rules.top_single_keys))
    return out


def block_commands(ch: SectionDiff, rules: CliRules) -> list[str]:
    """One section's change: its header, the negations, the additions, the exit word."""
    if ch.status == "added" and not ch.added:
        return [ch.header.real]
    out = [ch.header.real]
    readded = {key_of(c.text, rules.single_keys) for c in ch.added} - {None}
    for c in ch.removed:
        k = key_of(c.text, rules.single_keys)
        if k is not None and k in readded:
            continue
        out.append(" " + negate(c.real, rules.single_keys, rules.negations))
    out += [" " + c.real for c in ch.added]
    out.append(rules.exit_word)
    return list(dict.fromkeys(out))  # "no untagged 3" undone and "untagged 3" added: once


def ip_of(value: IPv4Address | None) -> str:
    return str(value) if value is not None else ""


def section_keys(normalised: Normalised) -> list[str]:
    return list(normalised.sections)


def lines_matching(lines: Iterable[Line], pattern: re.Pattern[str]) -> list[Line]:
    return [ln for ln in lines if pattern.match(ln.text)]
