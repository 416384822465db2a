"""Dashboard users, sessions and the audit trail on SQLite and PostgreSQL (one contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.store import Store
from fleet.store.users import (
    IDLE,
    MAX_AGE,
    MAX_FAILURES,
    LoginRefused,
    LoginThrottled,
    UserError,
    authenticate,
    create_user,
    end_session,
    list_audit,
    new_session,
    purge_sessions,
    record_audit,
    session_of,
    set_disabled,
    set_password,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PW = "a long enough password"


def test_passwords_are_argon2_hashes_and_never_stored_in_clear(store: Store) -> None:
    create_user(store, "alice", "hotline", PW, T0)
    with store.read() as session:
        from sqlalchemy import text

        stored = session.execute(text("SELECT password_hash FROM web_users")).scalar_one()
    assert stored.startswith("$argon2id$") and PW not in stored
    assert authenticate(store, "alice", PW, address="a", at=T0).name == "alice"
    with pytest.raises(LoginRefused):
        authenticate(store, "alice", PW + "x", address="a", at=T0)
    with pytest.raises(LoginRefused):
        authenticate(store, "nobody", PW, address="a", at=T0)
    with pytest.raises(UserError, match="already exists"):
        create_user(store, "alice", "admin", PW, T0)


def test_sessions_expire_idle_and_absolute_and_store_only_a_digest(store: Store) -> None:
    user = create_user(store, "bob", "technician", PW, T0)
    token, csrf = new_session(store, user, at=T0)
    with store.read() as session:
        from sqlalchemy import text

        keys = session.execute(text("SELECT token_hash, csrf FROM web_sessions")).all()
    assert [k[1] for k in keys] == [csrf] and token not in keys[0][0]
    assert session_of(store, token, at=T0 + IDLE - timedelta(seconds=1)) is not None
    assert (
        session_of(store, token, at=T0 + IDLE * 2 - timedelta(seconds=2)) is not None
    )  # touched: still alive
    assert session_of(store, token, at=T0 + IDLE * 4) is None  # idle too long, and now gone
    token, _ = new_session(store, user, at=T0)
    at = T0
    while at + timedelta(minutes=30) < T0 + MAX_AGE:  # active all day...
        at += timedelta(minutes=30)
        assert session_of(store, token, at=at) is not None
    assert session_of(store, token, at=T0 + MAX_AGE) is None  # ...but not past the absolute limit
    token, _ = new_session(store, user, at=T0)
    end_session(store, token)
    assert session_of(store, token, at=T0) is None


def test_password_change_and_disable_end_sessions(store: Store) -> None:
    user = create_user(store, "carol", "admin", PW, T0)
    token, _ = new_session(store, user, at=T0)
    set_password(store, "carol", "another long password", T0)
    assert session_of(store, token, at=T0) is None
    token, _ = new_session(store, user, at=T0)
    set_disabled(store, "carol")
    assert session_of(store, token, at=T0) is None
    with pytest.raises(LoginRefused):
        authenticate(store, "carol", "another long password", address="a", at=T0)
    set_disabled(store, "carol", False)
    assert authenticate(store, "carol", "another long password", address="a", at=T0).name == "carol"


def test_throttling_by_name_and_recovery(store: Store) -> None:
    create_user(store, "dave", "hotline", PW, T0)
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginRefused):
            authenticate(store, "dave", "wrong", address="b", at=T0)
    with pytest.raises(LoginThrottled):
        authenticate(store, "dave", PW, address="c", at=T0 + timedelta(minutes=1))
    assert authenticate(store, "dave", PW, address="c", at=T0 + timedelta(minutes=16)).name == "dave"
    assert purge_sessions(store, at=T0 + timedelta(days=1)) == 0


def test_audit_trail_pages(store: Store) -> None:
    for k in range(5):
        record_audit(
            store, at=T0 + timedelta(seconds=k), user="eve", role="hotline", action=f"a{k}", target="t"
        )
    first = list_audit(store, limit=3)
    assert [a.action for a in first] == ["a4", "a3", "a2"]
    assert [a.action for a in list_audit(store, limit=3, before=first[-1].id)] == ["a1", "a0"]
