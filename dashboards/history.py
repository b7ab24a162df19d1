"""The dashboard's read-only window on the archive: history search, an alert's history, and
leadership reports (``/api/history/alerts``, ``/api/history/alerts/<id>``, ``/api/reports``,
``/api/reports.csv``; see docs/protocol.md).

The server authenticates (any role's bearer token) and hands the request here; this module
parses the query, runs :mod:`archive.queries` / :mod:`archive.report` in a worker thread (the
event loop never waits on the database) and answers an :class:`Answer` the server turns into
HTTP. It never writes the store. A bad parameter is a 400 naming it; a store that cannot be
opened or reached is a 503 with the reason, retried on a later request, never a traceback.

>>> parse_time("since", "2026-12-04T10:00:00+07:00")
1796353200.0
>>> parse_time("since", "soon")
Traceback (most recent call last):
...
ioc.errors.ValidationError: since: expected epoch seconds or an ISO 8601 time, got 'soon'
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import sqlalchemy as sa

from archive import queries, report
from archive.accounts import Scope
from archive.store import Store, Unavailable
from dashboards import scope as scoping
from ioc.errors import ConfigError, IocError, UsageError, ValidationError
from ioc.settings import Settings

__all__ = ["Answer", "History", "parse_time"]

log = logging.getLogger("ioc.dashboard.history")
T = TypeVar("T")
SEARCH_PREFIX = "/api/history/alerts"
ROUTES = ("/api/reports", "/api/reports.csv")
RETRY_OPEN_S = 5.0
TREND_SPAN_S = 86_400.0
TREND_REFRESH_S = 60.0


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status code, body, content type and extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _error(status: int, field: str, reason: str) -> Answer:
    return Answer(status, json.dumps({"error": field, "reason": reason}).encode())


def handles(path: str) -> bool:
    """Whether ``path`` is one of this module's routes."""
    return path in ROUTES or path == SEARCH_PREFIX or path.startswith(SEARCH_PREFIX + "/")


def parse_time(name: str, text: str | None) -> float | None:
    """Epoch seconds from epoch seconds or an ISO 8601 time (a time without offset is in Da
    Nang time); None for empty; ValidationError naming ``name`` otherwise."""
    if text is None or not text.strip():
        return None
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            raise ValidationError(name, f"expected epoch seconds or an ISO 8601 time, got "
                                  f"{raw[:40]!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=report.DA_NANG)
        value = when.timestamp()
    if not math.isfinite(value):
        raise ValidationError(name, f"expected a finite time, got {raw[:40]!r}")
    return value


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError(name, "given more than once")
    return values[0]


def _only(query: dict[str, list[str]], known: set[str]) -> None:
    extra = sorted(set(query) - known)
    if extra:
        raise ValidationError(extra[0][:40], f"unknown parameter (known: "
                              f"{', '.join(sorted(known))})")


class History:
    """The archive routes of one dashboard. ``opener`` makes the store (default: the
    settings' archive, migrated like ``ioc archive`` does); it is called again, at most every
    5 s, until it succeeds."""

    def __init__(self, settings: Settings, *, opener: Callable[[], Store] | None = None,
                 max_parallel: int = 4) -> None:
        self.settings = settings
        self._opener = opener or self._default_opener
        self._store: Store | None = None
        self._failed_at: float | None = None
        self._error = ""
        self._lock = threading.Lock()
        self._slots = asyncio.Semaphore(max_parallel)
        self.trends: dict[str, dict[float, dict[str, float]]] = {}
        self.district_trends: dict[str, dict[float, dict[str, float]]] = {}

    def _default_opener(self) -> Store:
        from archive.run import open_store

        return open_store(self.settings, migrate=True)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def store(self) -> Store:
        """The open store, opening it if needed; Unavailable with the reason otherwise."""
        with self._lock:
            if self._store is not None:
                return self._store
            now = time.monotonic()
            if self._failed_at is not None and now - self._failed_at < RETRY_OPEN_S:
                raise Unavailable(self._error)
            try:
                self._store = self._opener()
            except (IocError, OSError) as exc:
                self._failed_at, self._error = now, str(exc)[:500]
                log.warning("dashboard: the archive is unavailable: %s", self._error)
                raise Unavailable(self._error) from None
            self._failed_at = None
            return self._store

    # --- the summary's 24-hour trends from the hourly roll-ups --------------------------------
    def _archive_exists(self) -> bool:
        """False for an embedded SQLite archive nobody has created yet (the background refresh
        never creates one; a request to an archive route does)."""
        if self._store is not None or self.settings.database_url:
            return True
        from archive.store import default_url

        return Path(default_url(self.settings.data_dir)[len("sqlite:///"):]).exists()

    def load_trends(self, now: float) -> bool:
        """Read the last 25 hours of hourly KPI roll-ups (blocking: run it in a thread);
        False when there is no archive yet."""
        if not self._archive_exists():
            return False
        store = self.store()
        start = now - now % 3600 - TREND_SPAN_S
        try:
            self.trends = report.kpi_trends(store, since=start, until=now + 3600)
            self.district_trends = report.district_trends(store, since=start,
                                                          until=now + 3600)
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable(str(getattr(exc, "orig", None) or exc).strip()[:300]) from None
        return True

    async def refresh_trends(self, on_change: Callable[[], object],
                             every_s: float = TREND_REFRESH_S) -> None:
        """Reload the trends every ``every_s`` seconds until cancelled; ``on_change`` after
        each load (the server republishes the summary)."""
        while True:
            try:
                if await asyncio.to_thread(self.load_trends, time.time()):
                    on_change()
            except (IocError, OSError) as exc:
                log.debug("dashboard: no trends from the archive: %s", exc)
            await asyncio.sleep(every_s)

    def fill_trends(self, summary: dict[str, Any], bucket_s: float = 300.0) -> dict[str, Any]:
        """``summary`` with each group's and each district's 24-hour trend completed from the
        archive: every 5-minute bucket of an archived hour the live trend lacks gets the
        hour's figures (``"archived": true``); live points are kept as they are."""
        if not (self.trends or self.district_trends):
            return summary
        as_of = summary.get("as_of") or time.time()
        for rows, key, archived in (("groups", "group", self.trends),
                                    ("districts", "district", self.district_trends)):
            for row in summary.get(rows, []):
                hours = archived.get(row[key])
                if hours:
                    row["trend"] = _filled(row.get("trend", []), hours, as_of, bucket_s,
                                           kpis=rows == "groups")
        return summary

    # --- routes -------------------------------------------------------------------------------
    async def answer(self, path: str, query: dict[str, list[str]],
                     scope: Scope = scoping.CITY) -> Answer:
        """The answer to an authenticated GET of one of this module's routes, for a
        principal of ``scope``: only what it holds; a ``group`` or ``district`` parameter
        outside it is a 403 naming the parameter, an alert outside it a 404 (as if absent).
        """
        try:
            outside = scoping.check_place(scope, district=_one(query, "district"),
                                          group=_one(query, "group"))
            if outside is not None:
                return _error(403, outside, f"outside your scope ({scoping.describe(scope)})")
            if path == SEARCH_PREFIX:
                return await self._run(lambda s: self._search(s, query, scope))
            if path.startswith(SEARCH_PREFIX + "/"):
                alert_id = unquote(path[len(SEARCH_PREFIX) + 1:])
                return await self._run(lambda s: self._alert(s, alert_id, scope))
            return await self._run(lambda s: self._report(s, path, query, scope))
        except ValidationError as exc:
            return _error(400, exc.field or "request", exc.reason)
        except UsageError as exc:
            field, _, reason = str(exc).partition(": ")
            return _error(400, field.lstrip("-") if reason else "request", reason or field)
        except (Unavailable, ConfigError) as exc:
            return _error(503, "archive_unavailable",
                          f"the archive database is unavailable: {exc}")

    async def _run(self, work: Callable[[Store], Answer]) -> Answer:
        def call() -> Answer:
            store = self.store()
            try:
                return work(store)
            except Exception as exc:  # a database error is a 503, never a traceback
                if isinstance(exc, sa.exc.SQLAlchemyError):
                    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
                    raise Unavailable(text[0] if text else type(exc).__name__) from None
                raise

        async with self._slots:
            return await asyncio.to_thread(call)

    def _search(self, store: Store, query: dict[str, list[str]], scope: Scope) -> Answer:
        known = {"text", "group", "district", "source", "severity", "status", "since", "until",
                 "limit", "cursor"}
        _only(query, known)
        limit_text = _one(query, "limit") or "50"
        try:
            limit = int(limit_text)
        except ValueError:
            raise ValidationError("limit", f"expected an integer, got {limit_text[:20]!r}"
                                  ) from None
        page = queries.search_alerts(
            store, text=_one(query, "text"), group=_one(query, "group"),
            district=_one(query, "district"), source=_one(query, "source"),
            severity=_one(query, "severity"), status=_one(query, "status"),
            since=parse_time("since", _one(query, "since")),
            until=parse_time("until", _one(query, "until")), limit=limit,
            cursor=_one(query, "cursor"), scope=scope)
        return Answer(200, json.dumps({"alerts": page.rows, "next": page.next_cursor}).encode())

    def _alert(self, store: Store, alert_id: str, scope: Scope) -> Answer:
        found = queries.alert_history(store, alert_id, scope)
        if found is None:
            return _error(404, "alert_id", f"the archive holds no alert {alert_id[:400]!r}")
        return Answer(200, json.dumps(found).encode())

    def _report(self, store: Store, path: str, query: dict[str, list[str]],
                scope: Scope) -> Answer:
        known = {"period", "from", "to", "group", "district"}
        _only(query, known)
        start = _one(query, "from")
        if not start:
            raise ValidationError("from", "missing: the first day of the period, YYYY-MM-DD")
        p = report.period(_one(query, "period") or "custom", start, _one(query, "to"))
        group, district = _one(query, "group") or None, _one(query, "district") or None
        data = report.build_report(store, p, sla=self.settings.ack_sla_s, group=group,
                                   district=district, scope=scope)
        if path.endswith(".csv"):
            name = f"ioc-report-{p.first_day}-{p.last_day}.csv"
            return Answer(200, report.to_csv(data).encode(), "text/csv; charset=utf-8",
                          (("Content-Disposition", f'attachment; filename="{name}"'),))
        return Answer(200, report.to_json(data).encode())


def _filled(points: list[dict[str, Any]], hours: dict[float, dict[str, float]], as_of: float,
            bucket_s: float, *, kpis: bool) -> list[dict[str, Any]]:
    """``points`` (live) with the buckets of the archived ``hours`` they lack, in the last
    24 hours up to ``as_of``; a group's point holds its ``kpis``, a district's the figures.

    >>> _filled([{"t": 600.0, "open_alerts": 3}], {0.0: {"open_alerts": 1.0}}, 800.0, 300.0,
    ...         kpis=False)  # doctest: +NORMALIZE_WHITESPACE
    [{'t': 0.0, 'open_alerts': 1.0, 'archived': True},
     {'t': 300.0, 'open_alerts': 1.0, 'archived': True}, {'t': 600.0, 'open_alerts': 3}]
    """
    floor = as_of - TREND_SPAN_S
    out = list(points)
    live = {int(p["t"] // bucket_s) for p in points}
    for hour, figures in hours.items():
        for k in range(int(3600 // bucket_s)):
            t = hour + k * bucket_s
            b = int(t // bucket_s)
            if b in live or t < floor or t > as_of:
                continue
            body = {"kpis": dict(figures)} if kpis else dict(figures)
            out.append({"t": b * bucket_s, **body, "archived": True})
    return sorted(out, key=lambda p: p["t"])

