"""Sending the hand-off e-mails: SMTP, always upgraded with STARTTLS (stdlib ``smtplib``).

A server that does not offer STARTTLS, a certificate that does not verify or refused
credentials make the channel unusable (:class:`ChannelError`: nothing is sent in clear, the
row waits).  Temporary SMTP answers (4xx), timeouts and refused connections are transient; a
permanent refusal (5xx: unknown mailbox...) fails the row for the hotline.

Exactly once: the message of an event is always the same bytes (Message-ID derived from the
incident and the event, Date from the event), and the row is marked delivered as soon as the
server has accepted it.  SMTP cannot tell a client whether a message it sent before dying was
accepted: if the sender dies between the server's acceptance and that mark, the message is
sent again — identical, with the same Message-ID, which mail clients and servers use to drop
the copy.  A sender killed at any earlier point (connection, envelope, data not finished)
leaves no message behind and the next run sends it once.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage

from fleet.handoff.config import SmtpConfig
from fleet.handoff.errors import ChannelError, RefusedError, TransientError

SmtpFactory = Callable[..., smtplib.SMTP]


def tls_context(cfg: SmtpConfig) -> ssl.SSLContext:
    """Certificate and host name verified; the system's CAs, or ``smtp_ca_file``."""
    return ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)


def _code_error(code: int, what: str) -> Exception:
    return TransientError(what) if 400 <= code < 500 else RefusedError(what)


def send_message(
    cfg: SmtpConfig,
    msg: EmailMessage,
    *,
    context: ssl.SSLContext | None = None,
    factory: SmtpFactory = smtplib.SMTP,
) -> None:
    """Send one message (its own connection: hand-off e-mails are few)."""
    where = f"SMTP {cfg.host}:{cfg.port}"
    try:
        with factory(cfg.host, cfg.port, timeout=cfg.timeout) as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise ChannelError(f"{where} does not offer STARTTLS: nothing is sent in clear")
            smtp.starttls(context=context or tls_context(cfg))
            smtp.ehlo()
            if cfg.user:
                assert cfg.password is not None  # load_config
                smtp.login(cfg.user, cfg.password.get_secret_value())
            smtp.send_message(msg)
    except (ChannelError, TransientError, RefusedError):
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise ChannelError(f"{where}: login refused ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        code, raw = next(iter(exc.recipients.values()))
        said = raw.decode(errors="replace")
        raise _code_error(code, f"{where}: recipient refused: {code} {said}") from None
    except smtplib.SMTPResponseException as exc:
        raw_error = exc.smtp_error
        said = raw_error.decode(errors="replace") if isinstance(raw_error, bytes) else str(raw_error)
        raise _code_error(exc.smtp_code, f"{where}: {exc.smtp_code} {said}") from None
    except ssl.SSLError as exc:
        raise ChannelError(f"{where}: TLS failed ({exc.__class__.__name__}: {exc.reason})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientError(f"{where}: {exc.__class__.__name__}: {exc}") from None
