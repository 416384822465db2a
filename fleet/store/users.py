"""Dashboard users, their sessions, login throttling and the audit trail (issue 14).

Tables and queries only; the web (:mod:`fleet.web`) and ``fleet users`` (:mod:`fleet.cli.users`)
both call these functions, so the two faces manage one set of accounts.

* ``web_users``: a name, a role (:data:`ROLES`), an argon2id password hash (argon2-cffi), a
  disabled flag.  Passwords never leave this module in any other form.
* ``web_sessions``: server-side sessions.  The browser holds a random token; the store keeps
  only its SHA-256, so a copy of the database gives no session.  A session expires after
  ``idle`` without a request and after ``max_age`` in any case; logging in always creates a
  new one (no session fixation); disabling a user or changing a password ends their sessions.
  Each session carries its CSRF token.
* ``web_login_failures``: failed logins, by name and by address, for throttling
  (:func:`authenticate` refuses without even checking the password past :data:`MAX_FAILURES`
  per name or :data:`MAX_FAILURES_PER_ADDRESS` per address in :data:`THROTTLE_WINDOW`).
* ``web_audit``: who did what from the dashboard, when, from where (append-only).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from fleet.errors import (
    LoginRefused,
    LoginThrottled,
    UserError,
)
from fleet.store.db import Store
from fleet.store.models import Base

#: Roles, from the least to the most trusted (what each may do: fleet/permissions.yml).
ROLES = ("auditor", "technician", "hotline", "admin")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_FAILURES = 5
MAX_FAILURES_PER_ADDRESS = 30
THROTTLE_WINDOW = timedelta(minutes=15)
IDLE = timedelta(hours=1)
MAX_AGE = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)
"""A session's last-seen time is written at most this often (reads stay reads)."""


class WebUser(Base):
    __tablename__ = "web_users"
    __table_args__ = (
        CheckConstraint("role IN ('technician', 'hotline', 'auditor', 'admin')", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class WebSession(Base):
    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    address: Mapped[str] = mapped_column(String(64), default="")


class WebLoginFailure(Base):
    __tablename__ = "web_login_failures"
    __table_args__ = (Index(None, "name", "at"), Index(None, "address", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class WebAudit(Base):
    __tablename__ = "web_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(160), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    address: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    name: str
    role: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


@dataclass(frozen=True, slots=True)
class SessionView:
    user: UserView
    csrf: str
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    user: str
    role: str
    action: str
    target: str
    outcome: str
    address: str
    text: str
    detail: Mapping[str, Any]


def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, the library's current recommended parameters


def _user(row: WebUser) -> UserView:
    return UserView(row.id, row.name, row.role, row.disabled, row.created_at, row.last_login_at)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > 64 or not all(c.isalnum() or c in "-_.@" for c in clean):
        raise UserError(f"user name {name!r}: 1 to 64 letters, digits, '-', '_', '.', '@'")
    return clean


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r}: unknown (use one of: {', '.join(sorted(ROLES))})")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"password: at most {MAX_PASSWORD} characters")
    return password


def create_user(store: Store, name: str, role: str, password: str, at: datetime) -> UserView:
    name, role, password = check_name(name), check_role(role), check_password(password)
    digest = _hasher().hash(password)
    with store.write() as session:
        if session.scalars(select(WebUser).where(WebUser.name == name)).first() is not None:
            raise UserError(f"user {name!r} already exists (fleet users passwd {name} changes the password)")
        row = WebUser(name=name, role=role, password_hash=digest, disabled=False, created_at=at,
                      password_changed_at=at, last_login_at=None)  # fmt: skip
        session.add(row)
        session.flush()
        return _user(row)


def _by_name(session: Any, name: str) -> WebUser:
    row: WebUser | None = session.scalars(select(WebUser).where(WebUser.name == name)).first()
    if row is None:
        raise UserError(f"user {name!r} does not exist")
    return row


def list_users(store: Store) -> list[UserView]:
    with store.read() as session:
        return [_user(r) for r in session.scalars(select(WebUser).order_by(WebUser.name))]


def get_user(store: Store, name: str) -> UserView:
    with store.read() as session:
        return _user(_by_name(session, name))


def set_disabled(store: Store, name: str, disabled: bool = True) -> UserView:
    """Disable (or enable again) an account; disabling ends its sessions at once."""
    with store.write() as session:
        row = _by_name(session, name)
        row.disabled = disabled
        if disabled:
            session.execute(delete(WebSession).where(WebSession.user_id == row.id))
        return _user(row)


def set_password(store: Store, name: str, password: str, at: datetime) -> UserView:
    """A new password; every session of the user ends."""
    digest = _hasher().hash(check_password(password))
    with store.write() as session:
        row = _by_name(session, name)
        row.password_hash = digest
        row.password_changed_at = at
        session.execute(delete(WebSession).where(WebSession.user_id == row.id))
        return _user(row)


DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$j+wIycAmmtBhzg+UQ2tT/A$1FWgxn8ONIdWPDvvwGJCKLrWHELpecAigOfs/S3xUOc"
)
"""Verified against when the name is unknown (the same work: no oracle of which names exist);
the hash of a random password thrown away when it was made."""


def authenticate(store: Store, name: str, password: str, *, address: str, at: datetime) -> UserView:
    """The user, when the name and password are right and the account is enabled; else
    :class:`LoginRefused` (or :class:`LoginThrottled` when too many attempts failed lately)."""
    name = name.strip()[:64]
    since = at - THROTTLE_WINDOW
    with store.read() as session:
        by_name = session.scalar(
            select(func.count()).select_from(WebLoginFailure).where(
                WebLoginFailure.name == name, WebLoginFailure.at > since)
        ) or 0  # fmt: skip
        by_address = session.scalar(
            select(func.count()).select_from(WebLoginFailure).where(
                WebLoginFailure.address == address, WebLoginFailure.at > since)
        ) or 0  # fmt: skip
        row = session.scalars(select(WebUser).where(WebUser.name == name)).first()
        stored = row.password_hash if row is not None else None
        user_id = row.id if row is not None else None
        disabled = row.disabled if row is not None else True
    if by_name >= MAX_FAILURES or by_address >= MAX_FAILURES_PER_ADDRESS:
        raise LoginThrottled("too many failed attempts: wait a few minutes")
    hasher = _hasher()
    try:
        ok = hasher.verify(stored or DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or user_id is None or disabled:
        with store.write() as session:
            session.add(WebLoginFailure(name=name, address=address[:64], at=at))
        raise LoginRefused("wrong name or password")
    with store.write() as session:
        fresh = session.get(WebUser, user_id)
        if fresh is None or fresh.disabled:
            raise LoginRefused("wrong name or password")
        fresh.last_login_at = at
        if stored is not None and hasher.check_needs_rehash(stored):
            fresh.password_hash = hasher.hash(password)
        session.execute(delete(WebLoginFailure).where(WebLoginFailure.name == name))
        session.execute(delete(WebLoginFailure).where(WebLoginFailure.at <= since))
        return _user(fresh)


def new_session(store: Store, user: UserView, *, at: datetime, address: str = "") -> tuple[str, str]:
    """A fresh session for ``user``: (token for the cookie, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with store.write() as session:
        session.add(WebSession(token_hash=_digest(token), user_id=user.id, csrf=csrf, created_at=at,
                               last_seen_at=at, address=address[:64]))  # fmt: skip
    return token, csrf


def session_of(
    store: Store, token: str, *, at: datetime, idle: timedelta = IDLE, max_age: timedelta = MAX_AGE
) -> SessionView | None:
    """The live session of this cookie token, or None (unknown, expired, user disabled)."""
    if not token or len(token) > 128:
        return None
    key = _digest(token)
    with store.read() as session:
        found = session.execute(
            select(WebSession, WebUser).join(WebUser, WebUser.id == WebSession.user_id)
            .where(WebSession.token_hash == key)
        ).first()  # fmt: skip
        if found is None:
            return None
        row, user = found
        view = SessionView(_user(user), row.csrf, row.created_at, row.last_seen_at)
    expired = at - view.last_seen_at >= idle or at - view.created_at >= max_age
    if expired or view.user.disabled:
        end_session(store, token)
        return None
    if at - view.last_seen_at >= TOUCH_EVERY:
        with store.write() as session:
            live = session.get(WebSession, key)
            if live is not None:
                live.last_seen_at = at
    return view


def end_session(store: Store, token: str) -> None:
    with store.write() as session:
        session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


def purge_sessions(
    store: Store, *, at: datetime, idle: timedelta = IDLE, max_age: timedelta = MAX_AGE
) -> int:
    """Delete expired sessions and old login failures; returns the sessions deleted."""
    with store.write() as session:
        result = session.execute(
            delete(WebSession).where(
                (WebSession.last_seen_at <= at - idle) | (WebSession.created_at <= at - max_age)
            )
        )
        session.execute(delete(WebLoginFailure).where(WebLoginFailure.at <= at - THROTTLE_WINDOW))
        return int(getattr(result, "rowcount", 0) or 0)


def record_audit(
    store: Store,
    *,
    at: datetime,
    user: str,
    role: str,
    action: str,
    target: str = "",
    outcome: str = "ok",
    address: str = "",
    text: str = "",
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Record one entry; its id (the dashboard shows an action's result from it)."""
    with store.write() as session:
        row = WebAudit(at=at, user=user[:64], role=role[:16], action=action[:64], target=target[:160],
                       outcome=outcome[:16], address=address[:64], text=text, detail=dict(detail or {}))
        session.add(row)
        session.flush()
        return int(row.id)


def list_audit(
    store: Store, *, limit: int = 100, before: int | None = None, user: str | None = None
) -> list[AuditView]:
    """Most recent first; ``before``: only entries with a smaller id (the next page)."""
    with store.read() as session:
        query = select(WebAudit).order_by(WebAudit.id.desc())
        if before is not None:
            query = query.where(WebAudit.id < before)
        if user is not None:
            query = query.where(WebAudit.user == user)
        return [
            AuditView(
                r.id, r.at, r.user, r.role, r.action, r.target, r.outcome, r.address, r.text, dict(r.detail)
            )
            for r in session.scalars(query.limit(limit))
        ]


def audit_entry(store: Store, entry_id: int) -> AuditView | None:
    """One entry by id, None when there is none."""
    found = list_audit(store, limit=1, before=entry_id + 1)
    return found[0] if found and found[0].id == entry_id else None


def audit_actions(store: Store, user: str) -> Sequence[str]:
    """The actions recorded for ``user``, oldest first (tests, the users CLI)."""
    with store.read() as session:
        query = select(WebAudit.action).where(WebAudit.user == user).order_by(WebAudit.id)
        return list(session.scalars(query))
