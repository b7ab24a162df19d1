"""Who a request is: a :class:`~archive.accounts.Principal` from an ``Authorization: Bearer``
header (an ``IOC_*_TOKEN`` automation key or an API key) or from the session cookie (a
signed-in person, or a tab that opened a shared-token link).

People's sessions live in the archive's database (:mod:`archive.access`); the sessions a
shared-token link opens (``/#token=...``, the demo's links until it has personal accounts)
live in this process's memory: they end with it, at their expiry, when idle, or at sign-out.
The database is used only when a request carries a session cookie or an API key, always in a
worker thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from archive.access import KEY_PREFIX, Access, digest
from archive.accounts import Accounts, Principal
from archive.store import Store
from dashboards.auth import Tokens, audit_user
from ioc.errors import IocError
from ioc.settings import Settings

SESSION_COOKIE = "ioc_session"
CSRF_COOKIE = "ioc_csrf"


def csrf_of(session_token: str) -> str:
    """The anti-forgery token of a session (sign-out form, ``/api/me``): derived from the
    session's secret, so only a page that may read ``/api/me`` learns it.

    >>> csrf_of("abc") == csrf_of("abc") != csrf_of("abd")
    True
    """
    return hashlib.sha256(b"ioc-csrf:" + session_token.encode()).hexdigest()[:40]


def same_secret(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two secrets (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def cookie_value(header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header (the first, when repeated).

    >>> cookie_value("a=1; ioc_session=xyz", "ioc_session"), cookie_value(None, "a")
    ('xyz', None)
    """
    for part in (header or "").split(";"):
        key, eq, value = part.strip().partition("=")
        if eq and key == name:
            return value.strip() or None
    return None


@dataclass
class _TokenSession:
    principal: Principal
    created: float
    last_seen: float


@dataclass(frozen=True)
class Who:
    """A request's principal, or None and why (``no_credentials``, ``bad_token``,
    ``bad_key``, ``unknown_session``, ``expired``, ``idle``, ``revoked``, ``disabled``,
    ``unavailable``)."""

    principal: Principal | None
    reason: str = "ok"
    cookie: str | None = None  # the session token, when it came from the cookie


class Gate:
    """Resolves credentials to principals. ``store()`` opens the archive (raising
    :class:`~ioc.errors.IocError` when it cannot)."""

    def __init__(self, tokens: Tokens, settings: Settings, store: Callable[[], Store]) -> None:
        self.tokens = tokens
        self.settings = settings
        self._store = store
        self._token_sessions: dict[str, _TokenSession] = {}
        self._accounts: Accounts | None = None

    def access(self) -> Access:
        s = self.settings
        return Access(self._store(), max_age_s=s.session_max_age_s, idle_s=s.session_idle_s)

    def accounts(self) -> Accounts:
        """The accounts (one object: it keeps the fixed hash unknown logins are checked
        against, so they take as long as known ones)."""
        store = self._store()
        if self._accounts is None or self._accounts.store is not store:
            self._accounts = Accounts(store,
                                      min_password_length=self.settings.password_min_length)
        return self._accounts

    def token_principal(self, role: str) -> Principal:
        """The principal of an ``IOC_*_TOKEN`` of ``role`` (its English display name is for
        logs; the pages name it by its kind and role in the reader's language, the catalogs'
        ``account.shared`` and ``role.*``)."""
        return Principal("token", audit_user(role, self.settings), f"{role} (shared token)",
                         role)

    async def of(self, authorization: str | None, cookie: str | None) -> Who:
        """The principal of a bearer token (when given) or else of a session cookie."""
        if authorization is not None:
            return await self.of_bearer(authorization)
        if cookie is None:
            return Who(None, "no_credentials")
        return await self.of_session(cookie)

    async def of_bearer(self, token: str) -> Who:
        role = self.tokens.role_of(token)
        if role is not None:
            return Who(self.token_principal(role))
        if not token.startswith(KEY_PREFIX):
            return Who(None, "bad_token")
        try:
            principal = await asyncio.to_thread(lambda: self.access().key(token))
        except IocError:
            return Who(None, "unavailable")
        return Who(principal, "ok" if principal else "bad_key")

    async def of_session(self, cookie: str) -> Who:
        now = time.time()
        held = self._token_sessions.get(digest(cookie))
        if held is not None:
            reason = self._token_session_state(held, now)
            if reason != "ok":
                self._token_sessions.pop(digest(cookie), None)
                return Who(None, reason)
            held.last_seen = now
            return Who(held.principal, cookie=cookie)
        try:
            check = await asyncio.to_thread(lambda: self.access().session(cookie, now))
        except IocError:
            return Who(None, "unavailable")
        reason = "unknown_session" if check.reason == "unknown" else check.reason
        return Who(check.principal, reason, cookie=cookie)

    def _token_session_state(self, held: _TokenSession, now: float) -> str:
        s = self.settings
        if now - held.created >= s.session_max_age_s:
            return "expired"
        if now - held.last_seen >= s.session_idle_s:
            return "idle"
        if self.tokens.role_of(self._token_of(held.principal.role)) is None:
            return "revoked"
        return "ok"

    def _token_of(self, role: str) -> str:
        return str(getattr(self.tokens, role, "") or "")

    def open_token_session(self, role: str) -> str:
        """A session for a tab that opened a shared-token link; returns the cookie value."""
        now = time.time()
        for key in [k for k, v in self._token_sessions.items()
                    if self._token_session_state(v, now) != "ok"]:
            del self._token_sessions[key]
        token = secrets.token_urlsafe(32)
        principal = dataclasses.replace(self.token_principal(role), session=digest(token))
        self._token_sessions[digest(token)] = _TokenSession(principal, now, now)
        return token

    async def end_session(self, cookie: str) -> str | None:
        """Sign-out: end the session of ``cookie``; returns its hash (to close its
        websockets), None when it was not live."""
        hashed = digest(cookie)
        if self._token_sessions.pop(hashed, None) is not None:
            return hashed
        try:
            ended = await asyncio.to_thread(lambda: self.access().end_session(cookie))
        except IocError:
            return None
        return hashed if ended else None

    async def session_live(self, principal: Principal) -> bool:
        """Whether an open websocket's session may go on (the database unreachable: yes,
        until it answers again)."""
        if principal.session is None:
            return True
        if principal.kind == "token":
            held = self._token_sessions.get(principal.session)
            return held is not None and self._token_session_state(held, time.time()) == "ok"
        try:
            return await asyncio.to_thread(
                lambda: self.access().session_live(principal.session or ""))
        except IocError:
            return True
