"""Hand-off fixtures: the GLPI stand-in, a real SMTP server (aiosmtpd, STARTTLS) and the store
fixtures (SQLite, and a throwaway PostgreSQL for the two-sender test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.lab.glpi_standin import GlpiStandIn
from tests.handoff.samples import BORNE, SERIAL, SUPPLIER
from tests.handoff.smtp_server import SmtpServer, start_smtp
from tests.store.conftest import pg_server, pg_template, store, store_url

__all__ = ["glpi", "pg_server", "pg_template", "smtp", "store", "store_url"]


@pytest.fixture
def glpi() -> Iterator[GlpiStandIn]:
    """A GLPI stand-in that knows the site's supplier and the borne (by serial)."""
    standin = GlpiStandIn().start()
    standin.add_supplier("Another supplier")
    standin.add_supplier(SUPPLIER)
    standin.add_asset("Computer", "florac-fs-pc1", "PC-0001")
    standin.add_asset("Computer", BORNE.upper(), SERIAL)  # found by serial, whatever its name
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = start_smtp(tmp_path)
    try:
        yield server
    finally:
        server.stop()
