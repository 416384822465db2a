"""A stand-in SSH server that replays a vendor CLI from a named transcript.

Stand-in for the vendors no simulator exists for here (ArubaOS-Switch, Aruba Instant,
RouterOS): a paramiko SSH server on 127.0.0.1 that plays the device's side of a CLI session as
written in ``transcripts/<platform>/session.yml`` — login banner, prompts (with the VT100 codes
ProCurve sends), paging commands, configuration mode and its sub-modes, the answers to ``show``
commands, and the configuration lines the device refuses.  It echoes what is typed like a real
terminal, records every line received, and answers ``show`` commands from successive files:
after configuration lines were accepted, the next ``show`` gets the next answer (the device's
configuration after the push).  Failure modes: ``no_prompt`` (a device that never shows a
prompt), and :class:`SilentServer` (accepts TCP, never speaks SSH).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
import yaml

from tests.listeners import stop

HERE = Path(__file__).resolve().parent
TRANSCRIPTS = HERE / "transcripts"
_HOST_KEY: list[paramiko.RSAKey] = []


def host_key() -> paramiko.RSAKey:
    if not _HOST_KEY:
        _HOST_KEY.append(paramiko.RSAKey.generate(1024))
    return _HOST_KEY[0]


@dataclass
class Transcript:
    platform: str
    folder: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, platform: str) -> Transcript:
        folder = TRANSCRIPTS / platform
        data = yaml.safe_load((folder / "session.yml").read_text(encoding="utf-8"))
        return cls(platform, folder, data)

    def file(self, name: str) -> str:
        return (self.folder / name).read_text(encoding="utf-8")

    def answers(self, command: str, scenario: str | None) -> list[str] | None:
        table = dict(self.data.get("responses", {}))
        if scenario:
            table.update(self.data.get("scenarios", {}).get(scenario, {}))
        value = table.get(command)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        return [self.file(v[1:]) if isinstance(v, str) and v.startswith("@") else str(v or "")
                for v in items]


@dataclass
class Log:
    """What the server received, for the tests' assertions."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    def config_lines(self) -> list[str]:
        return [ln for mode, ln in self.lines if mode == "config"]


class _Iface(paramiko.ServerInterface):
    def __init__(self, server: ReplayServer) -> None:
        self.server = server
        self.shell = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        suffix = self.server.transcript.data.get("username_suffix", "")
        if suffix and username.endswith(suffix):
            username = username[: -len(suffix)]
        self.server.log.logins.append(username)
        if username == self.server.username and password == self.server.password:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else \
            paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *_args: Any) -> bool:
        return True

    def check_channel_shell_request(self, channel: Any) -> bool:
        self.shell.set()
        return True


class ReplayServer:
    """Serve one transcript on 127.0.0.1 (a free port) until :meth:`close`."""

    def __init__(self, platform: str, *, username: str = "relais", password: str = "replay-pass",
                 scenario: str | None = None, mode: str = "normal") -> None:
        self.transcript = Transcript.load(platform)
        self.username = username
        self.password = password
        self.scenario = scenario
        self.mode = mode
        self.log = Log()
        self.generation = 0
        self._dirty = False
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.host, self.port = self._sock.getsockname()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._transports: list[paramiko.Transport] = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    # ------------------------------------------------------------------ server plumbing
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        self._transports.append(transport)
        transport.add_server_key(host_key())
        iface = _Iface(self)
        try:
            transport.start_server(server=iface)
            chan = transport.accept(20)
            if chan is None or not iface.shell.wait(10):
                return
            _Shell(self, chan).run()
        except (EOFError, OSError, paramiko.SSHException):
            return
        finally:
            with contextlib.suppress(Exception):
                transport.close()

    def wait_idle(self, timeout: float = 20.0) -> None:
        """Wait until every session served so far has ended (its last line, a ``logout`` the
        client sent while closing, is then in the log)."""
        for t in list(self._threads[1:]):
            t.join(timeout)
            if t.is_alive():
                raise TimeoutError(f"a replayed session still open after {timeout:.0f} s")

    def close(self) -> None:
        self._stop.set()
        stop(self._sock, self._threads[0])  # the accept loop ends before its fd is freed
        for t in self._transports:
            with contextlib.suppress(Exception):
                t.close()

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ state
    def answer(self, command: str) -> str | None:
        answers = self.transcript.answers(command, self.scenario)
        if answers is None:
            return None
        if len(answers) == 1:
            return answers[0]
        with self._lock:
            if self._dirty:
                self.generation += 1
            self._dirty = False
            return answers[min(self.generation, len(answers) - 1)]

    def accepted(self, line: str) -> None:
        with self._lock:
            self.log.lines.append(("config", line))
            self._dirty = True


class _Shell:
    """One interactive session: echo, prompts, modes, answers."""

    def __init__(self, server: ReplayServer, chan: paramiko.Channel) -> None:
        self.server = server
        self.t = server.transcript.data
        self.chan = chan
        self.stack: list[str] = []  # config sub-mode prompts; empty = enable mode
        self.in_config = False
        self.logging_out = False

    def send(self, text: str) -> None:
        self.chan.sendall(text.replace("\r\n", "\n").replace("\n", "\r\n").encode())

    def prompt(self) -> str:
        if self.server.mode == "no_prompt":
            return "User Name: "
        if not self.in_config:
            p = str(self.t["prompt"])
        elif self.stack:
            p = self.stack[-1]
        else:
            p = str(self.t["config"]["prompt"])
        return (str(self.t.get("prompt_prefix", "")) + p)

    def run(self) -> None:
        banner = str(self.t.get("banner", ""))
        if banner:
            self.send(banner)
        if self.t.get("press_any_key"):
            self.send("Press any key to continue")
            self.chan.recv(1)
            self.send("\n")
        if self.server.mode == "no_prompt":
            self.send(str(self.t["prompt"]) + "\n")  # once, as a menu would: then never again
        else:
            self.send(self.prompt())
        buf = ""
        last_cr = False
        while True:
            data = self.chan.recv(4096)
            if not data:
                return
            for ch in data.decode(errors="replace"):
                if ch == "\n" and last_cr:
                    last_cr = False
                    continue
                last_cr = ch == "\r"
                if ch in "\r\n":
                    self.send("\n")
                    line, buf = buf, ""
                    if self.handle(line.strip()) is False:
                        self.chan.close()
                        return
                    continue
                buf += ch
                self.send(ch)

    def handle(self, line: str) -> bool:
        log = self.server.log.lines
        if self.server.mode == "no_prompt":
            log.append(("login", line))
            self.send(self.prompt())
            return True
        config = self.t.get("config") or {}
        if self.logging_out:
            return not line.lower().startswith("y")
        if not self.in_config:
            log.append(("enable", line))
            if line == "logout" and self.t.get("logout_question"):
                self.logging_out = True
                self.send(str(self.t["logout_question"]))
                return True
            if line in ("exit", "logout", "quit"):
                return False
            if line and line in config.get("enter", []):
                self.in_config = True
                self.stack = []
                self.send(str(config.get("enter_message", "")))
                self.send(self.prompt())
                return True
            refused = any(re.search(p, line) for p in self.t.get("refuse") or {})
            if line and self.t.get("direct_config") and (line.startswith("/") or refused) \
                    and self.server.transcript.answers(line, self.server.scenario) is None:
                return self.configure(line)
            if line:
                out = self.server.answer(line)
                if out is None:
                    out = str(self.t.get("unknown", "Invalid input: {line}")).format(line=line) + "\n"
                self.send(out if out.endswith("\n") or not out else out + "\n")
            self.send(self.prompt())
            return True
        if line in config.get("leave", ["end"]):
            log.append(("mode", line))
            self.in_config = False
            self.stack = []
            self.send(self.prompt())
            return True
        if line == config.get("exit", "exit"):
            log.append(("mode", line))
            if self.stack:
                self.stack.pop()
            else:
                self.in_config = False
            self.send(self.prompt())
            return True
        return self.configure(line)

    def configure(self, line: str) -> bool:
        if not line:
            self.send(self.prompt())
            return True
        for pattern, message in (self.t.get("refuse") or {}).items():
            if re.search(pattern, line):
                self.server.log.lines.append(("refused", line))
                self.send(str(message).format(line=line) + "\n")
                self.send(self.prompt())
                return True
        self.server.accepted(line)
        for sub in (self.t.get("config") or {}).get("submodes", []):
            m = re.match(sub["match"], line)
            if m:
                if self.stack and sub.get("flat", True):
                    self.stack.pop()
                self.stack.append(m.expand(sub["prompt"]))
                break
        self.send(self.prompt())
        return True


class SilentServer:
    """Accepts TCP connections and never says anything (a device that hangs before SSH)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.host, self.port = self._sock.getsockname()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)

    def close(self) -> None:
        stop(self._sock, self._thread)
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def closed_port() -> int:
    """A local port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port
