"""The engineers' panel on detector feedback: ``/api/feedback`` (JSON).

What operators' labels say about each detector and metric (:func:`archive.feedback.
feedback_report`): engineers and admins only, checked here on the server (any other role:
403, counted as ``role`` in ``ioc_dashboard_auth_refusals_total``; no credentials: 401). The
archive is read in a worker thread through the dashboard's history store, so the event loop
never waits on the database; an archive that cannot be reached is a 503 with the reason.

>>> feedback_query({"since": ["1796353200"], "by": ["day"]})
(1796353200.0, None, 'day')
>>> feedback_query({"by": ["year"]})
Traceback (most recent call last):
...
ioc.errors.ValidationError: by: expected day, week or all, got 'year'
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from archive.feedback import feedback_report
from archive.store import Unavailable
from dashboards.history import parse_time
from dashboards.state import encode
from ioc.errors import ValidationError

if TYPE_CHECKING:
    from dashboards.web import Site

__all__ = ["FEEDBACK_ROLES", "feedback_query", "feedback_routes"]

FEEDBACK_ROLES = frozenset({"engineer", "admin"})
DEFAULT_SPAN_S = 30 * 86400.0
PERIODS = ("day", "week", "all")


def feedback_query(query: dict[str, list[str]]) -> tuple[float | None, float | None, str]:
    """(since, until, by) of the query string; ValidationError naming a bad parameter."""
    since = parse_time("since", (query.get("since") or [""])[0])
    until = parse_time("until", (query.get("until") or [""])[0])
    by = (query.get("by") or ["week"])[0]
    if by not in PERIODS:
        raise ValidationError("by", f"expected day, week or all, got {by!r:.20}")
    return since, until, by


def _answer(status: int, body: Any) -> Response:
    return Response(encode(body), status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


async def feedback_api(site: Site, request: Request) -> Response:
    """``GET /api/feedback?since=&until=&by=day|week|all`` (default: the last 30 days)."""
    who = await site.who(request)
    if who.principal is None:
        return site.unauthorized(who)
    if who.principal.role not in FEEDBACK_ROLES:
        site.dashboard.metrics.auth_refusals.labels(reason="role").inc()
        return _answer(403, {"error": "role", "reason": "detector feedback is for engineers"})
    try:
        since, until, by = feedback_query(parse_qs(request.url.query))
    except ValidationError as exc:
        return _answer(400, {"error": exc.field, "reason": exc.reason})
    if since is None:
        since = time.time() - DEFAULT_SPAN_S
    history = site.dashboard.history

    def read() -> dict[str, Any]:
        return feedback_report(history.store(), since=since, until=until, by=by)

    try:
        body = await asyncio.to_thread(read)
    except Unavailable as exc:
        return _answer(503, {"error": "archive", "reason": str(exc)[:300]})
    return _answer(200, body)


def feedback_routes(site: Site) -> list[BaseRoute]:
    """The panel's routes (``web.py`` adds them before its catch-all)."""
    return [Route("/api/feedback", functools.partial(feedback_api, site), methods=["GET"])]
