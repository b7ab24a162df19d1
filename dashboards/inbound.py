"""The reader of a ``/ws`` connection: every client message after the handshake is
rate-limited by the hub, parsed, and dispatched (``ping``, ``subscribe``, a repeated
``auth``, ``command`` through the relay); a refusal becomes an ``error`` frame, counted.
"""

from __future__ import annotations

import asyncio
import time

from dashboards import protocol
from dashboards.auth import check_subscription
from dashboards.clients import Client, Close
from dashboards.connection import CLOSE_REASONS, Session, count_refusal, log, parse, receive
from dashboards.handshake import principal_of
from dashboards.hub import Hub
from dashboards.identity import Gate
from dashboards.metrics import DashboardMetrics
from dashboards.protocol import ProtocolError
from dashboards.relay import CommandRelay
from dashboards.scope import OutOfScope


class Reader:
    """Reads and answers the messages of authenticated connections."""

    def __init__(self, hub: Hub, gate: Gate, metrics: DashboardMetrics,
                 relay: CommandRelay) -> None:
        self.hub = hub
        self.gate = gate
        self.metrics = metrics
        self.relay = relay

    async def read(self, session: Session, client: Client) -> str:
        """Read until the client goes (or abuses the rate limit); why, as counted."""
        loop = asyncio.get_running_loop()
        while not isinstance(raw := await receive(session), int):
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
                await self._dispatch(session, client, parse(raw))
            except ProtocolError as exc:
                self._refused(session, client, exc)
        return CLOSE_REASONS.get(raw, "error")

    def _refused(self, session: Session, client: Client, exc: ProtocolError) -> None:
        count_refusal(self.metrics, session, exc)
        if isinstance(exc, OutOfScope):
            self.metrics.commands_rejected.labels(reason="out_of_scope").inc()
            log.info("command refused outside the scope of %s: %s", session.peer, exc.reason)
        elif exc.code in ("forbidden", "invalid_command", "unavailable"):
            self.metrics.commands_rejected.labels(reason=exc.code).inc()
        self.hub.send(client, exc.frame())

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
                again = await principal_of(self.gate, msg.token)
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
            assert principal is not None  # set by the handshake
            self.hub.send(client, await self.relay.relay(principal, msg))
