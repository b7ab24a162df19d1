"""The audit log of sign-ins, in the archive's database: who tried, from where, and why a
refused attempt was refused."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from archive import schema
from archive.store import Store
from ioc.errors import UsageError

__all__ = ["REASONS", "SignIn", "SignInLog"]

REASONS = ("ok", "unknown_user", "bad_password", "disabled", "bad_input", "throttled",
           "bad_link")


@dataclass(frozen=True)
class SignIn:
    """One line of the sign-in audit log."""

    ts: float
    login: str
    address: str
    outcome: str
    reason: str


class SignInLog:
    """Append to and read the sign-in log of ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

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
