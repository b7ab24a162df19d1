"""How a ``/ws`` connection comes to act as someone: the upgrade is admitted (origin, bearer
header or session cookie) by :func:`admit`, then a client without either authenticates in
its first message (:class:`Handshake`), within ``auth_timeout_s``; the hub then knows it.
"""

from __future__ import annotations

import asyncio

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket

from archive.accounts import Principal
from dashboards import protocol
from dashboards.auth import bearer, check_subscription, origin_allowed
from dashboards.clients import Client
from dashboards.connection import Session, count_refusal, log, parse, receive
from dashboards.hardening import refuse
from dashboards.hub import Hub
from dashboards.identity import SESSION_COOKIE, Gate, cookie_value
from dashboards.metrics import DashboardMetrics
from dashboards.protocol import ProtocolError


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


async def principal_of(gate: Gate, token: str | None) -> Principal | None:
    """Who a bearer token (a role's token or an API key) acts as, else None."""
    if not token:
        return None
    return (await gate.of_bearer(token)).principal


class Handshake:
    """The first message of a connection admitted without a principal, then the hub."""

    def __init__(self, hub: Hub, gate: Gate, metrics: DashboardMetrics, *,
                 auth_timeout_s: float) -> None:
        self.hub = hub
        self.gate = gate
        self.metrics = metrics
        self.auth_timeout_s = auth_timeout_s

    async def authenticate(self, session: Session, header: Principal | None) -> Client | None:
        """Connect the session's client to the hub (None: refused, the socket closed)."""
        sub = protocol.Subscription()
        resume: protocol.Resume | None = None
        principal = header
        if principal is None:
            try:
                raw = await asyncio.wait_for(receive(session), self.auth_timeout_s)
            except TimeoutError:
                await session.ws.close(protocol.CLOSE_POLICY, "authentication timeout")
                return None
            if isinstance(raw, int):
                return None
            try:
                msg = await self._auth_message(session, raw)
            except ProtocolError as exc:
                count_refusal(self.metrics, session, exc)
                await session.ws.send_text(exc.frame().decode())
                await session.ws.close(protocol.CLOSE_POLICY, "authentication failed")
                return None
            principal = session.principal
            assert principal is not None  # set by _auth_message
            sub = msg.subscribe or sub
            resume = msg.resume
        loop = asyncio.get_running_loop()

        def wake() -> None:
            if session.woken_at is None:
                session.woken_at = loop.time()
            session.event.set()

        session.client = self.hub.connect(role=principal.role, user=principal.audit_user,
                                          sub=sub, now=loop.time(), resume=resume, wake=wake,
                                          scope=principal.scope)
        return session.client

    async def _auth_message(self, session: Session, raw: str | bytes) -> protocol.Auth:
        """Check the first message: an ``auth`` whose token (or the session cookie) names a
        principal allowed the subscription it asks for; sets ``session.principal``."""
        msg = parse(raw)
        if not isinstance(msg, protocol.Auth):
            raise ProtocolError("unauthorized", "type",
                                "authenticate first: {\"type\":\"auth\",\"token\":...}")
        principal = session.principal if session.via_cookie else \
            await principal_of(self.gate, msg.token)
        if principal is None:
            raise ProtocolError("unauthorized", "token", "missing or unknown token")
        session.principal = principal
        check_subscription(principal.role, msg.subscribe or protocol.Subscription())
        session.name = msg.name
        return msg
