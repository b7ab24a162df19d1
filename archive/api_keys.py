"""The API keys of machine clients (ingest posters, scripts), in the archive's database.

A key's secret (:mod:`archive.tokens`, prefixed ``iok_``) is shown once when the key is made and
stored only as its digest; a key works until it is revoked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from archive import schema
from archive.accounts import AccountError, Principal, Scope, check_key_role, check_login, scope_of
from archive.store import Store
from archive.tokens import MAX_SECRET_LEN, TOUCH_S, digest, new_secret

__all__ = ["KEY_PREFIX", "ApiKey", "ApiKeys"]

KEY_PREFIX = "iok_"     # an API key's secret starts with it (easy to spot in a leak scan)


@dataclass(frozen=True)
class ApiKey:
    """An API key as listed (never with its secret or hash)."""

    name: str
    role: str
    scope: Scope
    created_at: float
    last_used: float | None
    revoked_at: float | None


class ApiKeys:
    """Add, list, revoke and check the API keys of ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add_key(self, name: str, role: str, scope: Scope | None = None,
                now: float | None = None) -> tuple[ApiKey, str]:
        """Create a key; returns it and its secret (shown once, stored only hashed)."""
        name = check_login(name)
        check_key_role(role)
        scope = scope or Scope()
        secret = KEY_PREFIX + new_secret()
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
        if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > MAX_SECRET_LEN:
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
