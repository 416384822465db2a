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

from fleet.errors import ChannelError, HandoffError, RefusedError, TransientError

# the hand-off's errors are declared in fleet/errors.py with all the others
__all__ = ["ChannelError", "HandoffError", "RefusedError", "TransientError", "scrub"]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (longest first)."""
    for value in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(value, "***")
    return text
