"""The per-client outgoing queues and what a lagging client loses (docs/protocol.md section
5): a bound on droppable frames, conflation of indicators, windows, heartbeats and summaries
under a key, resync + snapshot in place of an alert or incident delta that does not fit, and a
close for a client that keeps lagging. Control replies are never dropped. Sans-I/O: callers
pass ``now``; a client's ``wake`` tells its writer there is something to send.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dashboards import protocol
from dashboards.clients import Client, Close, Control, Entry, Slot, SnapshotDue
from dashboards.deltas import Meta


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


class ClientQueues:
    """The queueing policy shared by every client of one hub."""

    def __init__(self, stats: HubStats, *, queue_frames: int, lag_resyncs: int,
                 lag_span_s: float) -> None:
        if queue_frames < 2:
            raise ValueError(f"queue_frames must be at least 2, got {queue_frames}")
        self.stats = stats
        self.queue_frames = queue_frames
        self.lag_resyncs = lag_resyncs
        self.lag_span_s = lag_span_s

    def control(self, client: Client, data: bytes) -> None:
        """Queue a control frame (welcome, error, accepted, pong, resync): never dropped."""
        client.queue.append(Control(data))
        _wake(client)

    def close(self, client: Client, close: Close) -> None:
        """Queue ``close`` after everything already queued; nothing is queued after it."""
        client.closing = True
        client.queue.append(close)
        _wake(client)

    def conflate(self, client: Client, key: tuple[str, ...], data: bytes) -> bool:
        """Queue ``data`` under ``key``, replacing an unsent frame of the same key."""
        slot = client.slots.get(key)
        if slot is not None:
            slot.data = data
            self.stats.drop("conflated")
            return True
        if client.droppable >= self.queue_frames:
            self.stats.drop("queue_full")
            return False
        slot = Slot(key, data)
        client.slots[key] = slot
        client.queue.append(slot)
        client.droppable += 1
        _wake(client)
        return True

    def enqueue(self, client: Client, meta: Meta, data: bytes, now: float) -> bool:
        """Queue one delta (conflated when ``meta`` has a key); whether it was queued."""
        if client.closing:
            return False
        if client.resync_pending:
            self.stats.drop("resync_pending")
            return False
        if meta.key is not None:
            return self.conflate(client, meta.key, data)
        if client.droppable >= self.queue_frames:
            self._lagging(client, now)
            return False
        client.queue.append(data)
        client.droppable += 1
        _wake(client)
        return True

    def enqueue_all(self, client: Client, deltas: Iterable[tuple[Meta, bytes]],
                    now: float) -> None:
        """Queue the deltas a resume replays."""
        for meta, data in deltas:
            self.enqueue(client, meta, data, now)

    def snapshot_first(self, client: Client, reason: str) -> None:
        """Queue a snapshot marker after what is queued: deltas wait until it is built."""
        client.queue.append(SnapshotDue(reason))
        client.resync_pending = True

    def reset(self, client: Client, reason: str) -> None:
        """Replace the droppable frames queued by a ``resync`` and a snapshot."""
        if client.closing:
            return
        lost = self._discard(client)
        if lost:
            self.stats.drop("resync", lost)
        self.stats.resync(reason)
        client.queue.append(Control(protocol.resync_frame(reason)))
        self.snapshot_first(client, reason)
        _wake(client)

    def pop(self, client: Client) -> Entry | None:
        """The next entry of ``client``'s queue (None: empty); bytes and slots leave the
        count of droppable frames."""
        if not client.queue:
            return None
        entry = client.queue.popleft()
        if isinstance(entry, bytes):
            client.droppable -= 1
        elif isinstance(entry, Slot):
            client.droppable -= 1
            del client.slots[entry.key]
        return entry

    def _lagging(self, client: Client, now: float) -> None:
        """An alert/incident delta does not fit: replace the queue by resync + snapshot, or
        close the client when it keeps lagging."""
        while client.lag_resyncs and client.lag_resyncs[0] < now - self.lag_span_s:
            client.lag_resyncs.popleft()
        client.lag_resyncs.append(now)
        if len(client.lag_resyncs) > self.lag_resyncs:
            self.stats.drop("closed", self._discard(client))
            self.close(client, Close(
                protocol.CLOSE_TOO_SLOW,
                f"too slow: {len(client.lag_resyncs)} lagging resyncs in "
                f"{self.lag_span_s:g} s"))
            return
        self.reset(client, "lagging")

    def _discard(self, client: Client) -> int:
        """Drop every droppable frame queued for a client; keep control frames."""
        lost = client.droppable
        kept = [e for e in client.queue if isinstance(e, Control)]
        client.queue.clear()
        client.queue.extend(kept)
        client.slots.clear()
        client.droppable = 0
        return lost


def _wake(client: Client) -> None:
    if client.wake is not None:
        client.wake()
