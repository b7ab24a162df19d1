"""The dashboard's HTTP routes on Starlette: the pages, the static assets, the JSON API (the
live state, the summary, recent history, the catalog), the archive's API, ``/healthz`` and
``/metrics``; ``/ws`` is the websocket of :mod:`dashboards.live`.

Who may read what: the assets, the catalog, the messages (``/i18n/<lang>``), ``/login``,
``/healthz`` and ``/metrics`` carry no alert content and need no credentials; the pages
(the wall, the summary, the reports) need a signed-in session and send a browser without
one to the login page (303); everything under ``/api/`` but the catalog needs a session or
a bearer key (an API key or an ``IOC_*_TOKEN``) of any role, else 401, and answers with what
the principal's scope holds only (:mod:`dashboards.scope`; asking for a district or group
outside it: 403). Sign-in itself is :mod:`dashboards.signin` (sign-out and ``/api/me``:
:mod:`dashboards.signout`). The security headers are added around all of it by
:class:`dashboards.hardening.Edge`.
"""

from __future__ import annotations

import http
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from archive.accounts import Principal
from dashboards import protocol
from dashboards import scope as scoping
from dashboards.auth import bearer
from dashboards.feedback import feedback_routes
from dashboards.geo import map_routes
from dashboards.history import handles as history_handles
from dashboards.i18n import catalog_route
from dashboards.identity import SESSION_COOKIE, Who, cookie_value
from dashboards.loginpage import LoginPage, login_redirect
from dashboards.signin import SignIn
from dashboards.signout import SignOut
from dashboards.state import encode
from ioc import catalog
from ioc.events import SEVERITIES

if TYPE_CHECKING:
    from dashboards.server import Dashboard

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGES = {"/": "wall.html", "/summary": "summary.html", "/reports": "reports.html"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
    ".ico": "image/x-icon", ".woff2": "font/woff2", ".map": "application/json",
    ".txt": "text/plain; charset=utf-8", ".webmanifest": "application/manifest+json",
}
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ioc"'}
GET = ["GET"]


def text(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    """A plain-text answer (errors say why in one line)."""
    return PlainTextResponse(body, status, headers=headers)


def json_answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    """Encoded JSON, never cached (it is live data)."""
    return Response(body, status, headers={"Cache-Control": "no-store", **(headers or {})},
                    media_type="application/json")


def static_file(static_dir: Path, name: str) -> Response:
    """``name`` under ``static_dir`` (already URL-decoded once by the server), or 404 for
    anything that is not a plain file inside it: no ``..``, no hidden files, no links out.

    >>> static_file(STATIC_DIR, "../server.py").status_code
    404
    """
    parts = name.split("/")
    if not name or "\\" in name or "\x00" in name or \
            any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return text(404, "not found\n")
    path = (static_dir / name).resolve()
    if not path.is_relative_to(static_dir) or not path.is_file():
        return text(404, "not found\n")
    ctype = CONTENT_TYPES.get(path.suffix.lower()) or \
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(path.read_bytes(), 200, headers={"Cache-Control": "no-cache"},
                    media_type=ctype)


def catalog_body() -> dict[str, Any]:
    """What ``/api/catalog`` serves: groups with metrics and KPIs, districts, severities."""
    groups = []
    for g in catalog.CATALOG:
        groups.append({
            "slug": g.slug, "number": g.number, "name": g.name, "description": g.description,
            "window_s": g.window_s, "sources": len(g.sources()),
            "metrics": [{"name": m.name, "unit": m.unit, "kind": m.kind,
                         "normal": list(m.normal), "breach_above": m.breach_above,
                         "breach_below": m.breach_below, "description": m.description}
                        for m in g.metrics],
            "kpis": [{"name": k.name, "label": k.label, "op": k.op, "metric": k.metric,
                      "unit": k.unit} for k in g.kpis],
        })
    return {"v": protocol.VERSION, "groups": groups,
            "districts": [{"name": d.name, "code": d.code, "lat": d.lat, "lon": d.lon}
                          for d in catalog.DISTRICTS],
            "severities": list(SEVERITIES), "roles": list(protocol.ROLES)}


class Site:
    """The HTTP handlers of one :class:`~dashboards.server.Dashboard`."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.catalog = encode(catalog_body())
        pages = LoginPage(dashboard)
        self.signin = SignIn(dashboard, pages)
        self.signout = SignOut(dashboard, pages)

    async def who(self, request: Request, *, count: bool = True) -> Who:
        """The request's principal: its bearer key (a non-empty ``Authorization: Bearer``)
        or else its session cookie. A refusal is counted (``count``) by reason."""
        token = bearer(request.headers.get("authorization"))
        cookie = cookie_value(request.headers.get("cookie"), SESSION_COOKIE)
        who = await self.dashboard.gate.of(token or None, cookie)
        if who.principal is None and count:
            self.dashboard.metrics.auth_refusals.labels(reason=who.reason).inc()
        return who

    def unauthorized(self, who: Who) -> Response:
        """401 (503 when the accounts database cannot be reached) saying why."""
        if who.reason == "unavailable":
            return text(503, "the accounts database cannot be reached; try again\n")
        why = {"no_credentials": "sign in, or send a bearer key",
               "bad_token": "missing or bad bearer token", "bad_key": "unknown or revoked key",
               }.get(who.reason, f"session {who.reason.replace('_', ' ')}; sign in again")
        return text(401, why + "\n", BEARER_CHALLENGE)

    async def page(self, request: Request) -> Response:
        """A page for a signed-in browser; the login page for anyone else."""
        who = await self.who(request)
        if who.principal is None:
            return login_redirect(request.url.path, request.url.query, who)
        return static_file(self.dashboard.static_dir, PAGES[request.url.path])

    async def asset(self, request: Request) -> Response:
        return static_file(self.dashboard.static_dir, request.path_params["name"])

    async def healthz(self, request: Request) -> Response:
        """``ok``; ``degraded`` (200, with ``reasons``: the dashboard itself works, a restart
        would not bring indicators back); ``starting`` / ``kafka_unavailable`` (503)."""
        status, body = self.dashboard.health()
        return json_answer(status, encode(body))

    async def metrics(self, request: Request) -> Response:
        self.dashboard.board.sync_counters()
        return Response(generate_latest(self.dashboard.registry), 200,
                        media_type=CONTENT_TYPE_LATEST)

    async def catalog_api(self, request: Request) -> Response:
        return json_answer(200, self.catalog)

    async def websocket_without_upgrade(self, request: Request) -> Response:
        return text(426, "upgrade required: /ws is a websocket (docs/protocol.md)\n",
                    {"Upgrade": "websocket", "Connection": "Upgrade"})

    def out_of_scope(self, principal: Principal, field: str) -> Response:
        """403 for a query parameter asking for something outside the principal's scope
        (counted as ``out_of_scope`` in ``ioc_dashboard_auth_refusals_total``)."""
        self.dashboard.metrics.auth_refusals.labels(reason="out_of_scope").inc()
        return json_answer(403, encode({"error": field, "reason": "outside your scope ("
                                        f"{scoping.describe(principal.scope)})"}))

    async def live_api(self, request: Request) -> Response:
        """``/api/state``, ``/api/summary``, ``/api/history``: any role's bearer token; what
        the principal's scope holds only."""
        who = await self.who(request)
        if who.principal is None:
            return self.unauthorized(who)
        principal = who.principal
        scope = principal.scope
        board = self.dashboard.board
        path = request.url.path
        if path == "/api/summary":
            return json_answer(200, board.summary(scoping.key(scope)))
        if path == "/api/state":
            return json_answer(200, board.viewer_snapshot(principal.role, scope))
        query = parse_qs(request.url.query)
        group = (query.get("group") or [""])[0]
        districts = query.get("district")
        district = districts[0] if districts else None
        if group not in catalog.GROUPS:
            return json_answer(400, encode(
                {"error": "group", "reason": f"unknown or missing group {group!r}"}))
        if district is not None and district not in catalog.DISTRICT_NAMES:
            return json_answer(400, encode(
                {"error": "district", "reason": f"unknown district {district!r}"}))
        outside = scoping.check_place(scope, district=district, group=group)
        if outside is not None:
            return self.out_of_scope(principal, outside)
        return json_answer(200, encode(board.state.history(
            group, district, scope.districts if scope.districts else None)))

    async def other(self, request: Request) -> Response:
        """The archive's routes (any role may read it), else 404."""
        path = request.url.path
        if not history_handles(path):
            return text(404, "not found\n")
        who = await self.who(request)
        if who.principal is None:
            return self.unauthorized(who)
        got = await self.dashboard.history.answer(path, parse_qs(request.url.query,
                                                         keep_blank_values=True),
                                                  who.principal.scope)
        if got.status == 403:
            self.dashboard.metrics.auth_refusals.labels(reason="out_of_scope").inc()
        return Response(got.body, got.status, media_type=got.content_type,
                        headers={"Cache-Control": "no-store", **dict(got.headers)})

    def routes(self, websocket: Callable[[WebSocket], Awaitable[None]]) -> list[BaseRoute]:
        """Every route; ``websocket`` serves ``/ws``."""
        return [
            *(Route(path, self.page, methods=GET) for path in PAGES),
            Route("/static/{name:path}", self.asset, methods=GET),
            Route("/healthz", self.healthz, methods=GET),
            Route("/metrics", self.metrics, methods=GET),
            Route("/api/catalog", self.catalog_api, methods=GET),
            Route("/login", self.signin.login_page, methods=GET),
            Route("/login", self.signin.login, methods=["POST"]),
            Route("/login/once", self.signin.once, methods=GET),
            Route("/logout", self.signout.logout, methods=["POST"]),
            Route("/api/me", self.signout.me, methods=GET),
            *(Route(p, self.live_api, methods=GET)
              for p in ("/api/state", "/api/summary", "/api/history")),
            *map_routes(self),
            *feedback_routes(self),
            catalog_route(),
            WebSocketRoute("/ws", websocket),
            Route("/ws", self.websocket_without_upgrade, methods=GET),
            Route("/{path:path}", self.other, methods=GET),
        ]


async def _refused(request: Request, exc: Exception) -> Response:
    """404 and 405 in the same words as the routes' own."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == http.HTTPStatus.METHOD_NOT_ALLOWED:
        allowed = (exc.headers or {}).get("Allow", "GET")
        return text(405, f"only {allowed}\n", dict(exc.headers or {}))
    return text(exc.status_code, f"{exc.detail.lower()}\n", dict(exc.headers or {}))


def build_app(dashboard: Dashboard) -> Starlette:
    """The Starlette application of ``dashboard`` (without :class:`~dashboards.hardening.Edge`,
    which the server wraps around it)."""
    site = dashboard.site = Site(dashboard)
    return Starlette(routes=site.routes(dashboard.live.endpoint),
                     exception_handlers={404: _refused, 405: _refused})
