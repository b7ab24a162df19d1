"""The dashboard server: one port for the websocket (``/ws``), the pages, the static assets,
the JSON API, ``/healthz`` and ``/metrics``.

Composition only: the :class:`~dashboards.board.Board` (state and hub, fed by the Kafka
:class:`~dashboards.feed.Feed`), the websocket sessions (:mod:`dashboards.live`), the command
relay (:mod:`dashboards.relay`) and the HTTP routes (:mod:`dashboards.web`) are built here
into one Starlette application, wrapped by the edge (:mod:`dashboards.hardening`) and served
by uvicorn. The protocol is ``docs/protocol.md``.

Start it from code with :func:`serve` (runs until cancelled) or :class:`Dashboard` (an async
context manager, for tests and the demo); ``ioc dashboard`` runs :func:`run_dashboard`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry

from dashboards import protocol
from dashboards.auth import Tokens, duplicate_header, origin_allowed, own_origins
from dashboards.board import Board
from dashboards.feed import Feed, Topics
from dashboards.hardening import (
    SECURITY_HEADERS,
    Edge,
    HardenedH11Protocol,
    HardenedWebSocketProtocol,
)
from dashboards.history import History
from dashboards.hub import Hub
from dashboards.identity import Gate
from dashboards.live import LiveSessions, Session
from dashboards.metrics import DashboardMetrics
from dashboards.positions import PositionFeed
from dashboards.relay import CommandRelay
from dashboards.state import State
from dashboards.tracks import Tracks
from dashboards.web import STATIC_DIR, Site, build_app
from ioc.errors import IocError
from ioc.settings import Settings

log = logging.getLogger("ioc.dashboard")
SHUTDOWN_CLOSE_S = 3.0  # how long live sessions get to flush and close (1001) at shutdown


class _Uvicorn(uvicorn.Server):
    """uvicorn's server without its signal handlers: whoever runs the dashboard (the CLI,
    a test, the demo) decides what a signal does, and stops it with :meth:`Dashboard.stop`."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.up.set()


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: a free port); OSError when it cannot."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _quiet(*names: str) -> None:
    """At most warnings from these loggers: uvicorn logs a line per connection at INFO."""
    for name in names:
        logger = logging.getLogger(name)
        logger.setLevel(max(logging.WARNING, logger.getEffectiveLevel()))


class Dashboard:
    """The dashboard server. ``async with Dashboard(settings, bootstrap, port=0) as d:``
    serves on ``d.port`` until the block ends.

    ``topic_names`` makes the topics injectable (tests use their own), ``position_topics``
    the map's topics of moving sources (default: :func:`dashboards.positions.moving_topics`);
    ``static_dir`` the pages; ``hub_options`` overrides hub limits (queue size, rate, ...);
    ``heartbeat_s``, ``summary_every_s`` and ``auth_timeout_s`` the timings of
    docs/protocol.md.
    """

    def __init__(self, settings: Settings, bootstrap: str, *, host: str | None = None,
                 port: int | None = None, topic_names: Topics | None = None,
                 registry: CollectorRegistry | None = None, static_dir: Path | None = None,
                 hub_options: dict[str, Any] | None = None,
                 heartbeat_s: float = protocol.HEARTBEAT_S,
                 summary_every_s: float = protocol.SUMMARY_EVERY_S,
                 auth_timeout_s: float = protocol.AUTH_TIMEOUT_S,
                 tokens: Tokens | None = None,
                 position_topics: tuple[str, ...] | None = None) -> None:
        self.settings = settings
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
        self.history = History(settings)  # the archive, read-only
        self.board = Board(settings, self.metrics, self.history, hub_options=hub_options,
                           heartbeat_s=heartbeat_s, summary_every_s=summary_every_s)
        self.feed = Feed(bootstrap, topic_names=self.topics, sink=self.board.on_records,
                         on_ready=self.board.on_ready, on_invalid=self.board.on_invalid,
                         read_committed=settings.processing_guarantee == "exactly_once")
        # the map's moving sources, read from their groups' topics (dashboards.positions)
        self.tracks = Tracks()
        self.positions = PositionFeed(bootstrap, self.tracks, topic_names=position_topics)
        relay = CommandRelay(self.feed, settings, self.metrics, known=self._known_alerts,
                             state=self.board.state)
        # who a request is: bearer keys, and sessions in the archive's database
        self.gate = Gate(self.tokens, settings, self.history.store)
        self.live = LiveSessions(self.hub, self.gate, self.metrics, relay, settings,
                                 origins=lambda: self.origins, auth_timeout_s=auth_timeout_s)
        self.site: Site
        self.app = build_app(self)
        self._server: _Uvicorn | None = None
        self._serving: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        _quiet("uvicorn.error", "uvicorn.access")

    # --- what tests and tools read ----------------------------------------------------------

    @property
    def hub(self) -> Hub:
        return self.board.hub

    @property
    def state(self) -> State:
        return self.board.state

    @property
    def _conns(self) -> set[Session]:
        """The live websocket sessions (the fan-out benchmark writes to their sockets)."""
        return self.live.sessions

    def _sync_counters(self) -> None:
        self.board.sync_counters()

    def _known_alerts(self) -> Callable[[str], bool] | None:
        return self.state.knows_alert if self.hub.ready else None

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the port (OSError when it cannot), start serving, consuming Kafka and the
        periodic tasks."""
        sock = _listen(self.host, self.requested_port)
        self.port = sock.getsockname()[1]
        self.origins = own_origins(self.host, self.port) + self.allowed_origins
        # ws: websockets' sans-I/O protocol engine (the package the wall already speaks), not
        # uvicorn's "websockets" option on websockets' deprecated legacy asyncio layer; its
        # send waits while the socket's write buffer is over the high-water mark, so a slow
        # wall blocks only its own writer and its bounded hub queue (docs/protocol.md).
        config = uvicorn.Config(
            Edge(self.app), http=HardenedH11Protocol, ws=HardenedWebSocketProtocol,
            lifespan="off",
            ws_max_size=protocol.MAX_MESSAGE_BYTES, ws_per_message_deflate=False,
            ws_ping_interval=protocol.PING_INTERVAL_S, ws_ping_timeout=protocol.PING_TIMEOUT_S,
            log_config=None, access_log=False, server_header=False, proxy_headers=False,
            timeout_graceful_shutdown=int(SHUTDOWN_CLOSE_S) + 2)
        self._server = _Uvicorn(config)
        loop = asyncio.get_running_loop()
        self._serving = loop.create_task(self._server.serve(sockets=[sock]),
                                         name="dashboard-http")
        up = loop.create_task(self._server.up.wait())
        await asyncio.wait({self._serving, up}, return_when=asyncio.FIRST_COMPLETED)
        if not up.done():
            up.cancel()
            self._serving.result()  # its error, if it failed
            raise IocError("the dashboard's HTTP server stopped while starting")
        self._tasks = [loop.create_task(self.feed.run(), name="dashboard-feed"),
                       loop.create_task(self.board.run_ticker(), name="dashboard-ticker"),
                       loop.create_task(self.positions.run(), name="dashboard-positions"),
                       loop.create_task(self.history.refresh_trends(self.board.trends_loaded),
                                        name="dashboard-trends")]
        log.info("dashboard serving on %s", self.url)

    async def stop(self) -> None:
        """Close every websocket (1001, after what is queued), stop serving, the tasks and
        the Kafka clients."""
        if self._server is not None and self._serving is not None:
            await self.live.close_all(protocol.CLOSE_GOING_AWAY, "server shutting down",
                                      SHUTDOWN_CLOSE_S)
            self._server.should_exit = True
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._serving, SHUTDOWN_CLOSE_S + 10)
            self._server = self._serving = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self.feed.close()
        await self.positions.close()
        self.history.close()

    async def __aenter__(self) -> Dashboard:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- addresses and health ---------------------------------------------------------------

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

    def indicators_age(self) -> float | None:
        """Seconds since the newest indicator arrived (see :meth:`Board.indicators_age`)."""
        return self.board.indicators_age()

    def health_problems(self) -> list[str]:
        """Why the dashboard is degraded (empty: it is not): Kafka lost after start, or no
        indicator for longer than ``IOC_DASHBOARD_STALE_AFTER_S`` while connected."""
        problems = []
        if not self.feed.connected:
            problems.append(f"lost Kafka: {self.feed.error or 'reconnecting'}")
        age = self.indicators_age()
        stale = self.board.stale_after_s
        if age is not None and self.feed.connected and age > stale:
            problems.append(f"no indicator on {self.topics.indicators} for {age:.0f} s "
                            f"(IOC_DASHBOARD_STALE_AFTER_S={stale:g})")
        return problems

    def health(self) -> tuple[int, dict[str, Any]]:
        """``/healthz``: ``ok``; ``degraded`` (200, with ``reasons``: the dashboard itself
        works, a restart would not bring indicators back); ``starting`` /
        ``kafka_unavailable`` (503)."""
        ready = self.hub.ready
        problems = self.health_problems() if ready else []
        if ready:
            status = "degraded" if problems else "ok"
        elif not self.feed.connected and self.feed.error:
            status = "kafka_unavailable"
        else:
            status = "starting"
        body = {"status": status, "ready": ready, "kafka_connected": self.feed.connected,
                "reasons": problems, **self.board.freshness(),
                "clients": len(self.hub.clients), "seq": self.hub.seq,
                "open_alerts": len(self.state.alerts), "error": self.feed.error}
        return (200 if ready else 503), body


Ready = Callable[[Dashboard], Any] | asyncio.Event | None


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


def _start_lines(dashboard: Dashboard) -> Iterator[str]:
    """What ``ioc dashboard`` prints: a generated token in the URL fragment (or on its own
    line for the engineer), configured tokens never."""
    generated = dashboard.tokens.generated
    yield f"wall: {dashboard.wall_url if 'operator' in generated else dashboard.url + '/'}"
    yield "summary: " + (dashboard.summary_url if "leadership" in generated
                         else dashboard.url + "/summary")
    if "engineer" in generated:
        yield f"engineer token: {dashboard.tokens.engineer}"
    yield f"metrics: {dashboard.url}/metrics"
    if generated:
        yield "(tokens of unset IOC_*_TOKEN settings were generated for this run)"


def run_dashboard(settings: Settings, bootstrap: str, *, host: str | None = None,
                  port: int | None = None, echo: Callable[[str], Any] = print) -> None:
    """``ioc dashboard``: serve until SIGINT/SIGTERM, then close the websockets (1001) and
    stop. Prints ``wall:``/``summary:`` lines (see :func:`_start_lines`); a port that is
    taken is an :class:`~ioc.errors.IocError` (one line), not a traceback."""
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
        for line in _start_lines(dashboard):
            echo(line)
        try:
            await stop.wait()
        finally:
            await dashboard.stop()

    asyncio.run(main())


__all__ = ["SECURITY_HEADERS", "Dashboard", "Tokens", "duplicate_header", "origin_allowed",
           "own_origins", "run_dashboard", "serve"]
