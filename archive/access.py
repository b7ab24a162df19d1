"""Access: the dashboard's server-side sign-in sessions, the API keys of machine clients,
one-time sign-in links and the audit log of sign-ins, in the archive's database.

A session's and a key's secret is a 256-bit random token given to the client once and stored
only as its SHA-256 (a slow password hash adds nothing to a random secret of that size, and
every request checks one). A session ends at its expiry (``IOC_SESSION_MAX_AGE_S`` after
sign-in), after ``IOC_SESSION_IDLE_S`` without a request, at sign-out, and at once when its
user is disabled or changes password (:mod:`archive.accounts`).

A one-time sign-in link (what ``ioc demo`` prints for each account) carries a token of the
same kind, stored hashed, that opens one session of its user: at most once, within
``LINK_TTL_S`` (15 minutes) of its making, and never for a disabled user.

>>> digest("abc")[:16]
'ba7816bf8f01cfea'
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from archive import schema
from archive.accounts import (
    AccountError,
    Principal,
    Scope,
    check_key_role,
    check_login,
    scope_of,
)
from archive.store import Store
from ioc.errors import UsageError

__all__ = ["KEY_PREFIX", "LINK_TTL_S", "Access", "ApiKey", "LinkCheck", "SessionCheck",
           "SignIn", "digest"]

KEY_PREFIX = "iok_"     # an API key's secret starts with it (easy to spot in a leak scan)
TOUCH_S = 30.0          # last_seen / last_used are written at most this often per secret
LINK_TTL_S = 900.0      # a one-time sign-in link works this long after it was made
REASONS = ("ok", "unknown_user", "bad_password", "disabled", "bad_input", "throttled",
           "bad_link")


def digest(secret: str) -> str:
    """The stored form of a session token or API key: hex SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class SessionCheck:
    """A session cookie looked up: the principal, or None and why (``unknown``,
    ``expired``, ``idle``, ``revoked``, ``disabled``)."""

    principal: Principal | None
    reason: str = "ok"


@dataclass(frozen=True)
class LinkCheck:
    """A one-time link used: the user to sign in (with their login), or None and why
    (``unknown``: never made or forged, ``used``, ``expired``, ``disabled``)."""

    user_id: int | None
    login: str | None = None
    reason: str = "ok"


@dataclass(frozen=True)
class ApiKey:
    """An API key as listed (never with its secret or hash)."""

    name: str
    role: str
    scope: Scope
    created_at: float
    last_used: float | None
    revoked_at: float | None


@dataclass(frozen=True)
class SignIn:
    """One line of the sign-in audit log."""

    ts: float
    login: str
    address: str
    outcome: str
    reason: str


class Access:
    """Sessions, keys and the sign-in log of ``store``."""

    def __init__(self, store: Store, *, max_age_s: float = 43_200.0,
                 idle_s: float = 1_800.0) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self.idle_s = idle_s

    # --- sessions --------------------------------------------------------------------------
    def open_session(self, user_id: int, now: float | None = None) -> str:
        """Start a session of user ``user_id``; returns the token (for the cookie only)."""
        ts = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        with self.store.engine.begin() as conn:
            conn.execute(schema.web_sessions.insert().values(
                token_hash=digest(token), user_id=user_id, created_at=ts, last_seen=ts,
                expires_at=ts + self.max_age_s, revoked=False))
        return token

    def session(self, token: str | None, now: float | None = None) -> SessionCheck:
        """The principal of a session token (and its idle clock restarted), or why not."""
        if not token or len(token) > 200:
            return SessionCheck(None, "unknown")
        ts = time.time() if now is None else now
        s, u = schema.web_sessions, schema.users
        hashed = digest(token)
        with self.store.engine.begin() as conn:
            row = conn.execute(
                sa.select(s.c.last_seen, s.c.expires_at, s.c.revoked, u.c.login,
                          u.c.display_name, u.c.role, u.c.districts, u.c.groups, u.c.disabled)
                .join(u, u.c.id == s.c.user_id).where(s.c.token_hash == hashed)).first()
            if row is None:
                return SessionCheck(None, "unknown")
            reason = ("revoked" if row.revoked else "disabled" if row.disabled
                      else "expired" if ts >= row.expires_at
                      else "idle" if ts - row.last_seen >= self.idle_s else "ok")
            if reason != "ok":
                return SessionCheck(None, reason)
            if ts - row.last_seen >= TOUCH_S:
                conn.execute(s.update().where(s.c.token_hash == hashed).values(last_seen=ts))
        return SessionCheck(Principal("user", row.login, row.display_name, row.role,
                                      scope_of(row), session=hashed))

    def end_session(self, token: str | None) -> bool:
        """Sign-out: revoke the session of ``token``; False when there was none live."""
        if not token:
            return False
        s = schema.web_sessions
        with self.store.engine.begin() as conn:
            done = conn.execute(s.update().where((s.c.token_hash == digest(token))
                                                 & ~s.c.revoked).values(revoked=True))
        return bool(done.rowcount)

    def session_live(self, hashed: str, now: float | None = None) -> bool:
        """Whether the session stored as ``hashed`` may still be used (an open websocket
        checks it now and then; it does not restart the idle clock: the connection's own
        activity is not a person's)."""
        ts = time.time() if now is None else now
        s, u = schema.web_sessions, schema.users
        with self.store.connect() as conn:
            row = conn.execute(sa.select(s.c.revoked, s.c.expires_at, u.c.disabled)
                               .join(u, u.c.id == s.c.user_id)
                               .where(s.c.token_hash == hashed)).first()
        return row is not None and not row.revoked and not row.disabled \
            and ts < row.expires_at

    def purge_sessions(self, now: float | None = None) -> int:
        """Delete sessions that ended (expired, idle or revoked); returns how many."""
        ts = time.time() if now is None else now
        s = schema.web_sessions
        with self.store.engine.begin() as conn:
            return int(conn.execute(s.delete().where(
                s.c.revoked | (s.c.expires_at <= ts) | (s.c.last_seen <= ts - self.idle_s)
            )).rowcount)

    # --- one-time sign-in links ------------------------------------------------------------
    def open_link(self, login: str, *, ttl_s: float = LINK_TTL_S,
                  now: float | None = None) -> str:
        """A one-time sign-in token for ``login`` (for the link only; stored hashed), valid
        ``ttl_s`` seconds; AccountError when there is no such account."""
        ts = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        u = schema.users
        with self.store.engine.begin() as conn:
            user_id = conn.execute(sa.select(u.c.id).where(u.c.login == check_login(login))
                                   ).scalar()
            if user_id is None:
                raise AccountError(f"no account {login!r}")
            conn.execute(schema.sign_in_links.insert().values(
                token_hash=digest(token), user_id=user_id, created_at=ts,
                expires_at=ts + ttl_s, used_at=None))
        return token

    def use_link(self, token: str | None, now: float | None = None) -> LinkCheck:
        """Spend a one-time token: its user, at most once and before its expiry (the claim
        is one conditional UPDATE, so two tabs racing on one link get one session)."""
        if not token or len(token) > 200:
            return LinkCheck(None, reason="unknown")
        ts = time.time() if now is None else now
        k, u = schema.sign_in_links, schema.users
        hashed = digest(token)
        with self.store.engine.begin() as conn:
            claimed = conn.execute(k.update().where(
                (k.c.token_hash == hashed) & k.c.used_at.is_(None) & (k.c.expires_at > ts)
            ).values(used_at=ts)).rowcount
            row = conn.execute(sa.select(k.c.used_at, k.c.expires_at, u.c.id, u.c.login,
                                         u.c.disabled)
                               .join(u, u.c.id == k.c.user_id)
                               .where(k.c.token_hash == hashed)).first()
        if row is None:
            return LinkCheck(None, reason="unknown")
        if not claimed:
            return LinkCheck(None, row.login,
                             "used" if row.used_at is not None else "expired")
        if row.disabled:
            return LinkCheck(None, row.login, "disabled")
        return LinkCheck(int(row.id), row.login)

    def purge_links(self, now: float | None = None) -> int:
        """Delete links used or expired; returns how many."""
        ts = time.time() if now is None else now
        k = schema.sign_in_links
        with self.store.engine.begin() as conn:
            return int(conn.execute(k.delete().where(
                k.c.used_at.is_not(None) | (k.c.expires_at <= ts))).rowcount)

    # --- API keys --------------------------------------------------------------------------
    def add_key(self, name: str, role: str, scope: Scope | None = None,
                now: float | None = None) -> tuple[ApiKey, str]:
        """Create a key; returns it and its secret (shown once, stored only hashed)."""
        name = check_login(name)
        check_key_role(role)
        scope = scope or Scope()
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        ts = time.time() if now is None else now
        try:
            with self.store.engine.begin() as conn:
                conn.execute(schema.api_keys.insert().values(
                    name=name, role=role, districts=",".join(scope.districts),
                    groups=",".join(scope.groups), key_hash=digest(secret), created_at=ts,
                    last_used=None, revoked_at=None))
        except sa.exc.IntegrityError:
            raise AccountError(f"an API key named {name!r} exists") from None
        return ApiKey(name, role, scope, ts, None, None), secret

    def keys(self) -> list[ApiKey]:
        """Every key, revoked ones too, by name."""
        k = schema.api_keys
        with self.store.connect() as conn:
            return [ApiKey(r.name, r.role, scope_of(r), r.created_at, r.last_used, r.revoked_at)
                    for r in conn.execute(sa.select(k).order_by(k.c.name))]

    def revoke_key(self, name: str, now: float | None = None) -> None:
        """Revoke a key at once; AccountError when there is no live key of that name."""
        k = schema.api_keys
        with self.store.engine.begin() as conn:
            done = conn.execute(k.update().where((k.c.name == check_login(name))
                                                 & k.c.revoked_at.is_(None))
                                .values(revoked_at=time.time() if now is None else now))
        if not done.rowcount:
            raise AccountError(f"no live API key named {name!r}")

    def key(self, secret: str | None, now: float | None = None, *,
            ingest: bool = False) -> Principal | None:
        """The principal of a live API key (its ``last_used`` updated), else None. An
        ``ingest`` key posts readings only: it is found only when ``ingest`` is true (the
        ingest API asks so; the dashboard never does)."""
        if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        ts = time.time() if now is None else now
        k = schema.api_keys
        hashed = digest(secret)
        with self.store.engine.begin() as conn:
            row = conn.execute(sa.select(k).where(k.c.key_hash == hashed)).first()
            if row is None or row.revoked_at is not None or (
                    row.role == "ingest" and not ingest):
                return None
            if row.last_used is None or ts - row.last_used >= TOUCH_S:
                conn.execute(k.update().where(k.c.id == row.id).values(last_used=ts))
        return Principal("key", f"key:{row.name}", row.name, row.role, scope_of(row))

    # --- the sign-in audit log ---------------------------------------------------------------
    def record_sign_in(self, login: str, address: str, reason: str,
                       now: float | None = None) -> None:
        """Append one sign-in (``reason`` ``ok`` or why it was refused) to the audit log."""
        if reason not in REASONS:
            raise UsageError(f"unknown sign-in reason {reason!r}")
        with self.store.engine.begin() as conn:
            conn.execute(schema.sign_ins.insert().values(
                ts=time.time() if now is None else now, login=login[:128],
                address=address[:64], outcome="ok" if reason == "ok" else "refused",
                reason=reason))

    def sign_ins(self, limit: int = 100) -> list[SignIn]:
        """The newest ``limit`` sign-ins, newest first."""
        t = schema.sign_ins
        with self.store.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.ts.desc(), t.c.id.desc())
                                .limit(limit))
            return [SignIn(r.ts, r.login, r.address, r.outcome, r.reason) for r in rows]
