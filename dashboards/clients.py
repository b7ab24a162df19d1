"""A connected websocket client as the hub sees it: its subscription filter, its rate limit
(:class:`TokenBucket`) and its outgoing queue, whose entries are the bytes of a delta, a
conflatable :class:`Slot`, a :class:`Control` reply, a :class:`SnapshotDue` marker or a
:class:`Close`. Pure data and rules: the queue's policy is :mod:`dashboards.queues`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from archive.accounts import Scope
from dashboards import protocol
from dashboards import scope as scoping
from dashboards.deltas import Meta
from dashboards.protocol import Subscription


class Close(NamedTuple):
    """The writer should close the connection with this code and reason."""

    code: int
    reason: str


class Slot:
    """A conflatable queue entry: its payload may be replaced while it waits."""

    __slots__ = ("data", "key")

    def __init__(self, key: tuple[str, ...], data: bytes) -> None:
        self.key = key
        self.data = data


class SnapshotDue(NamedTuple):
    """A snapshot to build when the writer reaches it (so it is current when sent)."""

    reason: str


class Control(NamedTuple):
    """A reply to the client (welcome, error, accepted, pong, resync): never dropped."""

    data: bytes


Entry = bytes | Slot | SnapshotDue | Control | Close


@dataclass
class TokenBucket:
    """Per-connection rate limit.

    >>> b = TokenBucket(rate=1.0, burst=2.0, tokens=2.0, stamp=0.0)
    >>> [b.take(0.0), b.take(0.0), b.take(0.0), b.take(1.0)]
    [True, True, False, True]
    """

    rate: float
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(eq=False)
class Client:
    """One connected websocket client, as the hub sees it."""

    id: int
    role: str
    user: str
    sub: Subscription
    bucket: TokenBucket
    wake: Callable[[], None] | None = None
    queue: deque[Entry] = field(default_factory=deque)
    slots: dict[tuple[str, ...], Slot] = field(default_factory=dict)
    droppable: int = 0            # deltas and slots in ``queue`` (they count against the bound)
    resync_pending: bool = False
    closing: bool = False
    lag_resyncs: deque[float] = field(default_factory=deque)
    abuse: int = 0
    groups: frozenset[str] | None = None
    districts: frozenset[str] | None = None
    severities: frozenset[str] | None = None
    summary: bool = False
    last_seq: int = 0             # seq of the last delta/snapshot handed to the writer
    scope: Scope = scoping.CITY   # what the principal may see (canonical: scoping.key)

    def subscribe(self, sub: Subscription) -> None:
        """Apply a subscription (precomputes the sets the filter checks)."""
        self.sub = sub
        self.groups = frozenset(sub.groups) if sub.groups is not None else None
        self.districts = frozenset(sub.districts) if sub.districts is not None else None
        self.severities = frozenset(sub.severities) if sub.severities is not None else None
        self.summary = sub.wants_summary(self.role)

    def accepts(self, meta: Meta) -> bool:
        """Whether a delta with these attributes goes to this client."""
        kind = meta.kind
        if not self.scope.city_wide and not scoping.sees(self.scope, kind, meta.groups,
                                                         meta.district):
            return False
        if kind == "silence":  # few: every role that acts on alerts sees those in its scope
            return self.role != "leadership"
        if kind == "window":
            if not self.sub.windows:
                return False
        elif kind == "alert" and self.role == "leadership" and meta.category == "sensor_health":
            return False
        if self.groups is not None and not any(g in self.groups for g in meta.groups):
            return False
        if self.districts is not None and meta.district not in self.districts:
            return False
        severities = self.severities
        return severities is None or meta.severity is None or \
            meta.severity in severities or meta.prev_severity in severities

    @property
    def can_command(self) -> bool:
        """Whether this client's role may send commands."""
        return self.role in protocol.COMMAND_ROLES

    @property
    def live(self) -> bool:
        """Whether frames may be queued for it (no resync pending, not closing)."""
        return not self.resync_pending and not self.closing
