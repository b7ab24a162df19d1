"""The hub: subscriptions, fan-out policy, sequence numbers, resume buffer, per-client queues.

Sans-I/O: no sockets, no awaits, no clock of its own (callers pass ``now``). The server feeds it
records and client events and moves the bytes it hands out; everything that decides *who gets
what and what a lagging client loses* lives here (policy in ``docs/protocol.md`` section 5).

>>> from ioc.events import GroupIndicator
>>> hub = Hub(snapshot=lambda client, reason: b'{"type":"snapshot"}', epoch="e1")
>>> hub.mark_ready(now=0.0, epoch="e2")
>>> c = hub.connect(role="operator", user="operator", sub=Subscription(), now=0.0)
>>> [f[:20] for f in hub.drain(c)]
[b'{"type":"welcome","v', b'{"type":"snapshot"}']
>>> gi = GroupIndicator(group="flooding", district="Hai Chau", start=0.0, end=60.0,
...                     sources_reporting=1, sources_expected=1, sources_in_breach=0,
...                     open_alerts={}, kpis={})
>>> hub.publish(gi, now=1.0)
1
>>> hub.drain(c)[0][:44]
b'{"type":"delta","seq":1,"kind":"indicator","'
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from archive.accounts import Scope
from dashboards import protocol
from dashboards import scope as scoping
from dashboards.protocol import Kind, Subscription
from dashboards.state import SilenceView
from ioc.events import Alert, GroupIndicator, Incident, WindowSummary

# An incident as a scope sees it (None: not at all); the board's knows member severities
Narrow = Callable[[Incident, Scope], Incident | None]


class Meta(NamedTuple):
    """What the filters look at in a delta (computed once per delta, not per client)."""

    kind: Kind
    groups: tuple[str, ...]
    district: str
    severity: str | None
    prev_severity: str | None
    category: str | None
    key: tuple[str, ...] | None  # conflation key (indicators, windows) or None (never dropped)


def meta_of(record: msgspec.Struct, prev: msgspec.Struct | None = None) -> Meta:
    """The filter attributes of a record (``prev``: the version it replaces, if any).

    >>> from ioc.events import GroupIndicator
    >>> meta_of(GroupIndicator(group="traffic", district="Son Tra", start=0.0, end=60.0,
    ...     sources_reporting=1, sources_expected=1, sources_in_breach=0, open_alerts={},
    ...     kpis={})).key
    ('indicator', 'traffic', 'Son Tra')
    """
    if isinstance(record, Alert):
        prev_sev = prev.severity if isinstance(prev, Alert) else None
        return Meta("alert", (record.group,), record.district, record.severity, prev_sev,
                    record.category, None)
    if isinstance(record, Incident):
        prev_sev = prev.severity if isinstance(prev, Incident) else None
        groups = tuple(record.groups)
        if isinstance(prev, Incident):
            groups = tuple(dict.fromkeys((*prev.groups, *groups)))
        return Meta("incident", groups, record.district, record.severity, prev_sev, None, None)
    if isinstance(record, GroupIndicator):
        return Meta("indicator", (record.group,), record.district, None, None, None,
                    ("indicator", record.group, record.district))
    if isinstance(record, WindowSummary):
        return Meta("window", (record.group,), record.district, None, None, None,
                    ("window", record.source, record.metric))
    if isinstance(record, SilenceView):  # the place its matchers name ("": any)
        named_districts, named_groups = scoping.silence_place(
            record.matchers, lambda _: record.alert_district)
        return Meta("silence", tuple(sorted(named_groups)), min(named_districts, default=""),
                    None, None, None, None)
    raise TypeError(f"not a dashboard record: {type(record).__name__}")


class Close(NamedTuple):
    """The writer should close the connection with this code and reason."""

    code: int
    reason: str


class _Slot:
    """A conflatable queue entry: its payload may be replaced while it waits."""

    __slots__ = ("data", "key")

    def __init__(self, key: tuple[str, ...], data: bytes) -> None:
        self.key = key
        self.data = data


class _Snapshot(NamedTuple):
    reason: str


class _Control(NamedTuple):
    """A reply to the client (welcome, error, accepted, pong, resync): never dropped."""

    data: bytes


Entry = bytes | _Slot | _Snapshot | _Control | Close


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
    slots: dict[tuple[str, ...], _Slot] = field(default_factory=dict)
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


@dataclass
class HubStats:
    """Counters the server mirrors into Prometheus (plain ints: the hub imports no metrics)."""

    dropped: dict[str, int] = field(default_factory=dict)
    resyncs: dict[str, int] = field(default_factory=dict)
    published: int = 0

    def drop(self, reason: str, n: int = 1) -> None:
        """Count ``n`` frames a client lost for ``reason``."""
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    def resync(self, reason: str) -> None:
        """Count one resync sent for ``reason``."""
        self.resyncs[reason] = self.resyncs.get(reason, 0) + 1


SnapshotFn = Callable[[Client, str], bytes]


class Hub:
    """Fan-out of deltas to clients with bounded queues and resume.

    ``snapshot(client, reason)`` builds the bytes of a snapshot frame for a client; the hub
    calls it lazily, when the client's writer is about to send it, so a snapshot is always
    current. ``narrow(incident, scope)`` is how a scoped client sees an incident
    (:func:`dashboards.scope.narrow_incident` by default): a delta is encoded once, and an
    incident delta once more per distinct scope that sees it narrowed.
    """

    def __init__(self, snapshot: SnapshotFn, *, epoch: str,
                 queue_frames: int = protocol.QUEUE_FRAMES,
                 resume_buffer: int = protocol.RESUME_BUFFER,
                 lag_resyncs: int = protocol.LAG_RESYNCS,
                 lag_span_s: float = protocol.LAG_SPAN_S,
                 rate_per_s: float = protocol.RATE_PER_S,
                 burst: float = protocol.RATE_BURST,
                 abuse_limit: int = protocol.RATE_ABUSE_LIMIT,
                 narrow: Narrow = scoping.narrow_incident) -> None:
        if queue_frames < 2:
            raise ValueError(f"queue_frames must be at least 2, got {queue_frames}")
        self.snapshot = snapshot
        self.narrow = narrow
        self.epoch = epoch
        self.seq = 0
        self.ready = False
        self.queue_frames = queue_frames
        self.lag_resyncs = lag_resyncs
        self.lag_span_s = lag_span_s
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.abuse_limit = abuse_limit
        self.clients: dict[int, Client] = {}
        # seq, filter attributes, bytes, and the record itself for incidents (re-narrowed
        # per scope on resume)
        self.buffer: deque[tuple[int, Meta, bytes, Incident | None]] = deque(
            maxlen=resume_buffer)
        self.stats = HubStats()
        self._ids = itertools.count(1)

    # --- clients ----------------------------------------------------------------------------

    def connect(self, *, role: str, user: str, sub: Subscription, now: float,
                resume: protocol.Resume | None = None,
                wake: Callable[[], None] | None = None, scope: Scope = scoping.CITY) -> Client:
        """Register an authenticated client (``scope``: what its principal may see, on top
        of any subscription); queue ``welcome`` then either the deltas it missed (a
        successful resume) or a ``resync``/``snapshot``."""
        if role not in protocol.ROLES:
            raise ValueError(f"unknown role {role!r}")
        client = Client(id=next(self._ids), role=role, user=user, sub=sub, wake=wake,
                        bucket=TokenBucket(self.rate_per_s, self.burst, self.burst, now),
                        scope=scoping.key(scope))
        client.subscribe(sub)
        self.clients[client.id] = client
        missed = self._missed(client, resume)
        self._control(client, protocol.frame({
            "type": "welcome", "v": protocol.VERSION, "role": role, "user": user,
            "epoch": self.epoch, "seq": self.seq, "resumed": missed is not None,
            "heartbeat_s": protocol.HEARTBEAT_S, "can_command": client.can_command,
            "subscription": sub.public(role), "limits": protocol.limits(),
            "scope": {"districts": list(client.scope.districts),
                      "groups": list(client.scope.groups)}}))
        if missed is not None:
            for meta, data in missed:
                self._enqueue(client, meta, data, now)
            client.last_seq = self.seq
        else:
            reason = "initial"
            if resume is not None:
                reason = "epoch_changed" if resume.epoch != self.epoch else "too_old"
                self._control(client, protocol.resync_frame(reason))
                self.stats.resync(reason)
            client.queue.append(_Snapshot(reason))
            client.resync_pending = True
        return client

    def _missed(self, client: Client,
                resume: protocol.Resume | None) -> list[tuple[Meta, bytes]] | None:
        """The buffered deltas after ``resume.seq`` this client should get, or None when a
        resume is impossible (other epoch, gap, not ready)."""
        if resume is None or not self.ready or resume.epoch != self.epoch:
            return None
        if resume.seq > self.seq or resume.seq < 0:
            return None
        oldest = self.buffer[0][0] if self.buffer else self.seq + 1
        if resume.seq + 1 < oldest:
            return None
        out = []
        for seq, meta, data, incident in self.buffer:
            if seq > resume.seq and client.accepts(meta):
                seen = self._as_seen(client.scope, seq, meta, data, incident, {})
                if seen is not None:
                    out.append((meta, seen))
        return out

    def _as_seen(self, scope: Scope, seq: int, meta: Meta, data: bytes,
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

    def disconnect(self, client: Client) -> None:
        """Forget a client (its queue is discarded)."""
        self.clients.pop(client.id, None)
        client.queue.clear()
        client.slots.clear()

    def resubscribe(self, client: Client, sub: Subscription) -> None:
        """Replace a client's subscription: its queue is replaced by resync + snapshot."""
        client.subscribe(sub)
        self._reset(client, "subscribed")

    def send(self, client: Client, data: bytes) -> None:
        """Queue a control frame (welcome, error, accepted, pong): never dropped."""
        self._control(client, data)

    def close(self, client: Client, close: Close) -> None:
        """Queue ``close`` after everything already queued: the writer sends the replies
        (pongs, the error frame saying why) before it closes. Nothing is queued after it."""
        client.closing = True
        client.queue.append(close)
        self._wake(client)

    def allow(self, client: Client, now: float) -> bool | Close:
        """Rate-limit one incoming message: True to process it, False to answer
        ``rate_limited``, or a :class:`Close` once the client has abused the limit."""
        if client.bucket.take(now):
            return True
        client.abuse += 1
        if client.abuse >= self.abuse_limit:
            return Close(protocol.CLOSE_POLICY,
                         f"rate limit: {client.abuse} messages over "
                         f"{self.rate_per_s:g}/s")
        return False

    # --- publishing -------------------------------------------------------------------------

    def publish(self, record: msgspec.Struct, *, now: float,
                prev: msgspec.Struct | None = None) -> int:
        """Fan out one new record as a delta: encoded once, the same bytes queued for every
        matching client (an incident: once more per scope that sees it narrowed). Returns the
        number of clients it was queued for."""
        meta = meta_of(record, prev)
        self.seq += 1
        data = protocol.delta_frame(self.seq, meta.kind, record)
        incident = record if isinstance(record, Incident) else None
        self.buffer.append((self.seq, meta, data, incident))
        self.stats.published += 1
        n = 0
        scoped: dict[Scope, bytes | None] = {}
        for client in self.clients.values():
            if not client.accepts(meta):
                continue
            seen = data if incident is None else self._as_seen(
                client.scope, self.seq, meta, data, incident, scoped)
            if seen is not None and self._enqueue(client, meta, seen, now):
                n += 1
        return n

    def scopes(self, wanted: Callable[[Client], bool]) -> set[Scope]:
        """The distinct scopes of the clients ``wanted`` selects (a frame whose content
        depends on the scope is made once per scope)."""
        return {c.scope for c in self.clients.values() if wanted(c)}

    def publish_to_role(self, role: str, key: str, data: bytes,
                        scope: Scope = scoping.CITY) -> int:
        """Queue a frame that only ``role`` clients of ``scope`` see (conflated under
        ``key``: a newer one replaces an unsent older one), e.g. the engineers' unregistered
        sources."""
        n = 0
        for client in self.clients.values():
            if client.role == role and client.scope == scope and not client.resync_pending \
                    and not client.closing:
                self._conflate(client, (key,), data)
                n += 1
        return n

    def publish_summary(self, data: bytes, scope: Scope = scoping.CITY) -> int:
        """Queue a ``summary`` frame (of ``scope``'s alerts and indicators) for the clients
        of that scope that asked for summaries (conflated)."""
        n = 0
        for client in self.clients.values():
            if client.summary and client.scope == scope and not client.resync_pending \
                    and not client.closing:
                self._conflate(client, ("summary",), data)
                n += 1
        return n

    def heartbeat(self, now: float, **extra: Any) -> None:
        """Queue a heartbeat for every client (conflated; skipped while a resync is
        pending, since the snapshot says the same). ``extra``: additive fields (the server
        adds how old its newest indicator is)."""
        data = protocol.heartbeat_frame(self.epoch, self.seq, now, self.ready, **extra)
        for client in self.clients.values():
            if not client.resync_pending and not client.closing:
                self._conflate(client, ("heartbeat",), data)

    def mark_ready(self, *, now: float, epoch: str) -> None:
        """The state has caught up with Kafka: start a new epoch (resumes from before it
        fail) and send every client a resync + a complete snapshot."""
        self.ready = True
        self.epoch = epoch
        self.buffer.clear()
        for client in list(self.clients.values()):
            self._reset(client, "state_loaded")

    # --- the writer's side ------------------------------------------------------------------

    def pop(self, client: Client) -> bytes | Close | None:
        """The next frame for ``client``'s writer: bytes to send, a :class:`Close`, or None
        when its queue is empty. A pending snapshot is built here, at send time."""
        if not client.queue:
            return None
        entry = client.queue.popleft()
        if isinstance(entry, bytes):
            client.droppable -= 1
            return entry
        if isinstance(entry, _Control):
            return entry.data
        if isinstance(entry, _Slot):
            client.droppable -= 1
            del client.slots[entry.key]
            return entry.data
        if isinstance(entry, _Snapshot):
            client.resync_pending = False
            client.last_seq = self.seq
            return self.snapshot(client, entry.reason)
        return entry

    def drain(self, client: Client) -> list[bytes | Close]:
        """Pop everything queued (for tests and batch writers)."""
        out: list[bytes | Close] = []
        while (item := self.pop(client)) is not None:
            out.append(item)
        return out

    def pending(self, client: Client) -> int:
        """Frames waiting in ``client``'s queue."""
        return len(client.queue)

    # --- internals --------------------------------------------------------------------------

    def _wake(self, client: Client) -> None:
        if client.wake is not None:
            client.wake()

    def _control(self, client: Client, data: bytes) -> None:
        client.queue.append(_Control(data))
        self._wake(client)

    def _conflate(self, client: Client, key: tuple[str, ...], data: bytes) -> bool:
        slot = client.slots.get(key)
        if slot is not None:
            slot.data = data
            self.stats.drop("conflated")
            return True
        if client.droppable >= self.queue_frames:
            self.stats.drop("queue_full")
            return False
        slot = _Slot(key, data)
        client.slots[key] = slot
        client.queue.append(slot)
        client.droppable += 1
        self._wake(client)
        return True

    def _enqueue(self, client: Client, meta: Meta, data: bytes, now: float) -> bool:
        if client.closing:
            return False
        if client.resync_pending:
            self.stats.drop("resync_pending")
            return False
        if meta.key is not None:
            return self._conflate(client, meta.key, data)
        if client.droppable >= self.queue_frames:
            self._lagging(client, now)
            return False
        client.queue.append(data)
        client.droppable += 1
        self._wake(client)
        return True

    def _lagging(self, client: Client, now: float) -> None:
        """An alert/incident delta does not fit: replace the queue by resync + snapshot, or
        close the client when it keeps lagging."""
        while client.lag_resyncs and client.lag_resyncs[0] < now - self.lag_span_s:
            client.lag_resyncs.popleft()
        client.lag_resyncs.append(now)
        if len(client.lag_resyncs) > self.lag_resyncs:
            self.stats.drop("closed", self._discard(client))
            client.closing = True
            client.queue.append(Close(
                protocol.CLOSE_TOO_SLOW,
                f"too slow: {len(client.lag_resyncs)} lagging resyncs in "
                f"{self.lag_span_s:g} s"))
            self._wake(client)
            return
        self._reset(client, "lagging")

    def _discard(self, client: Client) -> int:
        """Drop every droppable frame queued for a client; keep control frames."""
        lost = client.droppable
        kept = [e for e in client.queue if isinstance(e, _Control)]
        client.queue.clear()
        client.queue.extend(kept)
        client.slots.clear()
        client.droppable = 0
        return lost

    def _reset(self, client: Client, reason: str) -> None:
        if client.closing:
            return
        lost = self._discard(client)
        if lost:
            self.stats.drop("resync", lost)
        self.stats.resync(reason)
        client.queue.append(_Control(protocol.resync_frame(reason)))
        client.queue.append(_Snapshot(reason))
        client.resync_pending = True
        self._wake(client)

    def counts_by_role(self) -> dict[str, int]:
        """Connected clients per role."""
        out = dict.fromkeys(protocol.ROLES, 0)
        for client in self.clients.values():
            out[client.role] += 1
        return out

