"""Lab tests: a real florac-fs site, up once per session (see fleet/lab/pytest_plugin.py)."""

from __future__ import annotations

from fleet.lab.pytest_plugin import lab_site  # noqa: F401  (session fixture)
