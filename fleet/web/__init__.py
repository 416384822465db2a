"""Layer 7: the web faces.  On this branch only the hall screen's public page
(:mod:`fleet.web.screen`, issue 17); the hotline dashboard (issue 14) mounts the same router
with one line."""

from __future__ import annotations

from fleet.web.screen import screen_router

__all__ = ["screen_router"]
