"""The resume buffer: the last deltas published, so a client that reconnects within the
same epoch gets what it missed instead of a snapshot. An incident delta is kept with its
record, to be narrowed again for each scoped client that sees it (encoded once per scope).
Sans-I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from archive.accounts import Scope
from dashboards import protocol
from dashboards.clients import Client
from dashboards.deltas import Meta
from ioc.events import Incident

# An incident as a scope sees it (None: not at all); the board's knows member severities
Narrow = Callable[[Incident, Scope], Incident | None]


class ResumeBuffer:
    """The last ``size`` deltas: seq, filter attributes, bytes and, for incidents, the
    record."""

    def __init__(self, size: int, narrow: Narrow) -> None:
        self.narrow = narrow
        self.deltas: deque[tuple[int, Meta, bytes, Incident | None]] = deque(maxlen=size)

    def add(self, seq: int, meta: Meta, data: bytes, incident: Incident | None) -> None:
        """Keep delta ``seq`` (the oldest one goes when the buffer is full)."""
        self.deltas.append((seq, meta, data, incident))

    def clear(self) -> None:
        """Forget every delta (a new epoch)."""
        self.deltas.clear()

    def missed(self, client: Client, after: int, seq: int) -> list[tuple[Meta, bytes]] | None:
        """The deltas after ``after`` that ``client`` should get (``seq``: the newest
        published), or None when they are not all here any more (or ``after`` is not one)."""
        if after > seq or after < 0:
            return None
        oldest = self.deltas[0][0] if self.deltas else seq + 1
        if after + 1 < oldest:
            return None
        out = []
        for n, meta, data, incident in self.deltas:
            if n > after and client.accepts(meta):
                seen = self.as_seen(client.scope, n, meta, data, incident, {})
                if seen is not None:
                    out.append((meta, seen))
        return out

    def as_seen(self, scope: Scope, seq: int, meta: Meta, data: bytes,
                incident: Incident | None, cache: dict[Scope, bytes | None]) -> bytes | None:
        """The bytes of delta ``seq`` for a client of ``scope`` (None: none): ``data``,
        but for an incident a scope sees narrowed, encoded once per scope (``cache``)."""
        if incident is None or scope.city_wide:
            return data
        if scope not in cache:
            narrowed = self.narrow(incident, scope)
            cache[scope] = None if narrowed is None else data if narrowed is incident else \
                protocol.delta_frame(seq, meta.kind, narrowed)
        return cache[scope]
