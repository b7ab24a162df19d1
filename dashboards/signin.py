"""Sign-in: ``GET /login``, ``POST /login`` and ``GET /login/once`` (a one-time link). The page
itself is :mod:`dashboards.loginpage`; sign-out and ``/api/me`` are :mod:`dashboards.signout`;
reading a posted form is :mod:`dashboards.forms`.

* The session cookie (``ioc_session``) is ``HttpOnly``, ``SameSite=Strict``, and ``Secure``
  when the request came over TLS (or always, with ``IOC_SECURE_COOKIES=always``).
* Forms are protected against cross-site posts by ``SameSite=Strict``, an ``Origin`` check,
  and a token: the login form's is a double-submit cookie (``ioc_csrf``), sign-out's is
  derived from the session (:func:`~dashboards.identity.csrf_of`, given by ``/api/me``).
* Every message the page shows is a ``login.msg.*`` key of the catalogs (with its parameters),
  written in the reader's language by :meth:`~dashboards.loginpage.LoginPage.page`.
* Every sign-in, refused or not, goes to the audit log (``sign_ins``) and the metrics. A
  refusal never says whether the login exists: one message for an unknown user, a wrong
  password and a disabled account, each after an Argon2id verification.
* Failures are throttled per login and per client address (429 with ``Retry-After``); a
  body over :data:`~dashboards.forms.MAX_BODY` bytes is refused (413).
* A one-time link (``/login/once?t=TOKEN``, what ``ioc demo`` prints) opens a session of its
  account once, within 15 minutes of its making (:meth:`archive.access.Access.use_link`); a
  link used, expired, forged or of a disabled account gets the login page with one message
  (:data:`LINK_REFUSED`, status 401), is counted (``reason="bad_link"``) and logged in
  ``sign_ins``, and counts against the address's throttle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboards.forms import TooBig, read_form
from dashboards.identity import CSRF_COOKIE, SESSION_COOKIE, cookie_value, same_secret
from dashboards.loginpage import LoginPage, safe_next
from dashboards.throttle import Throttle
from ioc.errors import IocError

if TYPE_CHECKING:
    from dashboards.server import Dashboard

log = logging.getLogger("ioc.dashboard.signin")
# what the page says: message keys of the catalogs (ioc/locale/*.json)
REFUSED = "login.msg.refused"
LINK_REFUSED = "login.msg.link"
UNAVAILABLE = "login.msg.unavailable"
EXPIRED = "login.msg.expired"
TOO_BIG = "login.msg.too_big"
TOKEN_REFUSED = "login.msg.token"
THROTTLED = "login.msg.throttled"          # {minutes}
THROTTLED_ONE = "login.msg.throttled_one"  # one minute
NOTICES = {"signed_out": "login.msg.signed_out", "ended": "login.msg.ended"}  # ?m=...


class SignIn:
    """The sign-in routes of one dashboard."""

    def __init__(self, dashboard: Dashboard, pages: LoginPage) -> None:
        self.dashboard = dashboard
        self.pages = pages
        s = dashboard.settings
        self.by_login = Throttle(limit=s.login_max_failures, span_s=s.login_throttle_s)
        self.by_address = Throttle(limit=s.login_max_failures_per_address,
                                   span_s=s.login_throttle_s)

    async def login_page(self, request: Request) -> Response:
        """``GET /login``: the form (or straight on, with a live session)."""
        who = await self.dashboard.site.who(request, count=False)
        if who.principal is not None and who.cookie is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        notice = request.query_params.get("m", "")
        return self.pages.page(request, message=NOTICES.get(notice, ""),
                               kind="info" if notice in NOTICES else "error")

    # --- POST /login -----------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        """Check the form and sign in (303 to the page asked for) or refuse."""
        metrics = self.dashboard.metrics
        if (foreign := self.pages.refuse_foreign(request)) is not None:
            return foreign
        try:
            form = await read_form(request)
        except TooBig:
            metrics.sign_ins.labels(outcome="refused", reason="too_big").inc()
            return self.pages.page(request, message=TOO_BIG, status=413)
        next_path = safe_next(form.get("next"))
        if not same_secret(form.get("csrf"),
                           cookie_value(request.headers.get("cookie"), CSRF_COOKIE)):
            return self.pages.refuse(request, "csrf", 403, EXPIRED, next_path)
        address = request.client.host if request.client else "?"
        now = time.time()
        wait = max(self.by_address.retry_after(address, now),
                   self.by_login.retry_after(form.get("login", "").strip().lower(), now))
        if wait > 0:
            return await self._throttled(request, form, address, wait, next_path)
        if form.get("token"):
            return self._token_sign_in(request, form["token"], address, now, next_path)
        return await self._password_sign_in(request, form, address, now, next_path)

    # --- GET /login/once -------------------------------------------------------------------
    async def once(self, request: Request) -> Response:
        """Spend a one-time link's token: a session and on to the page asked for, or the
        login page saying the link cannot be used (never why, nor whose it was)."""
        address = request.client.host if request.client else "?"
        now = time.time()
        next_path = safe_next(request.query_params.get("next"))
        wait = self.by_address.retry_after(address, now)
        if wait > 0:
            return await self._throttled(request, {}, address, wait, next_path)
        token = request.query_params.get("t", "")
        gate = self.dashboard.gate

        def spend() -> str | None:
            access = gate.access()
            check = access.use_link(token, now)
            access.record_sign_in(check.login or "-", address,
                                  "ok" if check.user_id is not None else "bad_link", now)
            return None if check.user_id is None else access.open_session(check.user_id, now)

        try:
            session = await asyncio.to_thread(spend)
        except IocError as exc:
            log.warning("sign-in link unavailable: %s", exc)
            return self.pages.page(request, message=UNAVAILABLE, status=503,
                                   next_path=next_path)
        if session is None:
            self.by_address.fail(address, now)
            log.info("sign-in link refused from %s", address)
            return self.pages.refuse(request, "bad_link", 401, LINK_REFUSED, next_path)
        self.dashboard.metrics.sign_ins.labels(outcome="ok", reason="ok").inc()
        log.info("signed in with a one-time link from %s", address)
        return self._signed_in(request, session, next_path)

    async def _password_sign_in(self, request: Request, form: dict[str, str], address: str,
                                now: float, next_path: str) -> Response:
        login = form.get("login", "").strip().lower()
        gate = self.dashboard.gate

        def check() -> tuple[int | None, str]:
            row, reason = gate.accounts().check(login, form.get("password", ""))
            user_id = row.id if row is not None else None
            gate.access().record_sign_in(login or "-", address, reason)
            return user_id, reason

        try:
            user_id, reason = await asyncio.to_thread(check)
            token = None if user_id is None else await asyncio.to_thread(
                lambda: gate.access().open_session(user_id))
        except IocError as exc:
            log.warning("sign-in unavailable: %s", exc)
            return self.pages.page(request, message=UNAVAILABLE, status=503,
                                   next_path=next_path)
        self.dashboard.metrics.sign_ins.labels(
            outcome="ok" if token else "refused", reason=reason).inc()
        if token is None:
            self.by_login.fail(login, now)
            self.by_address.fail(address, now)
            log.info("sign-in refused from %s (%s)", address, reason)
            return self.pages.page(request, message=REFUSED, status=401, refused="password",
                                   next_path=next_path)
        self.by_login.clear(login)
        log.info("signed in: %s from %s", login, address)
        return self._signed_in(request, token, next_path)

    def _token_sign_in(self, request: Request, token: str, address: str, now: float,
                       next_path: str) -> Response:
        gate = self.dashboard.gate
        role = gate.tokens.role_of(token)
        if role is None:
            self.by_address.fail(address, now)
            self.dashboard.metrics.sign_ins.labels(outcome="refused", reason="bad_token").inc()
            return self.pages.page(request, status=401, refused="token", next_path=next_path,
                                   message=TOKEN_REFUSED)
        self.dashboard.metrics.sign_ins.labels(outcome="ok", reason="ok").inc()
        return self._signed_in(request, gate.open_token_session(role), next_path)

    async def _throttled(self, request: Request, form: dict[str, str], address: str,
                         wait: float, next_path: str) -> Response:
        self.dashboard.metrics.sign_ins.labels(outcome="refused", reason="throttled").inc()
        login = form.get("login", "").strip().lower() or "-"
        with contextlib.suppress(IocError):
            await asyncio.to_thread(lambda: self.dashboard.gate.access().record_sign_in(
                login, address, "throttled"))
        minutes = max(1, math.ceil(wait / 60))
        return self.pages.page(request, status=429, refused="throttled", next_path=next_path,
                               message=THROTTLED if minutes > 1 else THROTTLED_ONE,
                               params={"minutes": minutes},
                               headers={"Retry-After": str(math.ceil(wait))})

    def _signed_in(self, request: Request, token: str, next_path: str) -> Response:
        response = RedirectResponse(next_path, 303)
        self.pages.set_cookie(request, response, SESSION_COOKIE, token, path="/",
                              max_age=int(self.dashboard.settings.session_max_age_s))
        response.delete_cookie(CSRF_COOKIE, path="/login")
        return response
