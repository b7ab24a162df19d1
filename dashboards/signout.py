"""Sign-out and ``/api/me``: ``POST /logout`` ends the session and its websockets (a form
from this site, with the sign-out token derived from the session,
:func:`~dashboards.identity.csrf_of`), and ``/api/me`` says who a request is (with that token,
for a session).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dashboards.forms import TooBig, read_form
from dashboards.identity import SESSION_COOKIE, cookie_value, csrf_of, same_secret
from dashboards.loginpage import LoginPage
from dashboards.state import encode

if TYPE_CHECKING:
    from dashboards.server import Dashboard


class SignOut:
    """``POST /logout`` and ``GET /api/me`` of one dashboard."""

    def __init__(self, dashboard: Dashboard, pages: LoginPage) -> None:
        self.dashboard = dashboard
        self.pages = pages

    async def logout(self, request: Request) -> Response:
        """End the session (and its websockets) and go back to the login page."""
        if (foreign := self.pages.refuse_foreign(request)) is not None:
            return foreign
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
