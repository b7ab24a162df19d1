"""The writer of a ``/ws`` connection: it sends the client's hub queue whenever the hub
wakes it, each frame's text decoded once however many clients get it (:class:`FrameText`),
until the hub's :class:`~dashboards.clients.Close`. A writer awaits only its own socket, so
a slow client fills its own bounded queue without slowing anyone else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from dashboards.clients import Client, Close
from dashboards.connection import CLOSE_REASONS, GONE, Session
from dashboards.hub import Hub
from dashboards.metrics import DashboardMetrics


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


class Writer:
    """Sends the hub's frames to the sessions' sockets (one text cache shared by all)."""

    def __init__(self, hub: Hub, metrics: DashboardMetrics) -> None:
        self.hub = hub
        self.metrics = metrics
        self.text = FrameText()

    async def write(self, session: Session, client: Client) -> None:
        """Send this client's queue whenever the hub wakes it; the hub's Close ends it."""
        send: Callable[[Any], Any] = session.ws.send
        text = self.text
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
