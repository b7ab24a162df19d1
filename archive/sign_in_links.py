"""One-time sign-in links (what ``ioc demo`` prints for each account), in the archive's
database.

A link carries a token of the same kind as a session's (:mod:`archive.tokens`), stored hashed,
that opens one session of its user: at most once, within ``LINK_TTL_S`` (15 minutes) of its
making, and never for a disabled user.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from archive import schema
from archive.accounts import AccountError, check_login
from archive.store import Store
from archive.tokens import MAX_SECRET_LEN, digest, new_secret

__all__ = ["LINK_TTL_S", "LinkCheck", "SignInLinks"]

LINK_TTL_S = 900.0      # a one-time sign-in link works this long after it was made


@dataclass(frozen=True)
class LinkCheck:
    """A one-time link used: the user to sign in (with their login), or None and why
    (``unknown``: never made or forged, ``used``, ``expired``, ``disabled``)."""

    user_id: int | None
    login: str | None = None
    reason: str = "ok"


class SignInLinks:
    """Make, spend and purge the one-time sign-in links of ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def open_link(self, login: str, *, ttl_s: float = LINK_TTL_S,
                  now: float | None = None) -> str:
        """A one-time sign-in token for ``login`` (for the link only; stored hashed), valid
        ``ttl_s`` seconds; AccountError when there is no such account."""
        ts = time.time() if now is None else now
        token = new_secret()
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
        if not token or len(token) > MAX_SECRET_LEN:
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
