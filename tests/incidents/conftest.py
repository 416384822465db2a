"""Incident tests use the store fixtures (SQLite and a throwaway PostgreSQL)."""

from __future__ import annotations

from tests.store.conftest import pg_server, pg_template, store, store_url

__all__ = ["pg_server", "pg_template", "store", "store_url"]
