"""Layer 5: the SAV hand-off — incident changes delivered to GLPI (API v1 and v2) and by e-mail
to the site's SAV supplier, exactly once, from the outbox in the store.

* :mod:`fleet.handoff.config` — settings (``FLEET_GLPI_*``, ``FLEET_SMTP_*``, or the vault);
* :mod:`fleet.handoff.sender` — :func:`run_once`, one pass of the sender (CLI, poll daemon);
* :mod:`fleet.handoff.glpi` / :mod:`fleet.handoff.tickets` — the GLPI connectors and the
  idempotent delivery of one event; :mod:`fleet.handoff.mail` — SMTP with STARTTLS;
* :mod:`fleet.handoff.content` — the French texts (ticket, followups, e-mails).

The queue itself (tables, claims, leases) is :mod:`fleet.store.outbox`; events are queued by
:func:`fleet.incidents.lifecycle._event`, in the transaction that records them.
"""

from __future__ import annotations

from fleet.handoff.config import HandoffConfig, load_config
from fleet.handoff.errors import ChannelError, HandoffError, RefusedError, TransientError
from fleet.handoff.sender import RunReport, run_once

__all__ = [
    "ChannelError",
    "HandoffConfig",
    "HandoffError",
    "RefusedError",
    "RunReport",
    "TransientError",
    "load_config",
    "run_once",
]
