"""Incident tests use the store fixtures (SQLite and a throwaway PostgreSQL) and, for the
``lab`` ones, a real lab site (session fixture from fleet.lab.pytest_plugin)."""

from __future__ import annotations

from tests.store.conftest import pg_server, pg_template, store, store_url

__all__ = ["pg_server", "pg_template", "store", "store_url"]
