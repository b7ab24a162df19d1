"""The login page: the form (in the reader's language) with a fresh form token, its
messages, the cookies sign-in sets, where to go once signed in (:func:`safe_next`), and where
a page request without a valid session goes (:func:`login_redirect`).
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboards.forms import posted_here
from dashboards.i18n import localize, said
from dashboards.identity import CSRF_COOKIE, Who, cookie_value
from ioc.i18n import from_cookie

if TYPE_CHECKING:
    from dashboards.server import Dashboard

PAGES_AFTER = ("/", "/summary", "/reports")


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


def login_redirect(path: str, query: str, who: Who) -> Response:
    """Where a page request without a valid session goes: the login page (saying the session
    ended, when it had one), and back to the page with its query once signed in."""
    ended = "&m=ended" if who.reason in ("expired", "idle", "revoked", "disabled") else ""
    target = safe_next(f"{path}?{query}" if query else path)
    return RedirectResponse(f"/login?next={quote(target, safe='/')}{ended}", 303)


class LoginPage:
    """The login page of one dashboard and the cookies its forms set."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
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

    def page(self, request: Request, *, message: str = "", kind: str = "error",
             status: int = 200, refused: str = "", next_path: str | None = None,
             headers: dict[str, str] | None = None,
             params: Mapping[str, Any] | None = None) -> Response:
        """The login page with a fresh (or the present) form token; ``message`` is a
        ``login.msg.*`` key of the catalogs, filled with ``params``, in the reader's
        language."""
        csrf = cookie_value(request.headers.get("cookie"), CSRF_COOKIE)
        if not csrf or len(csrf) != 43:
            csrf = secrets.token_urlsafe(32)
        cookie = request.headers.get("cookie")  # the reader's language: dashboards.i18n
        values = {"csrf": csrf, "next": safe_next(next_path or request.query_params.get("next")),
                  "message": said(message, from_cookie(cookie), params), "message_kind": kind,
                  "refused": refused, "message_hidden": "" if message else " hidden"}
        body = localize(self.template, cookie)
        for key, value in values.items():
            body = body.replace("{{" + key + "}}", value if key == "message_hidden"
                                else html.escape(value))
        response = Response(body, status, media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-store", **(headers or {})})
        self.set_cookie(request, response, CSRF_COOKIE, csrf, path="/login", max_age=3600)
        return response

    def refuse(self, request: Request, reason: str, status: int, message: str,
               next_path: str | None = None) -> Response:
        """The page saying why a sign-in was refused (counted by ``reason``; ``message``: a
        ``login.msg.*`` key)."""
        self.dashboard.metrics.sign_ins.labels(outcome="refused", reason=reason).inc()
        return self.page(request, message=message, status=status, refused=reason,
                         next_path=next_path)

    def refuse_foreign(self, request: Request) -> Response | None:
        """The refusal (403) of a form posted from another site, else None."""
        if posted_here(request, self.dashboard.origins):
            return None
        return self.refuse(request, "csrf", 403, "login.msg.csrf")

    def set_cookie(self, request: Request, response: Response, name: str, value: str, *,
                   path: str, max_age: int) -> None:
        """An ``HttpOnly``, ``SameSite=Strict`` cookie, ``Secure`` over TLS (or always, with
        ``IOC_SECURE_COOKIES=always``)."""
        secure = (self.dashboard.settings.secure_cookies == "always"
                  or request.url.scheme in ("https", "wss"))
        response.set_cookie(name, value, max_age=max_age, path=path, secure=secure,
                            httponly=True, samesite="strict")
