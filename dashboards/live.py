"""The websocket sessions of ``/ws`` (docs/protocol.md): admit the upgrade (origin, bearer
header or session cookie), authenticate, then one reader (client messages: pings,
subscriptions, commands) and one writer (the hub's queue for this client) per connection.

Who a connection acts as is a :class:`~archive.accounts.Principal`: the browser's signed-in
session (the cookie sent with the upgrade, checked against the same origins as ever), else a
bearer key in the upgrade's header or in the first ``auth`` message. A session's connection
is closed (1008) when the session ends: at sign-out at once, when it expires or its user is
disabled within :data:`SESSION_CHECK_S`.

The hub decides who gets what and what a lagging client loses; a session only moves bytes.
This module runs a session's life; the rooms it uses are the handshake
(:mod:`dashboards.handshake`), the reader (:mod:`dashboards.inbound`) and the writer
(:mod:`dashboards.outbound`), over one connection's bookkeeping (:mod:`dashboards.connection`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from starlette.websockets import WebSocket

from archive.accounts import Principal
from dashboards import protocol
from dashboards.clients import Close
from dashboards.connection import CLOSE_REASONS, GONE, Session
from dashboards.handshake import Handshake, admit
from dashboards.hub import Hub
from dashboards.identity import Gate
from dashboards.inbound import Reader
from dashboards.metrics import DashboardMetrics
from dashboards.outbound import Writer
from dashboards.relay import CommandRelay
from ioc.settings import Settings

__all__ = ["FLUSH_TIMEOUT_S", "SESSION_CHECK_S", "LiveSessions", "Session"]

# How long a connection closed by the server (rate-limit abuse) may take to flush its replies.
FLUSH_TIMEOUT_S = 5.0
SESSION_CHECK_S = 5.0  # how often an open connection's session is checked (disabled, expired)


class LiveSessions:
    """The ``/ws`` endpoint and the sessions it runs. ``origins()`` gives the origins a
    browser page may connect from (known once the port is bound)."""

    def __init__(self, hub: Hub, gate: Gate, metrics: DashboardMetrics,
                 relay: CommandRelay, settings: Settings, *,
                 origins: Callable[[], tuple[str, ...]],
                 auth_timeout_s: float = protocol.AUTH_TIMEOUT_S) -> None:
        self.hub = hub
        self.gate = gate
        self.metrics = metrics
        self.relay = relay
        self.settings = settings
        self.origins = origins
        self.sessions: set[Session] = set()
        self.handshake = Handshake(hub, gate, metrics, auth_timeout_s=auth_timeout_s)
        self.reader = Reader(hub, gate, metrics, relay)
        self.writer = Writer(hub, metrics)

    async def endpoint(self, websocket: WebSocket) -> None:
        """``/ws``: accept an admitted upgrade and run its session until either side
        closes."""
        session = Session(websocket)
        if await admit(websocket, self.gate, self.origins(), session, self.metrics):
            await websocket.accept()
            await self.run(session, session.principal if not session.via_cookie else None)

    async def end_session(self, hashed: str) -> None:
        """Sign-out: close (1008) every connection of the session stored as ``hashed``."""
        for session in list(self.sessions):
            p = session.principal
            if p is not None and p.session == hashed:
                self._end(session, "signed out")

    def _end(self, session: Session, reason: str) -> None:
        session.close_reason = "auth"
        self.metrics.auth_refusals.labels(reason="session_ended").inc()
        if session.client is not None and not session.client.closing:
            self.hub.send(session.client, protocol.error_frame(
                "unauthorized", f"{reason}; sign in again"))
            self.hub.close(session.client, Close(protocol.CLOSE_POLICY, "session ended"))

    async def _watch(self, session: Session, principal: Principal) -> None:
        """Close the connection once its session ended (checked every SESSION_CHECK_S)."""
        while True:
            await asyncio.sleep(SESSION_CHECK_S)
            if not await self.gate.session_live(principal):
                self._end(session, "the session ended")
                return

    async def close_all(self, code: int, reason: str, timeout: float) -> None:
        """Close every session with ``code`` after what is already queued for it; wait up to
        ``timeout`` seconds for them to end (server shutdown: 1001)."""
        for session in list(self.sessions):
            if session.client is not None and not session.client.closing:
                self.hub.close(session.client, Close(code, reason))
            elif session.client is None:
                with contextlib.suppress(*GONE):
                    await session.ws.close(code, reason)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.sessions and loop.time() < deadline:
            await asyncio.sleep(0.02)

    async def run(self, session: Session, header: Principal | None) -> None:
        """Authenticate, then read and write until the connection ends; count why it did."""
        self.sessions.add(session)
        writer: asyncio.Task[None] | None = None
        watcher: asyncio.Task[None] | None = None
        reason = "normal"
        try:
            client = await self.handshake.authenticate(session, header)
            if client is None:
                reason = "auth"
                return
            loop = asyncio.get_running_loop()
            writer = loop.create_task(self.writer.write(session, client))
            if session.principal is not None and session.principal.session is not None:
                watcher = loop.create_task(self._watch(session, session.principal))
            reason = await self.reader.read(session, client)
            if client.closing:  # the writer sends what is queued, then the close
                await asyncio.wait({writer}, timeout=FLUSH_TIMEOUT_S)
        except GONE as exc:
            reason = CLOSE_REASONS.get(getattr(exc, "code", 1006), "error")
        finally:
            self.sessions.discard(session)
            if session.client is not None:
                self.hub.disconnect(session.client)
            for task in (writer, watcher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            self.metrics.disconnects.labels(reason=session.close_reason or reason).inc()
