"""Opening the store: errors a technician can read (one line, the database's own words)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from fleet.errors import StoreError
from fleet.store import Store
from fleet.store.models import Incident


def test_a_database_error_is_one_line_with_the_databases_first_line(store: Store) -> None:
    with store.write() as session:
        session.execute(text("DROP TABLE incident_events"))
        session.execute(text("DROP TABLE incidents"))
    with pytest.raises(StoreError) as caught, store.read() as session:
        session.execute(select(Incident)).all()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"store {store.safe_url}: ")
    wanted = {"sqlite": "no such table: incidents",
              "postgresql": 'relation "incidents" does not exist'}[store.dialect]
    assert message.endswith(wanted), message
    assert "[SQL:" not in message and "sqlalche.me" not in message


def test_a_failed_write_keeps_the_first_line_too(store: Store) -> None:
    with pytest.raises(StoreError) as caught, store.write() as session:
        session.execute(text("INSERT INTO no_such_table VALUES (1)"))
    assert "\n" not in str(caught.value) and "no_such_table" in str(caught.value)
