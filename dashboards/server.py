"""The dashboard server: one port for the websocket (``/ws``), the pages, the static assets,
the JSON API, ``/healthz`` and ``/metrics``.

A thin layer: it authenticates, moves bytes between sockets and :class:`~dashboards.hub.Hub`,
and wires the :class:`~dashboards.feed.Feed` into :class:`~dashboards.state.State`. Every
decision about who gets what lives in the hub; the protocol is ``docs/protocol.md``.

Start it from code with :func:`serve` (runs until cancelled) or :class:`Dashboard` (an async
context manager, for tests and the demo).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hmac
import http
import logging
import mimetypes
import secrets
import signal
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from dashboards import protocol
from dashboards.feed import Feed, Topics
from dashboards.history import History
from dashboards.history import handles as history_handles
from dashboards.hub import Client, Close, Hub, TokenBucket, meta_of
from dashboards.metrics import DashboardMetrics
from dashboards.protocol import ProtocolError, Subscription
from dashboards.state import State, encode
from dashboards.unregistered import UNREGISTERED_ROLES, Unregistered
from ioc import catalog
from ioc.errors import ConfigError, IocError, ValidationError
from ioc.events import SEVERITIES, Command, GroupIndicator, WindowSummary
from ioc.settings import Settings

log = logging.getLogger("ioc.dashboard")
STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGES = {"/": "wall.html", "/summary": "summary.html", "/reports": "reports.html"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
    ".ico": "image/x-icon", ".woff2": "font/woff2", ".map": "application/json",
    ".txt": "text/plain; charset=utf-8", ".webmanifest": "application/manifest+json",
}
# On every HTTP answer (pages, API, errors, the websocket upgrade): the pages load only their
# own scripts and styles (no inline script or style attribute), connect only to this origin,
# and may not be framed (clickjacking).
SECURITY_HEADERS = (
    ("Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
     "form-action 'none'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)
# Headers a request may carry once: two Authorization or Origin values would make the role or
# the origin check depend on which one is read.
SINGLE_HEADERS = ("Authorization", "Origin", "Host")
# How long a connection closed by the server (rate-limit abuse) may take to flush its replies.
FLUSH_TIMEOUT_S = 5.0


# --- tokens and origins --------------------------------------------------------------------

@dataclass(frozen=True)
class Tokens:
    """The bearer token of each role; ``generated`` names the roles whose token was made up
    at start because its setting was empty."""

    operator: str
    leadership: str
    engineer: str
    generated: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> Tokens:
        """Tokens from settings; random ones for unset roles. Raise ConfigError when two roles
        share a token (the role would be ambiguous)."""
        given = {"operator": settings.operator_token, "leadership": settings.leadership_token,
                 "engineer": settings.engineer_token}
        made = frozenset(role for role, tok in given.items() if not tok)
        values = {role: tok or secrets.token_urlsafe(24) for role, tok in given.items()}
        if len(set(values.values())) != len(values):
            raise ConfigError("IOC_OPERATOR_TOKEN, IOC_LEADERSHIP_TOKEN and IOC_ENGINEER_TOKEN "
                              "must differ (a token decides the role)")
        for role, tok in values.items():
            if len(tok) < 8:
                raise ConfigError(f"IOC_{role.upper()}_TOKEN: use at least 8 characters")
        return cls(generated=made, **values)

    def role_of(self, token: str | None) -> str | None:
        """The role ``token`` belongs to, compared in constant time (every role is checked)."""
        if not token:
            return None
        given = token.encode()
        found = None
        for role in protocol.ROLES:
            if hmac.compare_digest(given, getattr(self, role).encode()):
                found = role
        return found


def _origin_key(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    default = 443 if parts.scheme in ("https", "wss") else 80
    return parts.scheme, parts.hostname, port or default


def own_origins(host: str, port: int) -> tuple[str, ...]:
    """The origins of the pages this dashboard serves itself: loopback names and the bind
    address, on its port. A wildcard bind (``0.0.0.0``, ``::``) adds no name: the public
    name of such a server goes in ``IOC_ALLOWED_ORIGINS``.

    >>> own_origins("127.0.0.1", 8080)
    ('http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080')
    >>> own_origins("10.0.0.5", 80)[-1]
    'http://10.0.0.5:80'
    """
    names = ["127.0.0.1", "localhost", "[::1]"]
    if host and host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", "::1"):
        names.append(f"[{host}]" if ":" in host else host)
    return tuple(f"http://{name}:{port}" for name in names)


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """An ``Origin`` is allowed when absent (not a browser) or one of ``allowed`` (the
    dashboard's :func:`own_origins` and ``IOC_ALLOWED_ORIGINS``), compared as (scheme, host,
    port). The request's ``Host`` header is never consulted: a page on a name the attacker
    points at 127.0.0.1 (DNS rebinding) sends its own name as ``Origin`` and is refused.

    >>> own = own_origins("127.0.0.1", 8080)
    >>> origin_allowed("http://127.0.0.1:8080", own), origin_allowed(None, own)
    (True, True)
    >>> origin_allowed("http://evil.example:8080", own), origin_allowed("null", own)
    (False, False)
    >>> origin_allowed("https://wall.city.vn", ("https://wall.city.vn:443",))
    True
    """
    if origin is None:
        return True
    key = _origin_key(origin)
    if key is None:
        return False
    return any(_origin_key(a) == key for a in allowed)


def duplicate_header(headers: Headers, names: Iterable[str] = SINGLE_HEADERS) -> str | None:
    """The first of ``names`` the request carries more than once (an ambiguous request:
    answered 400), else None.

    >>> duplicate_header(Headers([("Origin", "http://a"), ("origin", "http://b")]))
    'Origin'
    >>> duplicate_header(Headers([("Origin", "http://a")])) is None
    True
    """
    for name in names:
        if len(headers.get_all(name)) > 1:
            return name
    return None


def _bearer(headers: Headers) -> str | None:
    value = headers.get("Authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


# --- the server ----------------------------------------------------------------------------

@dataclass(eq=False)
class _Conn:
    """Per-connection bookkeeping of the socket layer."""

    ws: ServerConnection
    event: asyncio.Event = field(default_factory=asyncio.Event)
    woken_at: float | None = None
    client: Client | None = None
    name: str | None = None
    close_reason: str | None = None


Ready = Callable[["Dashboard"], Any] | asyncio.Event | None


class Dashboard:
    """The dashboard server. ``async with Dashboard(settings, bootstrap, port=0) as d:``
    serves on ``d.port`` until the block ends.

    ``topic_names`` makes the topics injectable (tests use their own); ``static_dir`` the
    pages; ``hub_options`` overrides hub limits (queue size, rate, ...); ``heartbeat_s``,
    ``summary_every_s`` and ``auth_timeout_s`` the timings of docs/protocol.md.
    """

    def __init__(self, settings: Settings, bootstrap: str, *, host: str | None = None,
                 port: int | None = None, topic_names: Topics | None = None,
                 registry: CollectorRegistry | None = None, static_dir: Path | None = None,
                 hub_options: dict[str, Any] | None = None,
                 heartbeat_s: float = protocol.HEARTBEAT_S,
                 summary_every_s: float = protocol.SUMMARY_EVERY_S,
                 auth_timeout_s: float = protocol.AUTH_TIMEOUT_S,
                 tokens: Tokens | None = None) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.host = host if host is not None else settings.dashboard_host
        self.requested_port = port if port is not None else settings.dashboard_port
        self.port = self.requested_port
        self.topics = topic_names or Topics()
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = DashboardMetrics(self.registry)
        self.static_dir = (static_dir or STATIC_DIR).resolve()
        self.tokens = tokens or Tokens.from_settings(settings)
        self.allowed_origins = tuple(o.strip() for o in settings.allowed_origins.split(",")
                                     if o.strip())
        self.origins: tuple[str, ...] = self.allowed_origins  # + own_origins once bound
        self.stale_after_s = settings.dashboard_stale_after_s
        self.heartbeat_s = heartbeat_s
        self.summary_every_s = summary_every_s
        self.auth_timeout_s = auth_timeout_s
        self.state = State(max_silence_s=settings.max_silence_s,
                           operators_may_silence_broadly=settings.operators_may_silence_broadly)
        self.hub = Hub(self._snapshot, epoch=_new_epoch(), **(hub_options or {}))
        self.feed = Feed(bootstrap, topic_names=self.topics, sink=self._on_records,
                         on_ready=self._on_ready, on_invalid=self._on_invalid,
                         read_committed=settings.processing_guarantee == "exactly_once")
        # role from a valid Authorization header, until the handler picks it up (weak: a
        # handshake that fails after process_request leaves nothing behind)
        self._header_roles: weakref.WeakKeyDictionary[ServerConnection, str] = \
            weakref.WeakKeyDictionary()
        self._conns: set[_Conn] = set()
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._snap_cache: dict[tuple[Any, ...], bytes] = {}
        self._snap_key: tuple[int, int, str, bool, int] = (-1, -1, "", False, -1)
        self._summary_key = -1
        self._dropped_seen: dict[str, int] = {}
        self._resyncs_seen: dict[str, int] = {}
        self._catalog = encode(_catalog_body())
        self.unregistered = Unregistered()
        self.history = History(settings)  # the archive, read-only
        self._unregistered_sent = 0
        # loop time of the newest indicator read from Kafka (None: none since start)
        self._indicator_at: float | None = None
        self._ready_at: float | None = None
        self._ws_logger = logging.getLogger("ioc.dashboard.ws")
        # websockets logs handshake headers (Authorization!) at DEBUG: never let it.
        # Its INFO lines (one per HTTP request) are noise; warnings and errors still show.
        self._ws_logger.setLevel(max(logging.WARNING, self._ws_logger.getEffectiveLevel()))

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the port, start consuming Kafka and the periodic tasks."""
        self._server = await ws_serve(
            self._handler, self.host, self.requested_port,
            process_request=self._process_request, process_response=_harden,
            max_size=protocol.MAX_MESSAGE_BYTES,
            ping_interval=protocol.PING_INTERVAL_S, ping_timeout=protocol.PING_TIMEOUT_S,
            close_timeout=5.0, max_queue=16, logger=self._ws_logger, compression=None)
        sockets = list(self._server.sockets)
        self.port = sockets[0].getsockname()[1] if sockets else self.requested_port
        self.origins = own_origins(self.host, self.port) + self.allowed_origins
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.feed.run(), name="dashboard-feed"),
                       loop.create_task(self._ticker(), name="dashboard-ticker"),
                       loop.create_task(self.history.refresh_trends(self._trends_loaded),
                                        name="dashboard-trends")]
        log.info("dashboard serving on %s", self.url)

    async def stop(self) -> None:
        """Close every connection (1001), stop the tasks and the Kafka clients."""
        if self._server is not None:
            self._server.close(close_connections=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 10)
            self._server = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self.feed.close()
        self.history.close()

    async def __aenter__(self) -> Dashboard:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base URL of the server."""
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def wall_url(self) -> str:
        """The operators' wall with the operator token in the fragment (never sent to the
        server by browsers; the page reads it and authenticates on ``/ws``)."""
        return f"{self.url}/#token={self.tokens.operator}"

    @property
    def summary_url(self) -> str:
        """The leadership summary with the leadership token in the fragment."""
        return f"{self.url}/summary#token={self.tokens.leadership}"

    @property
    def ws_url(self) -> str:
        """The websocket URL."""
        return self.url.replace("http://", "ws://", 1) + "/ws"

    # --- Kafka side -------------------------------------------------------------------------

    def _on_records(self, topic: str, records: list[Any]) -> None:
        self.metrics.records_consumed.labels(topic=topic).inc(len(records))
        now = asyncio.get_running_loop().time()
        live = self.hub.ready
        for record in records:
            if isinstance(record, GroupIndicator):
                self._indicator_at = now
            elif isinstance(record, WindowSummary):
                self.unregistered.observe(record)
            changed, prev = self.state.apply(record)
            if changed and isinstance(record, Command):  # a silence made or lifted
                record = self.state.silence_of(record)
            if changed and live and record is not None:
                self.hub.publish(record, now=now, prev=prev)

    def _on_ready(self) -> None:
        now = asyncio.get_running_loop().time()
        self._ready_at = now
        self.hub.mark_ready(now=now, epoch=_new_epoch())
        self.metrics.ready.set(1)

    def indicators_age(self) -> float | None:
        """Seconds since the newest indicator arrived from Kafka, counted from when the state
        caught up at the earliest (records replayed at start are not news); None before."""
        if self._ready_at is None:
            return None
        since = max(self._ready_at, self._indicator_at or self._ready_at)
        return max(0.0, asyncio.get_running_loop().time() - since)

    def health_problems(self) -> list[str]:
        """Why the dashboard is degraded (empty: it is not): Kafka lost after start, or no
        indicator for longer than ``IOC_DASHBOARD_STALE_AFTER_S`` while connected."""
        problems = []
        if not self.feed.connected:
            problems.append(f"lost Kafka: {self.feed.error or 'reconnecting'}")
        age = self.indicators_age()
        if age is not None and self.feed.connected and age > self.stale_after_s:
            problems.append(f"no indicator on {self.topics.indicators} for {age:.0f} s "
                            f"(IOC_DASHBOARD_STALE_AFTER_S={self.stale_after_s:g})")
        return problems

    def _freshness(self) -> dict[str, Any]:
        """What a page needs to warn about stale data (heartbeats and snapshots)."""
        age = self.indicators_age()
        return {"indicators_age_s": None if age is None else round(age, 1),
                "stale_after_s": self.stale_after_s}

    def _on_invalid(self, topic: str, partition: int, offset: int,
                    exc: ValidationError) -> None:
        self.metrics.records_invalid.labels(topic=topic).inc()

    # --- snapshots and summaries ------------------------------------------------------------

    def _snapshot(self, client: Client, reason: str) -> bytes:
        key0 = (self.state.changes, self.hub.seq, self.hub.epoch, self.hub.ready,
                self.unregistered.version)
        if key0 != self._snap_key:
            self._snap_cache.clear()
            self._snap_key = key0
        key = (client.role, client.groups, client.districts, client.severities, reason)
        data = self._snap_cache.get(key)
        if data is None:
            body: dict[str, Any] = dict(self.state.snapshot(lambda r: client.accepts(meta_of(r))))
            if client.role in UNREGISTERED_ROLES:
                body["unregistered"] = self.unregistered.view()
            data = encode({"type": "snapshot", "v": protocol.VERSION, "epoch": self.hub.epoch,
                           "seq": self.hub.seq, "ready": self.hub.ready, "reason": reason,
                           **body})
            if len(self._snap_cache) < 64:
                self._snap_cache[key] = data
        # freshness changes by the second: added to the cached bytes, never cached
        data = data[:-1] + b"," + encode(self._freshness())[1:]
        self.metrics.snapshot_bytes.observe(len(data))
        return data

    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self.heartbeat_s
        while True:
            await asyncio.sleep(min(self.summary_every_s, self.heartbeat_s))
            if loop.time() >= next_beat:
                self.hub.heartbeat(time.time(), **self._freshness())
                next_beat = loop.time() + self.heartbeat_s
            if self.unregistered.version != self._unregistered_sent:
                self._unregistered_sent = self.unregistered.version
                frame = encode({"type": "unregistered", **self.unregistered.view()})
                for role in UNREGISTERED_ROLES:
                    self.hub.publish_to_role(role, "unregistered", frame)
            if self.state.changes != self._summary_key and \
                    any(c.summary for c in self.hub.clients.values()):
                self._summary_key = self.state.changes
                self.hub.publish_summary(encode(self.history.fill_trends(self.state.summary())))
            self._sync_counters()

    def _sync_counters(self) -> None:
        """Mirror the hub's plain counters into Prometheus."""
        for reason, n in self.hub.stats.dropped.items():
            seen = self._dropped_seen.get(reason, 0)
            if n > seen:
                self.metrics.messages_dropped.labels(reason=reason).inc(n - seen)
                self._dropped_seen[reason] = n
        for reason, n in self.hub.stats.resyncs.items():
            seen = self._resyncs_seen.get(reason, 0)
            if n > seen:
                self.metrics.resyncs.labels(reason=reason).inc(n - seen)
                self._resyncs_seen[reason] = n
        for role, n in self.hub.counts_by_role().items():
            self.metrics.clients.labels(role=role).set(n)
        by_sev = dict.fromkeys(SEVERITIES, 0)
        for a in self.state.alerts.values():
            by_sev[a.severity] += 1
        for sev, n in by_sev.items():
            self.metrics.open_alerts.labels(severity=sev).set(n)
        self.metrics.sequence.set(self.hub.seq)
        age = self.indicators_age()
        self.metrics.indicator_age.set(-1.0 if age is None else age)
        for view in self.unregistered.view()["groups"]:
            self.metrics.unregistered_sources.labels(group=view["group"]).set(view["count"])
        self.metrics.ready.set(1 if self.hub.ready else 0)

    # --- HTTP -------------------------------------------------------------------------------

    def _process_request(self, conn: ServerConnection, request: Request
                         ) -> Response | Awaitable[Response] | None:
        path, _, query = request.path.partition("?")
        method = getattr(request, "method", "GET")
        twice = duplicate_header(request.headers)
        if twice is not None:
            return _text(http.HTTPStatus.BAD_REQUEST, f"more than one {twice} header\n")
        if path == "/ws":
            origin = request.headers.get("Origin")
            if not origin_allowed(origin, self.origins):
                log.info("websocket refused: origin %r is not one of this dashboard's "
                         "(IOC_ALLOWED_ORIGINS)", origin[:200] if origin else origin)
                return _text(http.HTTPStatus.FORBIDDEN, "origin not allowed\n")
            token = _bearer(request.headers)
            if token is not None:
                role = self.tokens.role_of(token)
                if role is None:
                    return _text(http.HTTPStatus.UNAUTHORIZED, "bad token\n",
                                 [("WWW-Authenticate", 'Bearer realm="ioc"')])
                self._header_roles[conn] = role
            return None
        if method != "GET":
            return _text(http.HTTPStatus.METHOD_NOT_ALLOWED, "only GET\n", [("Allow", "GET")])
        if path in PAGES:
            return self._static(PAGES[path])
        if path.startswith("/static/"):
            return self._static(path[len("/static/"):])
        if path == "/healthz":
            return self._healthz()
        if path == "/metrics":
            self._sync_counters()
            return _response(http.HTTPStatus.OK, generate_latest(self.registry),
                             CONTENT_TYPE_LATEST)
        if path == "/api/catalog":
            return _json(http.HTTPStatus.OK, self._catalog)
        if history_handles(path):  # the archive: any role may read it
            role = self.tokens.role_of(_bearer(request.headers))
            if role is None:
                return _text(http.HTTPStatus.UNAUTHORIZED, "missing or bad bearer token\n",
                             [("WWW-Authenticate", 'Bearer realm="ioc"')])
            return self._archive_api(path, parse_qs(query, keep_blank_values=True))
        if path in ("/api/state", "/api/summary", "/api/history"):
            role = self.tokens.role_of(_bearer(request.headers))
            if role is None:
                return _text(http.HTTPStatus.UNAUTHORIZED, "missing or bad bearer token\n",
                             [("WWW-Authenticate", 'Bearer realm="ioc"')])
            return self._api(path, role, parse_qs(query))
        return _text(http.HTTPStatus.NOT_FOUND, "not found\n")

    def _trends_loaded(self) -> None:
        """The archive's hourly trends were (re)loaded: publish the summary again."""
        self._summary_key = -1

    async def _archive_api(self, path: str, query: dict[str, list[str]]) -> Response:
        got = await self.history.answer(path, query)
        extra = [("Cache-Control", "no-store"), *got.headers]
        return _response(http.HTTPStatus(got.status), got.body, got.content_type, extra)

    def _static(self, rel: str) -> Response:
        name = unquote(rel)
        parts = name.split("/")
        if not name or "\\" in name or "\x00" in name or \
                any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            return _text(http.HTTPStatus.NOT_FOUND, "not found\n")
        path = (self.static_dir / name).resolve()
        if not path.is_relative_to(self.static_dir) or not path.is_file():
            return _text(http.HTTPStatus.NOT_FOUND, "not found\n")
        ctype = CONTENT_TYPES.get(path.suffix.lower()) or \
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return _response(http.HTTPStatus.OK, path.read_bytes(), ctype,
                         [("Cache-Control", "no-cache")])

    def _healthz(self) -> Response:
        """``ok``; ``degraded`` (200, with ``reasons``: the dashboard itself works, a restart
        would not bring indicators back); ``starting`` / ``kafka_unavailable`` (503)."""
        ready = self.hub.ready
        problems = self.health_problems() if ready else []
        if ready:
            status = "degraded" if problems else "ok"
        elif not self.feed.connected and self.feed.error:
            status = "kafka_unavailable"
        else:
            status = "starting"
        body = {"status": status, "ready": ready, "kafka_connected": self.feed.connected,
                "reasons": problems, **self._freshness(),
                "clients": len(self.hub.clients), "seq": self.hub.seq,
                "open_alerts": len(self.state.alerts), "error": self.feed.error}
        code = http.HTTPStatus.OK if ready else http.HTTPStatus.SERVICE_UNAVAILABLE
        return _json(code, encode(body))

    def _api(self, path: str, role: str, query: dict[str, list[str]]) -> Response:
        if path == "/api/summary":
            return _json(http.HTTPStatus.OK,
                         encode(self.history.fill_trends(self.state.summary())))
        if path == "/api/state":
            viewer = Client(id=0, role=role, user=role, sub=Subscription(),
                            bucket=TokenBucket(1.0, 1.0, 1.0, 0.0))
            viewer.subscribe(Subscription())
            return _json(http.HTTPStatus.OK, self._snapshot(viewer, "initial"))
        group = (query.get("group") or [""])[0]
        districts = query.get("district")
        district = districts[0] if districts else None
        if group not in catalog.GROUPS:
            return _json(http.HTTPStatus.BAD_REQUEST, encode(
                {"error": "group", "reason": f"unknown or missing group {group!r}"}))
        if district is not None and district not in catalog.DISTRICT_NAMES:
            return _json(http.HTTPStatus.BAD_REQUEST, encode(
                {"error": "district", "reason": f"unknown district {district!r}"}))
        return _json(http.HTTPStatus.OK, encode(self.state.history(group, district)))

    # --- websocket --------------------------------------------------------------------------

    async def _handler(self, ws: ServerConnection) -> None:
        conn = _Conn(ws)
        header_role = self._header_roles.pop(ws, None)
        self._conns.add(conn)
        writer: asyncio.Task[None] | None = None
        reason = "normal"
        try:
            client = await self._authenticate(conn, header_role)
            if client is None:
                reason = "auth"
                return
            writer = asyncio.get_running_loop().create_task(self._writer(conn, client))
            reason = await self._reader(conn, client)
            if client.closing:  # the writer sends what is queued, then the close
                await asyncio.wait({writer}, timeout=FLUSH_TIMEOUT_S)
        except ConnectionClosed as exc:
            reason = _close_reason(exc)
        finally:
            self._conns.discard(conn)
            if conn.client is not None:
                self.hub.disconnect(conn.client)
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await writer
            reason = conn.close_reason or reason
            self.metrics.disconnects.labels(reason=reason).inc()

    async def _authenticate(self, conn: _Conn, header_role: str | None) -> Client | None:
        ws = conn.ws
        loop = asyncio.get_running_loop()
        sub = Subscription()
        resume: protocol.Resume | None = None
        role = header_role
        if role is None:
            try:
                raw = await asyncio.wait_for(ws.recv(), self.auth_timeout_s)
            except TimeoutError:
                await ws.close(protocol.CLOSE_POLICY, "authentication timeout")
                return None
            try:
                if isinstance(raw, bytes):
                    raise ProtocolError("bad_json", None, "binary frames are not accepted")
                msg = protocol.parse_client(raw)
                if not isinstance(msg, protocol.Auth):
                    raise ProtocolError("unauthorized", "type",
                                        "authenticate first: {\"type\":\"auth\",\"token\":...}")
                role = self.tokens.role_of(msg.token)
                if role is None:
                    raise ProtocolError("unauthorized", "token", "missing or unknown token")
                sub = msg.subscribe or sub
                self._check_subscription(role, sub)
                resume = msg.resume
                conn.name = msg.name
            except ProtocolError as exc:
                self.metrics.client_errors.labels(code=exc.code).inc()
                _log_refusal(ws, exc)
                await ws.send(exc.frame().decode())
                await ws.close(protocol.CLOSE_POLICY, "authentication failed")
                return None
        user = self._audit_user(role)  # a declared name is not verified: never recorded

        def wake() -> None:
            if conn.woken_at is None:
                conn.woken_at = loop.time()
            conn.event.set()

        client = self.hub.connect(role=role, user=user, sub=sub, now=loop.time(),
                                  resume=resume, wake=wake)
        conn.client = client
        return client

    def _check_subscription(self, role: str, sub: Subscription) -> None:
        if sub.windows and role not in protocol.WINDOW_ROLES:
            raise ProtocolError("forbidden", "windows",
                                f"the {role} role cannot subscribe to window summaries")

    async def _reader(self, conn: _Conn, client: Client) -> str:
        ws = conn.ws
        loop = asyncio.get_running_loop()
        async for raw in ws:
            allowed = self.hub.allow(client, loop.time())
            if isinstance(allowed, Close):
                # the replies already queued, then the error saying why, then the close
                self.metrics.client_errors.labels(code="rate_limited").inc()
                conn.close_reason = "rate_limit"
                self.hub.send(client, protocol.error_frame(
                    "rate_limited", f"{allowed.reason}; closing the connection"))
                self.hub.close(client, allowed)
                return "rate_limit"
            try:
                if not allowed:
                    raise ProtocolError("rate_limited", None,
                                        f"over {self.hub.rate_per_s:g} messages/s; "
                                        "this message was ignored")
                if isinstance(raw, bytes):
                    raise ProtocolError("bad_json", None, "binary frames are not accepted")
                await self._dispatch(conn, client, protocol.parse_client(raw))
            except ProtocolError as exc:
                self.metrics.client_errors.labels(code=exc.code).inc()
                _log_refusal(ws, exc)
                if exc.code in ("forbidden", "invalid_command", "unavailable"):
                    self.metrics.commands_rejected.labels(reason=exc.code).inc()
                self.hub.send(client, exc.frame())
        return "normal"

    async def _dispatch(self, conn: _Conn, client: Client, msg: protocol.ClientMessage) -> None:
        if isinstance(msg, protocol.Ping):
            self.hub.send(client, protocol.frame({"type": "pong", "ref": msg.ref,
                                                  "ts": time.time()}))
        elif isinstance(msg, protocol.Subscribe):
            sub = msg.subscription()
            self._check_subscription(client.role, sub)
            self.hub.resubscribe(client, sub)
        elif isinstance(msg, protocol.Auth):
            if msg.token is not None and self.tokens.role_of(msg.token) != client.role:
                raise ProtocolError("unauthorized", "token",
                                    "already authenticated with another role's token")
            if msg.name is not None:
                conn.name = msg.name
            if msg.subscribe is not None:
                self._check_subscription(client.role, msg.subscribe)
                self.hub.resubscribe(client, msg.subscribe)
        elif isinstance(msg, protocol.CommandRequest):
            await self._command(conn, client, msg)

    def _audit_user(self, role: str) -> str:
        """The audit ``user`` of a role's commands: the role and its token's label."""
        label = self.settings.operator_label if role == "operator" else ""
        return protocol.audit_user(role, label)

    async def _command(self, conn: _Conn, client: Client, req: protocol.CommandRequest) -> None:
        known = self.state.knows_alert if self.hub.ready else None
        settings = self.settings
        command = protocol.build_command(
            req, role=client.role, now=time.time(), command_id=uuid.uuid4().hex, known=known,
            label=settings.operator_label if client.role == "operator" else "",
            max_silence_s=settings.max_silence_s,
            operators_may_silence_broadly=settings.operators_may_silence_broadly)
        try:
            await self.feed.send_command(command, protocol.command_key(command),
                                         timeout=protocol.COMMAND_TIMEOUT_S)
        except (TimeoutError, KafkaError, OSError) as exc:
            log.warning("command %s (%s) not written to %s: %s", command.command_id,
                        command.action, self.topics.commands, type(exc).__name__)
            raise ProtocolError("unavailable", None,
                                "Kafka did not accept the command; try again",
                                req.ref) from None
        self.metrics.commands.labels(action=command.action).inc()
        log.info("command %s %s by %s", command.action, command.command_id, command.user)
        self.hub.send(client, protocol.frame({"type": "accepted", "ref": req.ref,
                                              "command_id": command.command_id}))

    async def _writer(self, conn: _Conn, client: Client) -> None:
        ws = conn.ws
        loop = asyncio.get_running_loop()
        hub = self.hub
        sent = self.metrics.messages_sent
        fanout = self.metrics.fanout_seconds
        try:
            while True:
                await conn.event.wait()
                conn.event.clear()
                n = 0
                while (item := hub.pop(client)) is not None:
                    if isinstance(item, Close):
                        conn.close_reason = conn.close_reason or (
                            "too_slow" if item.code == protocol.CLOSE_TOO_SLOW else "error")
                        await ws.close(item.code, item.reason)
                        return
                    await ws.send(item, text=True)
                    n += 1
                    if conn.woken_at is not None:
                        fanout.observe(loop.time() - conn.woken_at)
                        conn.woken_at = None
                if n:
                    sent.inc(n)
        except ConnectionClosed:
            return


def _log_refusal(ws: ServerConnection, exc: ProtocolError) -> None:
    """One line, no traceback, for a frame refused as too deep (a flood of them must not
    flood the log with stack traces)."""
    if exc.reason.startswith("too deep"):
        log.warning("websocket frame refused from %s: %s", _peer(ws), exc.reason)


def _peer(ws: ServerConnection) -> str:
    try:
        host, port = ws.remote_address[:2]
    except (TypeError, ValueError):
        return "?"
    return f"{host}:{port}"


def _harden(conn: ServerConnection, request: Request, response: Response) -> Response:
    """``process_response``: every HTTP answer (ours and websockets' own refusals) carries
    the :data:`SECURITY_HEADERS`."""
    for name, value in SECURITY_HEADERS:
        if name not in response.headers:
            response.headers[name] = value
    return response


def _close_reason(exc: ConnectionClosed) -> str:
    code = exc.rcvd.code if exc.rcvd is not None else (exc.sent.code if exc.sent else 1006)
    return {1000: "normal", 1001: "normal", 1008: "auth", 1009: "too_big",
            1011: "timeout", 1013: "too_slow"}.get(code, "error")


def _new_epoch() -> str:
    return secrets.token_hex(6)


def _catalog_body() -> dict[str, Any]:
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


def _response(status: http.HTTPStatus, body: bytes, ctype: str,
              extra: list[tuple[str, str]] | None = None) -> Response:
    headers = Headers([
        ("Date", email.utils.formatdate(usegmt=True)), ("Connection", "close"),
        ("Content-Length", str(len(body))), ("Content-Type", ctype),
        ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
        *(extra or [])])
    return Response(status.value, status.phrase, headers, body)


def _text(status: http.HTTPStatus, text: str,
          extra: list[tuple[str, str]] | None = None) -> Response:
    return _response(status, text.encode(), "text/plain; charset=utf-8", extra)


def _json(status: http.HTTPStatus, body: bytes) -> Response:
    return _response(status, body, "application/json", [("Cache-Control", "no-store")])


async def serve(settings: Settings, bootstrap: str, *, host: str | None = None,
                port: int | None = None, ready: Ready = None,
                topic_names: Topics | None = None,
                registry: CollectorRegistry | None = None) -> None:
    """Run the dashboard until cancelled. ``ready`` (an :class:`asyncio.Event` or a callback
    taking the :class:`Dashboard`) fires once the port is bound, so a caller can print
    ``dashboard.wall_url``; the state may still be loading then (see ``/healthz``)."""
    dashboard = Dashboard(settings, bootstrap, host=host, port=port, topic_names=topic_names,
                          registry=registry)
    async with dashboard:
        if isinstance(ready, asyncio.Event):
            ready.set()
        elif ready is not None:
            result = ready(dashboard)
            if isinstance(result, Awaitable):
                await result
        await asyncio.Event().wait()


__all__ = ["Dashboard", "Tokens", "duplicate_header", "origin_allowed", "own_origins",
           "run_dashboard", "serve"]


def run_dashboard(settings: Settings, bootstrap: str, *, host: str | None = None,
                  port: int | None = None, echo: Callable[[str], Any] = print) -> None:
    """``ioc dashboard``: serve until SIGINT/SIGTERM. Prints ``wall:``/``summary:`` lines;
    a role token that was generated (its setting unset) is printed in the URL fragment (or
    on its own line for the engineer), configured tokens never are."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=settings.log_level,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        dashboard = Dashboard(settings, bootstrap, host=host, port=port)
        try:
            await dashboard.start()
        except OSError as exc:
            await dashboard.stop()
            raise IocError(f"cannot listen on {dashboard.host}:{dashboard.requested_port}: "
                           f"{exc.strerror or exc}") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        generated = dashboard.tokens.generated
        echo(f"wall: {dashboard.wall_url if 'operator' in generated else dashboard.url + '/'}")
        echo("summary: " + (dashboard.summary_url if "leadership" in generated
                            else dashboard.url + "/summary"))
        if "engineer" in generated:
            echo(f"engineer token: {dashboard.tokens.engineer}")
        echo(f"metrics: {dashboard.url}/metrics")
        if generated:
            echo("(tokens of unset IOC_*_TOKEN settings were generated for this run)")
        try:
            await stop.wait()
        finally:
            await dashboard.stop()

    asyncio.run(main())
