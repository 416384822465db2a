"""Incident tests use the store fixtures (SQLite and a throwaway PostgreSQL) and, for the
``lab`` ones, a real lab site (session fixture from fleet.lab.pytest_plugin)."""

from __future__ import annotations

from fleet.lab.pytest_plugin import lab_site
from tests.store.conftest import pg_server, pg_template, store, store_url

__all__ = ["lab_site", "pg_server", "pg_template", "store", "store_url"]
