"""The hub: subscriptions, fan-out, sequence numbers and epochs, the one object the server
feeds with records and client events.

Sans-I/O: no sockets, no awaits, no clock of its own (callers pass ``now``). The server feeds it
records and client events and moves the bytes it hands out; everything that decides *who gets
what and what a lagging client loses* lives here and in the rooms it uses (policy in
``docs/protocol.md`` section 5): the filter attributes of a delta (:mod:`dashboards.deltas`),
the client and its queue's entries (:mod:`dashboards.clients`), the queueing and drop policy
(:mod:`dashboards.queues`) and the resume buffer (:mod:`dashboards.resume`).

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
from collections.abc import Callable
from typing import Any

import msgspec

from archive.accounts import Scope
from dashboards import protocol
from dashboards import scope as scoping
from dashboards.clients import Client, Close, Control, Slot, SnapshotDue, TokenBucket
from dashboards.deltas import meta_of
from dashboards.protocol import Subscription
from dashboards.queues import ClientQueues, HubStats
from dashboards.resume import Narrow, ResumeBuffer
from ioc.events import Incident

__all__ = ["Client", "Close", "Hub", "HubStats", "SnapshotFn"]

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
        self.stats = HubStats()
        self.queues = ClientQueues(self.stats, queue_frames=queue_frames,
                                   lag_resyncs=lag_resyncs, lag_span_s=lag_span_s)
        self.resume = ResumeBuffer(resume_buffer, narrow)
        self.snapshot = snapshot
        self.epoch = epoch
        self.seq = 0
        self.ready = False
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.abuse_limit = abuse_limit
        self.clients: dict[int, Client] = {}
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
        missed = None
        if resume is not None and self.ready and resume.epoch == self.epoch:
            missed = self.resume.missed(client, resume.seq, self.seq)
        self.queues.control(client, _welcome(client, self.epoch, self.seq, missed is not None))
        if missed is not None:
            self.queues.enqueue_all(client, missed, now)
            client.last_seq = self.seq
            return client
        reason = "initial"
        if resume is not None:
            reason = "epoch_changed" if resume.epoch != self.epoch else "too_old"
            self.queues.control(client, protocol.resync_frame(reason))
            self.stats.resync(reason)
        self.queues.snapshot_first(client, reason)
        return client

    def disconnect(self, client: Client) -> None:
        """Forget a client (its queue is discarded)."""
        self.clients.pop(client.id, None)
        client.queue.clear()
        client.slots.clear()

    def resubscribe(self, client: Client, sub: Subscription) -> None:
        """Replace a client's subscription: its queue is replaced by resync + snapshot."""
        client.subscribe(sub)
        self.queues.reset(client, "subscribed")

    def send(self, client: Client, data: bytes) -> None:
        """Queue a control frame (welcome, error, accepted, pong): never dropped."""
        self.queues.control(client, data)

    def close(self, client: Client, close: Close) -> None:
        """Queue ``close`` after everything already queued: the writer sends the replies
        (pongs, the error frame saying why) before it closes. Nothing is queued after it."""
        self.queues.close(client, close)

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
        self.resume.add(self.seq, meta, data, incident)
        self.stats.published += 1
        n = 0
        scoped: dict[Scope, bytes | None] = {}
        for client in self.clients.values():
            if not client.accepts(meta):
                continue
            seen = data if incident is None else self.resume.as_seen(
                client.scope, self.seq, meta, data, incident, scoped)
            if seen is not None and self.queues.enqueue(client, meta, seen, now):
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
        return self._conflate_where(lambda c: c.role == role and c.scope == scope, (key,),
                                    data)

    def publish_summary(self, data: bytes, scope: Scope = scoping.CITY) -> int:
        """Queue a ``summary`` frame (of ``scope``'s alerts and indicators) for the clients
        of that scope that asked for summaries (conflated)."""
        return self._conflate_where(lambda c: c.summary and c.scope == scope, ("summary",),
                                    data)

    def heartbeat(self, now: float, **extra: Any) -> None:
        """Queue a heartbeat for every client (conflated; skipped while a resync is
        pending, since the snapshot says the same). ``extra``: additive fields (the server
        adds how old its newest indicator is)."""
        data = protocol.heartbeat_frame(self.epoch, self.seq, now, self.ready, **extra)
        self._conflate_where(lambda c: True, ("heartbeat",), data)

    def _conflate_where(self, wanted: Callable[[Client], bool], key: tuple[str, ...],
                        data: bytes) -> int:
        """Conflate ``data`` under ``key`` for the live clients ``wanted`` selects."""
        n = 0
        for client in self.clients.values():
            if wanted(client) and client.live:
                self.queues.conflate(client, key, data)
                n += 1
        return n

    def mark_ready(self, *, now: float, epoch: str) -> None:
        """The state has caught up with Kafka: start a new epoch (resumes from before it
        fail) and send every client a resync + a complete snapshot."""
        self.ready = True
        self.epoch = epoch
        self.resume.clear()
        for client in list(self.clients.values()):
            self.queues.reset(client, "state_loaded")

    # --- the writer's side ------------------------------------------------------------------

    def pop(self, client: Client) -> bytes | Close | None:
        """The next frame for ``client``'s writer: bytes to send, a :class:`Close`, or None
        when its queue is empty. A pending snapshot is built here, at send time."""
        entry = self.queues.pop(client)
        if isinstance(entry, Slot | Control):
            return entry.data
        if isinstance(entry, SnapshotDue):
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

    def counts_by_role(self) -> dict[str, int]:
        """Connected clients per role."""
        out = dict.fromkeys(protocol.ROLES, 0)
        for client in self.clients.values():
            out[client.role] += 1
        return out


def _welcome(client: Client, epoch: str, seq: int, resumed: bool) -> bytes:
    """The ``welcome`` frame of a client that has just connected."""
    return protocol.frame({
        "type": "welcome", "v": protocol.VERSION, "role": client.role, "user": client.user,
        "epoch": epoch, "seq": seq, "resumed": resumed, "heartbeat_s": protocol.HEARTBEAT_S,
        "can_command": client.can_command, "subscription": client.sub.public(client.role),
        "limits": protocol.limits(), "scope": {"districts": list(client.scope.districts),
                                               "groups": list(client.scope.groups)}})
