"""The dashboard's server-side sign-in sessions, in the archive's database.

A session's token (:mod:`archive.tokens`) goes to the browser's cookie only; the database keeps
its digest. A session ends at its expiry (``IOC_SESSION_MAX_AGE_S`` after sign-in), after
``IOC_SESSION_IDLE_S`` without a request, at sign-out, and at once when its user is disabled or
changes password (:mod:`archive.accounts`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from archive import schema
from archive.accounts import Principal, scope_of
from archive.store import Store
from archive.tokens import MAX_SECRET_LEN, TOUCH_S, digest, new_secret

__all__ = ["SessionCheck", "Sessions"]


@dataclass(frozen=True)
class SessionCheck:
    """A session cookie looked up: the principal, or None and why (``unknown``,
    ``expired``, ``idle``, ``revoked``, ``disabled``)."""

    principal: Principal | None
    reason: str = "ok"


class Sessions:
    """Open, look up, end and purge the sign-in sessions of ``store``."""

    def __init__(self, store: Store, *, max_age_s: float = 43_200.0,
                 idle_s: float = 1_800.0) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self.idle_s = idle_s

    def open_session(self, user_id: int, now: float | None = None) -> str:
        """Start a session of user ``user_id``; returns the token (for the cookie only)."""
        ts = time.time() if now is None else now
        token = new_secret()
        with self.store.engine.begin() as conn:
            conn.execute(schema.web_sessions.insert().values(
                token_hash=digest(token), user_id=user_id, created_at=ts, last_seen=ts,
                expires_at=ts + self.max_age_s, revoked=False))
        return token

    def session(self, token: str | None, now: float | None = None) -> SessionCheck:
        """The principal of a session token (and its idle clock restarted), or why not."""
        if not token or len(token) > MAX_SECRET_LEN:
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
