"""One websocket connection of ``/ws`` as the sessions see it: its bookkeeping
(:class:`Session`), what counts as the socket being gone, why a close is counted as it is,
and reading one message off it. Shared by the handshake, the reader and the writer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from archive.accounts import Principal
from dashboards import protocol
from dashboards.clients import Client
from dashboards.metrics import DashboardMetrics
from dashboards.protocol import ProtocolError

log = logging.getLogger("ioc.dashboard")
# What a disconnect's close code is counted as (ioc_dashboard_disconnects_total{reason})
CLOSE_REASONS = {1000: "normal", 1001: "normal", 1008: "auth", 1009: "too_big",
                 1011: "timeout", 1013: "too_slow"}
# The socket is gone (Starlette's words for it, and the server's)
GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)


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


async def receive(session: Session) -> str | bytes | int:
    """The next message's text (or bytes), or the close code once the client is gone."""
    message = await session.ws.receive()
    if message["type"] == "websocket.disconnect":
        code: int = message.get("code", 1005)
        return code
    text: str | None = message.get("text")
    return text if text is not None else message.get("bytes") or b""


def parse(raw: str | bytes) -> protocol.ClientMessage:
    """A client's text frame as a message (binary frames are refused)."""
    if isinstance(raw, bytes):
        raise ProtocolError("bad_json", None, "binary frames are not accepted")
    return protocol.parse_client(raw)


def count_refusal(metrics: DashboardMetrics, session: Session, exc: ProtocolError) -> None:
    """Count a refused message; one line, no traceback, for a frame refused as too deep
    (a flood of them must not flood the log with stack traces)."""
    metrics.client_errors.labels(code=exc.code).inc()
    if exc.reason.startswith("too deep"):
        log.warning("websocket frame refused from %s: %s", session.peer, exc.reason)
