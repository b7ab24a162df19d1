"""Sign-in and sign-out: the login page, ``POST /login``, ``GET /login/once`` (a one-time
link), ``POST /logout`` and ``/api/me``.

* The session cookie (``ioc_session``) is ``HttpOnly``, ``SameSite=Strict``, and ``Secure``
  when the request came over TLS (or always, with ``IOC_SECURE_COOKIES=always``).
* Forms are protected against cross-site posts by ``SameSite=Strict``, an ``Origin`` check,
  and a token: the login form's is a double-submit cookie (``ioc_csrf``), sign-out's is
  derived from the session (:func:`~dashboards.identity.csrf_of`, given by ``/api/me``).
* Every sign-in, refused or not, goes to the audit log (``sign_ins``) and the metrics. A
  refusal never says whether the login exists: one message for an unknown user, a wrong
  password and a disabled account, each after an Argon2id verification.
* Failures are throttled per login and per client address (429 with ``Retry-After``); a
  body over :data:`MAX_BODY` bytes is refused (413).
* A one-time link (``/login/once?t=TOKEN``, what ``ioc demo`` prints) opens a session of its
  account once, within 15 minutes of its making (:meth:`archive.access.Access.use_link`); a
  link used, expired, forged or of a disabled account gets the login page with one message
  (:data:`LINK_REFUSED`, status 401), is counted (``reason="bad_link"``) and logged in
  ``sign_ins``, and counts against the address's throttle.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import math
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from dashboards.auth import origin_allowed
from dashboards.i18n import localize, said
from dashboards.identity import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Who,
    cookie_value,
    csrf_of,
    same_secret,
)
from dashboards.state import encode
from dashboards.throttle import Throttle
from ioc.errors import IocError
from ioc.i18n import from_cookie

if TYPE_CHECKING:
    from dashboards.server import Dashboard

log = logging.getLogger("ioc.dashboard.signin")
MAX_BODY = 4096
PAGES_AFTER = ("/", "/summary", "/reports")
REFUSED = "Wrong login or password."
LINK_REFUSED = ("This sign-in link cannot be used: a link works once, within 15 minutes. "
                "Sign in with your login and password.")
MESSAGES = {"signed_out": ("You are signed out.", "info"),
            "ended": ("Your session ended; please sign in again.", "info")}


class TooBig(Exception):
    """The request body is over :data:`MAX_BODY`."""


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: one of the pages (with its query), else the wall.

    >>> safe_next("/summary"), safe_next("//evil.example/"), safe_next(None)
    ('/summary', '/', '/')
    >>> safe_next("/?kiosk=1"), safe_next("/?x=<b>")
    ('/?kiosk=1', '/')
    """
    path, sep, query = (raw or "").partition("?")
    if path not in PAGES_AFTER:
        return "/"
    if query and not all(c.isalnum() or c in "=&-_.,%+" for c in query):
        return path
    return path + sep + query if query else path


async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form of ``request`` (first value of each field); :class:`TooBig` past
    :data:`MAX_BODY` bytes, declared or sent."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise TooBig
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise TooBig
    except ClientDisconnect:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


class SignIn:
    """The sign-in routes of one dashboard."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        s = dashboard.settings
        self.by_login = Throttle(limit=s.login_max_failures, span_s=s.login_throttle_s)
        self.by_address = Throttle(limit=s.login_max_failures_per_address,
                                   span_s=s.login_throttle_s)
        self._template: str | None = None

    @property
    def template(self) -> str:
        """``login.html`` of the dashboard's static directory, else the package's."""
        if self._template is None:
            own = self.dashboard.static_dir / "login.html"
            path = own if own.is_file() else Path(__file__).resolve().parent / "static" / \
                "login.html"
            self._template = path.read_text()
        return self._template

    # --- pages -----------------------------------------------------------------------------
    def page(self, request: Request, *, message: str = "", kind: str = "error",
             status: int = 200, refused: str = "", next_path: str | None = None,
             headers: dict[str, str] | None = None) -> Response:
        """The login page with a fresh (or the present) form token."""
        csrf = cookie_value(request.headers.get("cookie"), CSRF_COOKIE)
        if not csrf or len(csrf) != 43:
            csrf = secrets.token_urlsafe(32)
        cookie = request.headers.get("cookie")  # the reader's language: dashboards.i18n
        values = {"csrf": csrf, "next": safe_next(next_path or request.query_params.get("next")),
                  "message": said(message, from_cookie(cookie)), "message_kind": kind,
                  "refused": refused, "message_hidden": "" if message else " hidden"}
        body = localize(self.template, cookie)
        for key, value in values.items():
            body = body.replace("{{" + key + "}}", value if key == "message_hidden"
                                else html.escape(value))
        response = Response(body, status, media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-store", **(headers or {})})
        self._cookie(request, response, CSRF_COOKIE, csrf, path="/login", max_age=3600)
        return response

    async def login_page(self, request: Request) -> Response:
        """``GET /login``: the form (or straight on, with a live session)."""
        who = await self.dashboard.site.who(request, count=False)
        if who.principal is not None and who.cookie is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        said = MESSAGES.get(request.query_params.get("m", ""))
        return self.page(request, message=said[0] if said else "",
                         kind=said[1] if said else "error")

    # --- POST /login -----------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        """Check the form and sign in (303 to the page asked for) or refuse."""
        metrics = self.dashboard.metrics
        if not self._same_origin(request):
            return self._refuse(request, "csrf", 403, "This form was not sent from this site.")
        try:
            form = await read_form(request)
        except TooBig:
            metrics.sign_ins.labels(outcome="refused", reason="too_big").inc()
            return self.page(request, message="The sign-in form was too large.", status=413)
        next_path = safe_next(form.get("next"))
        if not same_secret(form.get("csrf"),
                           cookie_value(request.headers.get("cookie"), CSRF_COOKIE)):
            return self._refuse(request, "csrf", 403,
                                "The form expired; please sign in again.", next_path)
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
            return self.page(request, message="Sign-in is unavailable: the accounts database "
                             "cannot be reached. Try again shortly.", status=503,
                             next_path=next_path)
        if session is None:
            self.by_address.fail(address, now)
            log.info("sign-in link refused from %s", address)
            return self._refuse(request, "bad_link", 401, LINK_REFUSED, next_path)
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
            return self.page(request, message="Sign-in is unavailable: the accounts database "
                             "cannot be reached. Try again shortly.", status=503,
                             next_path=next_path)
        self.dashboard.metrics.sign_ins.labels(
            outcome="ok" if token else "refused", reason=reason).inc()
        if token is None:
            self.by_login.fail(login, now)
            self.by_address.fail(address, now)
            log.info("sign-in refused from %s (%s)", address, reason)
            return self.page(request, message=REFUSED, status=401, refused="password",
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
            return self.page(request, message="The server refused this access link's token.",
                             status=401, refused="token", next_path=next_path)
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
        return self.page(request, status=429, refused="throttled", next_path=next_path,
                         message=f"Too many failed sign-ins. Try again in {minutes} minute"
                                 f"{'s' if minutes > 1 else ''}.",
                         headers={"Retry-After": str(math.ceil(wait))})

    def _signed_in(self, request: Request, token: str, next_path: str) -> Response:
        response = RedirectResponse(next_path, 303)
        self._cookie(request, response, SESSION_COOKIE, token, path="/",
                     max_age=int(self.dashboard.settings.session_max_age_s))
        response.delete_cookie(CSRF_COOKIE, path="/login")
        return response

    # --- POST /logout, GET /api/me -----------------------------------------------------------
    async def logout(self, request: Request) -> Response:
        """End the session (and its websockets) and go back to the login page."""
        if not self._same_origin(request):
            return self._refuse(request, "csrf", 403, "This form was not sent from this site.")
        try:
            form = await read_form(request)
        except TooBig:
            return Response("request body too large\n", 413, media_type="text/plain")
        cookie = cookie_value(request.headers.get("cookie"), SESSION_COOKIE)
        if cookie is not None:
            given = form.get("csrf") or request.headers.get("x-csrf-token")
            if not same_secret(given, csrf_of(cookie)):
                self.dashboard.metrics.auth_refusals.labels(reason="csrf").inc()
                return Response("sign-out refused: missing or wrong form token\n", 403,
                                media_type="text/plain")
            ended = await self.dashboard.gate.end_session(cookie)
            if ended is not None:
                await self.dashboard.live.end_session(ended)
        response = RedirectResponse("/login?m=signed_out", 303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def me(self, request: Request) -> Response:
        """``/api/me``: who this request is (and, for a session, its sign-out token)."""
        who = await self.dashboard.site.who(request)
        p = who.principal
        if p is None:
            return self.dashboard.site.unauthorized(who)
        body = {"login": p.login, "display_name": p.display_name, "role": p.role,
                "kind": p.kind, "scope": {"districts": list(p.scope.districts),
                                          "groups": list(p.scope.groups)},
                "csrf": csrf_of(who.cookie) if who.cookie else None}
        return Response(encode(body), 200, media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    # --- helpers ---------------------------------------------------------------------------
    def _same_origin(self, request: Request) -> bool:
        """A foreign ``Origin`` is refused. ``null`` passes on to the form token: browsers
        send it for the pages' own form posts under ``Referrer-Policy: no-referrer``."""
        origin = request.headers.get("origin")
        return origin == "null" or origin_allowed(origin, self.dashboard.origins)

    def _refuse(self, request: Request, reason: str, status: int, message: str,
                next_path: str | None = None) -> Response:
        self.dashboard.metrics.sign_ins.labels(outcome="refused", reason=reason).inc()
        return self.page(request, message=message, status=status, refused=reason,
                         next_path=next_path)

    def _cookie(self, request: Request, response: Response, name: str, value: str, *,
                path: str, max_age: int) -> None:
        secure = (self.dashboard.settings.secure_cookies == "always"
                  or request.url.scheme in ("https", "wss"))
        response.set_cookie(name, value, max_age=max_age, path=path, secure=secure,
                            httponly=True, samesite="strict")


def login_redirect(path: str, query: str, who: Who) -> Response:
    """Where a page request without a valid session goes: the login page (saying the session
    ended, when it had one), and back to the page with its query once signed in."""
    ended = "&m=ended" if who.reason in ("expired", "idle", "revoked", "disabled") else ""
    target = safe_next(f"{path}?{query}" if query else path)
    return RedirectResponse(f"/login?next={quote(target, safe='/')}{ended}", 303)
