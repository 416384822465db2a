"""Lab tests: a real florac-fs site, up once per session (see fleet/lab/pytest_plugin.py)."""

from __future__ import annotations

