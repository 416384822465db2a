"""A real SMTP server on loopback for the e-mail hand-off tests: aiosmtpd, STARTTLS with a
self-signed certificate made for the test (SAN 127.0.0.1), AUTH required after STARTTLS.

The handler keeps every accepted message (raw bytes), whether it came over TLS and who logged
in.  Two hooks make the kill tests deterministic: ``hold_rcpt`` blocks the transaction at RCPT
(the message is not accepted: a sender killed there leaves nothing behind) and ``hold_data``
blocks after the whole message was received and kept, before the ``250`` reaches the client
(what a real MTA does: it has queued the message before it answers).  Each hook sets an event
when reached and waits for its release.  ``temp_fail_rcpt`` answers 451 to the next N RCPTs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOLD_LIMIT = 120.0


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relais-test-smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: str | None


@dataclass
class Handler:
    messages: list[Received] = field(default_factory=list)
    ehlos: int = 0
    temp_fail_rcpt: int = 0
    reject_rcpt: int = 0
    hold_rcpt: int = 0
    hold_data: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_EHLO(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self.ehlos += 1
        session.host_name = hostname
        return responses

    async def _hold(self) -> None:
        self.reached.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, HOLD_LIMIT)

    async def handle_RCPT(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.temp_fail_rcpt > 0:
            self.temp_fail_rcpt -= 1
            return "451 4.3.0 stand-by, try again later"
        if self.reject_rcpt > 0:
            self.reject_rcpt -= 1
            return "550 5.1.1 mailbox unknown"
        if self.hold_rcpt > 0:
            self.hold_rcpt -= 1
            await self._hold()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                bytes(envelope.original_content),
                session.ssl is not None,
                login,
            )
        )
        if self.hold_data > 0:
            self.hold_data -= 1
            await self._hold()
        return "250 2.0.0 queued"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class SmtpServer:
    controller: Controller
    handler: Handler
    cert: Path
    user: str
    password: str

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def stop(self) -> None:
        self.handler.release.set()
        self.controller.stop()


def start_smtp(
    directory: Path, *, user: str = "relais-smtp", password: str = "smtp-secret-4711", starttls: bool = True
) -> SmtpServer:
    """An SMTP server on 127.0.0.1: STARTTLS (unless ``starttls=False``), AUTH after TLS."""
    cert, key = make_cert(directory)
    handler = Handler()
    kwargs: dict[str, Any] = {}
    if starttls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(str(cert), str(key))

        def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and (
                (auth_data.login.decode(), auth_data.password.decode()) == (user, password)
            )
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        kwargs = {
            "tls_context": tls,
            "require_starttls": True,
            "auth_required": True,
            "auth_require_tls": True,
            "authenticator": check,
        }
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=_free_port(),
        server_hostname="relais-test",
        ready_timeout=30,
        **kwargs,
    )
    controller.start()
    return SmtpServer(controller, handler, cert, user, password)
