"""The websocket sessions of ``/ws`` (docs/protocol.md): admit the upgrade (origin, bearer
header or session cookie), authenticate, then one reader (client messages: pings,
subscriptions, commands) and one writer (the hub's queue for this client) per connection.

Who a connection acts as is a :class:`~archive.accounts.Principal`: the browser's signed-in
session (the cookie sent with the upgrade, checked against the same origins as ever), else a
bearer key in the upgrade's header or in the first ``auth`` message. A session's connection
is closed (1008) when the session ends: at sign-out at once, when it expires or its user is
disabled within :data:`SESSION_CHECK_S`.

The hub decides who gets what and what a lagging client loses; a session only moves bytes.
Each writer awaits its own socket, so a slow client fills its own bounded hub queue (and gets
resynced) without slowing anyone else; a frame is encoded once and its bytes shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from archive.accounts import Principal
from dashboards import protocol
from dashboards.auth import bearer, check_subscription, origin_allowed
from dashboards.hardening import refuse
from dashboards.hub import Client, Close, Hub
from dashboards.identity import SESSION_COOKIE, Gate, cookie_value
from dashboards.metrics import DashboardMetrics
from dashboards.protocol import ProtocolError
from dashboards.relay import CommandRelay
from dashboards.scope import OutOfScope
from ioc.settings import Settings

log = logging.getLogger("ioc.dashboard")
# How long a connection closed by the server (rate-limit abuse) may take to flush its replies.
FLUSH_TIMEOUT_S = 5.0
# What a disconnect's close code is counted as (ioc_dashboard_disconnects_total{reason})
CLOSE_REASONS = {1000: "normal", 1001: "normal", 1008: "auth", 1009: "too_big",
                 1011: "timeout", 1013: "too_slow"}
# The socket is gone (Starlette's words for it, and the server's)
GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)
SESSION_CHECK_S = 5.0  # how often an open connection's session is checked (disabled, expired)


@dataclass(eq=False)
class Session:
    """One websocket connection's bookkeeping."""

    ws: WebSocket
    event: asyncio.Event = field(default_factory=asyncio.Event)
    woken_at: float | None = None
    client: Client | None = None
    name: str | None = None
    close_reason: str | None = None
    principal: Principal | None = None
    via_cookie: bool = False  # the principal came from the session cookie

    @property
    def peer(self) -> str:
        """``host:port`` of the client, for log lines."""
        addr = self.ws.client
        return f"{addr.host}:{addr.port}" if addr else "?"


class FrameText:
    """The text of a hub frame, decoded once however many clients it goes to (the server
    sends ``str``; the hub shares one ``bytes`` object per frame). Large frames (snapshots,
    one per client anyway) are not kept.

    >>> text = FrameText()
    >>> frame = b'{"type":"delta"}'
    >>> text(frame) is text(frame)
    True
    """

    def __init__(self, entries: int = 256, max_bytes: int = 64 * 1024) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self._known: dict[bytes, str] = {}

    def __call__(self, data: bytes) -> str:
        text = self._known.get(data)
        if text is None:
            text = data.decode()
            if len(data) <= self.max_bytes:
                if len(self._known) >= self.entries:
                    self._known.clear()
                self._known[data] = text
        return text


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
        self.auth_timeout_s = auth_timeout_s
        self.sessions: set[Session] = set()
        self._text = FrameText()

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
            client = await self._authenticate(session, header)
            if client is None:
                reason = "auth"
                return
            loop = asyncio.get_running_loop()
            writer = loop.create_task(self._write(session, client))
            if session.principal is not None and session.principal.session is not None:
                watcher = loop.create_task(self._watch(session, session.principal))
            reason = await self._read(session, client)
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

    async def _receive(self, session: Session) -> str | bytes | int:
        """The next message's text (or bytes), or the close code once the client is gone."""
        message = await session.ws.receive()
        if message["type"] == "websocket.disconnect":
            code: int = message.get("code", 1005)
            return code
        text: str | None = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def _authenticate(self, session: Session, header: Principal | None) -> Client | None:
        sub = protocol.Subscription()
        resume: protocol.Resume | None = None
        principal = header
        if principal is None:
            try:
                raw = await asyncio.wait_for(self._receive(session), self.auth_timeout_s)
            except TimeoutError:
                await session.ws.close(protocol.CLOSE_POLICY, "authentication timeout")
                return None
            if isinstance(raw, int):
                return None
            try:
                msg = _parse(raw)
                if not isinstance(msg, protocol.Auth):
                    raise ProtocolError("unauthorized", "type",
                                        "authenticate first: {\"type\":\"auth\",\"token\":...}")
                principal = session.principal if session.via_cookie else \
                    await self._principal_of(msg.token)
                if principal is None:
                    raise ProtocolError("unauthorized", "token", "missing or unknown token")
                session.principal = principal
                sub = msg.subscribe or sub
                check_subscription(principal.role, sub)
                resume = msg.resume
                session.name = msg.name
            except ProtocolError as exc:
                self._count_refusal(session, exc)
                await session.ws.send_text(exc.frame().decode())
                await session.ws.close(protocol.CLOSE_POLICY, "authentication failed")
                return None
        loop = asyncio.get_running_loop()

        def wake() -> None:
            if session.woken_at is None:
                session.woken_at = loop.time()
            session.event.set()

        session.client = self.hub.connect(role=principal.role, user=principal.audit_user,
                                          sub=sub, now=loop.time(), resume=resume, wake=wake,
                                          scope=principal.scope)
        return session.client

    async def _principal_of(self, token: str | None) -> Principal | None:
        if not token:
            return None
        return (await self.gate.of_bearer(token)).principal

    async def _read(self, session: Session, client: Client) -> str:
        loop = asyncio.get_running_loop()
        while not isinstance(raw := await self._receive(session), int):
            allowed = self.hub.allow(client, loop.time())
            if isinstance(allowed, Close):
                # the replies already queued, then the error saying why, then the close
                self.metrics.client_errors.labels(code="rate_limited").inc()
                session.close_reason = "rate_limit"
                self.hub.send(client, protocol.error_frame(
                    "rate_limited", f"{allowed.reason}; closing the connection"))
                self.hub.close(client, allowed)
                return "rate_limit"
            try:
                if not allowed:
                    raise ProtocolError("rate_limited", None,
                                        f"over {self.hub.rate_per_s:g} messages/s; "
                                        "this message was ignored")
                await self._dispatch(session, client, _parse(raw))
            except ProtocolError as exc:
                self._count_refusal(session, exc)
                if isinstance(exc, OutOfScope):
                    self.metrics.commands_rejected.labels(reason="out_of_scope").inc()
                    log.info("command refused outside the scope of %s: %s", session.peer,
                             exc.reason)
                elif exc.code in ("forbidden", "invalid_command", "unavailable"):
                    self.metrics.commands_rejected.labels(reason=exc.code).inc()
                self.hub.send(client, exc.frame())
        return CLOSE_REASONS.get(raw, "error")

    async def _dispatch(self, session: Session, client: Client,
                        msg: protocol.ClientMessage) -> None:
        if isinstance(msg, protocol.Ping):
            self.hub.send(client, protocol.frame({"type": "pong", "ref": msg.ref,
                                                  "ts": time.time()}))
        elif isinstance(msg, protocol.Subscribe):
            sub = msg.subscription()
            check_subscription(client.role, sub)
            self.hub.resubscribe(client, sub)
        elif isinstance(msg, protocol.Auth):
            if msg.token is not None and not session.via_cookie:
                again = await self._principal_of(msg.token)
                if again is None or again.role != client.role:
                    raise ProtocolError("unauthorized", "token",
                                        "already authenticated with another role's token")
            if msg.name is not None:
                session.name = msg.name
            if msg.subscribe is not None:
                check_subscription(client.role, msg.subscribe)
                self.hub.resubscribe(client, msg.subscribe)
        elif isinstance(msg, protocol.CommandRequest):
            principal = session.principal
            assert principal is not None  # set by _authenticate
            self.hub.send(client, await self.relay.relay(principal, msg))

    async def _write(self, session: Session, client: Client) -> None:
        """Send this client's queue whenever the hub wakes it; the hub's Close ends it."""
        send: Callable[[Any], Any] = session.ws.send
        text = self._text
        loop = asyncio.get_running_loop()
        hub = self.hub
        sent = self.metrics.messages_sent
        fanout = self.metrics.fanout_seconds
        try:
            while True:
                await session.event.wait()
                session.event.clear()
                n = 0
                while (item := hub.pop(client)) is not None:
                    if isinstance(item, Close):
                        session.close_reason = session.close_reason or CLOSE_REASONS.get(
                            item.code, "error")
                        await session.ws.close(item.code, item.reason)
                        return
                    await send({"type": "websocket.send", "text": text(item)})
                    n += 1
                    if session.woken_at is not None:
                        fanout.observe(loop.time() - session.woken_at)
                        session.woken_at = None
                if n:
                    sent.inc(n)
        except GONE:
            return

    def _count_refusal(self, session: Session, exc: ProtocolError) -> None:
        """Count a refused message; one line, no traceback, for a frame refused as too deep
        (a flood of them must not flood the log with stack traces)."""
        self.metrics.client_errors.labels(code=exc.code).inc()
        if exc.reason.startswith("too deep"):
            log.warning("websocket frame refused from %s: %s", session.peer, exc.reason)


async def admit(websocket: WebSocket, gate: Gate, origins: tuple[str, ...],
                session: Session, metrics: DashboardMetrics) -> bool:
    """Check an upgrade before it is accepted: a foreign ``Origin`` is refused (403), a bad
    ``Authorization: Bearer`` header too (401). Sets ``session.principal`` from the header,
    else from a live session cookie (``via_cookie``); without either the client
    authenticates in its first message. Returns whether it was admitted."""
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, origins):
        log.info("websocket refused: origin %r is not one of this dashboard's "
                 "(IOC_ALLOWED_ORIGINS)", origin[:200] if origin else origin)
        await refuse(websocket, PlainTextResponse("origin not allowed\n", 403))
        return False
    token = bearer(websocket.headers.get("authorization"))
    if token is None:
        cookie = cookie_value(websocket.headers.get("cookie"), SESSION_COOKIE)
        if cookie is not None:
            who = await gate.of_session(cookie)
            if who.principal is None:
                metrics.auth_refusals.labels(reason=who.reason).inc()
            session.principal, session.via_cookie = who.principal, who.principal is not None
        return True
    who = await gate.of_bearer(token)
    if who.principal is None:
        metrics.auth_refusals.labels(reason=who.reason).inc()
        await refuse(websocket, PlainTextResponse(
            "bad token\n", 401, headers={"WWW-Authenticate": 'Bearer realm="ioc"'}))
        return False
    session.principal = who.principal
    return True


def _parse(raw: str | bytes) -> protocol.ClientMessage:
    if isinstance(raw, bytes):
        raise ProtocolError("bad_json", None, "binary frames are not accepted")
    return protocol.parse_client(raw)
