"""The dashboard's HTTP edge: every answer carries the security headers, and an ambiguous
request (a header that may appear once, given twice) is refused with 400 before any route,
role or origin check reads it.

Three layers do it, because a request can be answered before the application sees it:

* :class:`Edge`, an ASGI middleware around the whole application: pages, API, errors, the
  websocket accept (101) and the websocket refusals the application sends (403, 401, 400);
* :class:`HardenedWebSocketProtocol`, uvicorn's websocket protocol on websockets' sans-I/O
  engine, for the refusals that engine makes before the application runs (a bad handshake,
  or two ``Origin`` headers, which it would otherwise refuse with its own words);
* :class:`HardenedH11Protocol`, uvicorn's HTTP/1.1 protocol, for its 400 to a request it
  cannot parse (two ``Host`` headers among them: h11 refuses those itself).
"""

from __future__ import annotations

from typing import Any

import h11
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.http11 import Response as HandshakeResponse
from websockets.server import ServerProtocol

from dashboards.auth import duplicate_header

# On every HTTP answer (pages, API, errors, the websocket upgrade): the pages load only their
# own scripts and styles (no inline script or style attribute), connect and post forms (the
# sign-in) only to this origin, and may not be framed (clickjacking).
SECURITY_HEADERS = (
    ("Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
     "form-action 'self'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)
_RAW_SECURITY_HEADERS = tuple((n.lower().encode(), v.encode()) for n, v in SECURITY_HEADERS)
# ASGI messages that start an HTTP answer (or accept the upgrade) and so carry headers
_HEADED = frozenset({"http.response.start", "websocket.http.response.start", "websocket.accept"})


def stamp(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` (ASGI raw pairs) plus each security header it lacks.

    >>> [n for n, _ in stamp([(b"x-frame-options", b"SAMEORIGIN")])][:3]
    [b'x-frame-options', b'content-security-policy', b'x-content-type-options']
    """
    present = {name.lower() for name, _ in headers}
    return headers + [(n, v) for n, v in _RAW_SECURITY_HEADERS if n not in present]


def ambiguous(scope: Scope) -> str | None:
    """The header an HTTP or websocket request carries twice though it may carry it once."""
    return duplicate_header((name.decode("latin-1"), value.decode("latin-1"))
                            for name, value in scope["headers"])


async def refuse(websocket: WebSocket, response: Response) -> None:
    """Answer a websocket upgrade with an HTTP ``response`` (status, headers, body); a server
    without the denial-response extension can only send its 403."""
    try:
        await websocket.send_denial_response(response)
    except RuntimeError:
        await websocket.close(1008)


class Edge:
    """ASGI middleware: refuse ambiguous requests, stamp the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] in _HEADED:
                message = {**message, "headers": stamp(list(message.get("headers", ())))}
            await send(message)

        twice = ambiguous(scope)
        if twice is None:
            await self.app(scope, receive, stamped)
            return
        answer = PlainTextResponse(f"more than one {twice} header\n", 400)
        if scope["type"] == "http":
            await answer(scope, receive, stamped)
        else:
            await refuse(WebSocket(scope, receive, stamped), answer)


class HardenedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol whose handshake refusals (websockets' own, and
    uvicorn's 403 for an upgrade the application closed unaccepted) carry the security
    headers, and which refuses an ambiguous upgrade with 400 in :class:`Edge`'s words
    (websockets reads ``Origin`` itself before the application could)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conn = self.conn
        plain_reject = conn.reject

        def reject(status: int, text: str) -> HandshakeResponse:
            response = plain_reject(status, text)
            for name, value in SECURITY_HEADERS:
                response.headers.setdefault(name, value)
            return response

        def accept(request: Request) -> HandshakeResponse:
            twice = duplicate_header(request.headers.raw_items())
            if twice is not None:
                return reject(400, f"more than one {twice} header\n")
            return ServerProtocol.accept(conn, request)  # its refusals call conn.reject

        # instance attributes shadow the methods, for uvicorn's calls and websockets' own
        conn.reject = reject  # type: ignore[method-assign]
        conn.accept = accept  # type: ignore[method-assign]


class HardenedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol whose own 400 (an unparsable request) carries the security
    headers."""

    def send_400_response(self, msg: str) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close"),
                   *_RAW_SECURITY_HEADERS]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                      h11.Data(data=f"{msg}\n".encode()), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()
