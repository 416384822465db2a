"""How a hand-off attempt can fail, and what the sender does about it.

* :class:`TransientError` — 5xx, timeout, connection refused, a temporary SMTP answer: the row
  stays pending and is tried again later (exponential backoff).
* :class:`RefusedError` — the remote said no to this change (4xx: bad input, missing right,
  unknown supplier, mailbox refused): the row is marked failed, its queue stops, and the reason
  is written on the incident for the hotline (``fleet handoff retry N`` once fixed).
* :class:`ChannelError` — the channel itself is unusable (credentials refused, a session
  rejected again right after a new one was opened, TLS failure): nothing is wrong with the
  incident, so its row stays pending (backoff) and the run stops using that channel.

Messages never carry a secret (the sender also scrubs them: :func:`scrub`).
"""

from __future__ import annotations

from collections.abc import Iterable

from fleet.errors import FleetError


class HandoffError(FleetError, RuntimeError):
    """Root of the hand-off's errors."""


class TransientError(HandoffError):
    """Try again later."""


class RefusedError(HandoffError):
    """The remote refused this change: stop and tell the hotline."""


class ChannelError(HandoffError):
    """The channel cannot be used right now (authentication, TLS...)."""


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (longest first)."""
    for value in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(value, "***")
    return text
