"""Layer 7: the hotline dashboard (issue 14) — FastAPI + Jinja2, server-rendered, usable
without JavaScript, French by default.

* :mod:`fleet.web.app` — :func:`create_app`, the routes, login and the checks on every action;
* :mod:`fleet.web.views` — what each page shows, from the engine's functions (the CLI's);
* :mod:`fleet.web.authz` — the permission matrix (role x action);
* :mod:`fleet.web.security` — trusted proxy, security headers, cookies, CSRF tokens;
* :mod:`fleet.web.mapsvg`, :mod:`fleet.web.charts` — the SVG map and health charts;
* :mod:`fleet.web.metrics` — ``GET /metrics``;

Users, sessions and the audit trail live in the store (:mod:`fleet.store.users`); ``fleet web``
and ``fleet users`` are in :mod:`fleet.cli.web` and :mod:`fleet.cli.users`.
"""

from __future__ import annotations

from fleet.web.app import create_app
from fleet.web.security import WebConfig

__all__ = ["WebConfig", "create_app"]
