"""When the worker may acknowledge input: messages held until their windows are checkpointed.

The events agent acknowledges a message only after (1) every window its readings fall into
has closed, (2) the records those closes produced are flushed to Kafka, and (3) the state of
the series they touched is written to the ``series`` changelog. Faust commits acknowledged
offsets only after another producer flush (with the events reader, :mod:`streams.reader`,
the next offset to read is written to the ``offsets`` changelog after that flush), so a
committed offset never runs ahead of the state and the alerts it implies; after a crash the
rest is read again (at least once), and the alert book returns identical records for windows
it has already applied.

:class:`AckLedger` holds each message with the window end it waits for; :class:`Checkpointer`
runs the flush, write, flush, acknowledge sequence.

>>> ledger = AckLedger()
>>> ledger.hold("flooding", 0, 120.0, "m1"); ledger.hold("flooding", 0, NEVER_OPEN, "m2")
>>> ledger.hold("flooding", 1, 60.0, "m3")
>>> ledger.due(lambda group, partition: 100.0)   # m1 waits for its window at 120
['m3']
>>> ledger.due(lambda group, partition: 200.0), len(ledger)
(['m1', 'm2'], 0)
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Container
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.metrics import WorkerMetrics
    from streams.pipeline import Pipeline
    from streams.tables import PartitionedStore

__all__ = ["NEVER_OPEN", "AckLedger", "Checkpointer"]

# a message without valid readings waits for no window: acknowledged at the next checkpoint
NEVER_OPEN = -math.inf


class AckLedger:
    """Messages not yet acknowledged, per (group, partition), oldest first."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, int], deque[tuple[float, Any]]] = {}

    def hold(self, group: str, partition: int, after: float, msg: Any) -> None:
        """Hold ``msg`` until the windows of its partition have closed past ``after`` (its
        newest reading's time, or :data:`NEVER_OPEN`)."""
        q = self.pending.get((group, partition))
        if q is None:
            q = self.pending[(group, partition)] = deque()
        q.append((after, msg))

    def due(self, closed_upto: Callable[[str, int], float]) -> list[Any]:
        """Take the messages whose windows are closed (``closed_upto(group, partition)``: the
        time before which that partition's windows are), in order per partition."""
        out = []
        for (group, partition), q in self.pending.items():
            closed = closed_upto(group, partition)
            while q and (q[0][0] < closed or q[0][0] == NEVER_OPEN):
                out.append(q.popleft()[1])
        return out

    def forget(self, partitions: Container[int]) -> None:
        """Drop the messages of revoked partitions (their new owner reads them again)."""
        for key in [k for k in self.pending if k[1] in partitions]:
            del self.pending[key]

    def __len__(self) -> int:
        return sum(len(q) for q in self.pending.values())


class Checkpointer:
    """Every ``interval_s``: flush, write the changed series' state, flush, acknowledge.

    ``flush`` hands everything queued to the producer and waits for it; ``ack`` acknowledges
    one message (Faust commits it later). ``after_ack``, when given, runs after the
    acknowledgements and returns whether it queued records (the events reader's offsets):
    they are flushed too.
    """

    def __init__(self, pipeline: Pipeline, ledger: AckLedger, series_store: PartitionedStore,
                 metrics: WorkerMetrics, *, flush: Callable[[], Awaitable[None]],
                 ack: Callable[[Any], None], interval_s: float,
                 after_ack: Callable[[], bool] | None = None) -> None:
        self.pipeline = pipeline
        self.ledger = ledger
        self.series_store = series_store
        self.metrics = metrics
        self.flush = flush
        self.ack = ack
        self.after_ack = after_ack
        self.interval_s = interval_s
        self.last = time.monotonic()
        self.writing = 0  # states handed to the producer, not yet flushed

    def unsaved(self) -> int:
        """Series states not in the changelog yet: changed since the last checkpoint, or
        being written by the one running (0: everything closed so far survives a crash)."""
        return self.pipeline.unsaved() + self.writing

    def due(self, now: float | None = None) -> bool:
        """Whether ``interval_s`` passed since the last checkpoint (monotonic ``now``)."""
        return (time.monotonic() if now is None else now) - self.last >= self.interval_s

    async def run(self) -> int:
        """Checkpoint now (call with the worker's lock held); returns the messages acked."""
        self.last = time.monotonic()
        ackable = self.ledger.due(self.pipeline.closed_upto)
        writes = self.pipeline.checkpoint()
        if not (ackable or writes):
            return 0
        self.writing = len(writes)
        try:
            await self.flush()
            for key, partition, blob in writes:
                self.series_store.put(key, blob, partition)
            if writes:
                await self.flush()
                self.metrics.state_writes_total.inc(len(writes))
        finally:
            self.writing = 0
        for msg in ackable:
            self.ack(msg)
        if ackable and self.after_ack is not None and self.after_ack():
            await self.flush()  # what was acknowledged is recorded only after the states
        return len(ackable)
