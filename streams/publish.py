"""Publishing many small records at once, in record batches per (topic, partition).

A worker publishes one window summary per series and window, plus alerts, indicator parts and
dead letters: tens of thousands of small records a second at full speed. Faust's
``Topic.send_soon`` costs tens of microseconds per record (a future, a buffer slot, a task
wake-up each); :class:`BatchPublisher` instead appends them to aiokafka ``BatchBuilder`` s,
one per partition, and hands each full batch to the producer in one call. Partitions come from
Kafka's default partitioner (murmur2 of the key, as every Kafka client computes it), so a key
lands where a keyed send would put it, and records of one key keep their order.

:class:`Outbox` names what the worker sends (alert and incident records keyed by district,
window summaries packed per group, indicator parts and merged indicators) and queues it on a
publisher.

Delivery is at least once like everything the producer sends: the worker awaits a producer
flush (which covers these batches) before it writes checkpoints and acknowledges input, and
Faust flushes again before committing offsets. In ``exactly_once`` mode records go through
Faust's own send path, which ties them to its transactions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiokafka.partitioner import DefaultPartitioner

from ioc.events import encode
from streams.indicators import PARTS_PACK, by_key

if TYPE_CHECKING:
    import faust

    from ioc.events import Alert, GroupIndicator, Incident
    from streams.indicators import IndicatorPart
    from streams.pipeline import Output
    from streams.topics import TopicNames

__all__ = ["SUMMARY_PACK", "BatchPublisher", "Outbox", "default_partition"]

SUMMARY_PACK = 500  # window summaries (rows) per ioc.indicators message

log = logging.getLogger("ioc.worker")
_partitioner = DefaultPartitioner()


def default_partition(key: str | bytes, partitions: int) -> int:
    """The partition of ``partitions`` Kafka's default partitioner gives a key (UTF-8 for a
    str): where a keyed send puts it.

    >>> default_partition("flood-HC-01", 4) == default_partition(b"flood-HC-01", 4)
    True
    >>> {default_partition(f"s{i}", 3) for i in range(50)}
    {0, 1, 2}
    """
    raw = key.encode() if isinstance(key, str) else key
    parts = list(range(partitions))
    return int(_partitioner(raw, parts, parts))


class BatchPublisher:
    """Queue records with :meth:`add`, send them with :meth:`flush_out`."""

    def __init__(self, app: faust.App, *, batched: bool = True) -> None:
        self.app = app
        self.batched = batched
        self.queue: dict[str, list[tuple[bytes, bytes]]] = {}
        # records with an explicit partition (table changelogs): (topic, partition) -> records
        self.placed: dict[tuple[str, int], list[tuple[bytes, bytes | None]]] = {}
        self.sent = 0
        self.failed = 0
        self._partitions: dict[str, list[int]] = {}
        self._lock: asyncio.Lock | None = None

    def add(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue a record for the partition its key hashes to."""
        self.queue.setdefault(topic, []).append((key, value))

    def add_to(self, topic: str, partition: int, key: bytes, value: bytes | None) -> None:
        """Queue a record for an explicit partition (``None``: a tombstone)."""
        self.placed.setdefault((topic, partition), []).append((key, value))

    def __len__(self) -> int:
        return (sum(len(v) for v in self.queue.values())
                + sum(len(v) for v in self.placed.values()))

    async def partitions(self, topic: str) -> list[int]:
        parts = self._partitions.get(topic)
        if parts is None:
            producer = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
            parts = self._partitions[topic] = sorted(await producer.partitions_for(topic))
        return parts

    def partition_for(self, key: bytes, partitions: list[int]) -> int:
        return int(_partitioner(key, partitions, partitions))

    @property
    def lock(self) -> asyncio.Lock:
        """Held while records are handed over: flushes run one at a time, in order."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def flush_out(self) -> int:
        """Hand every queued record to the producer, after any flush still running (records
        keep the order they were queued in); returns how many."""
        async with self.lock:
            return await self._flush_out()

    async def _flush_out(self) -> int:
        queue, self.queue = self.queue, {}
        placed, self.placed = self.placed, {}
        n = 0
        if not self.batched:
            for topic, records in queue.items():
                t = self.app.topic(topic, key_serializer="raw", value_serializer="raw")
                for key, value in records:
                    await t.send(key=key, value=value)
                n += len(records)
            for (topic, p), recs in placed.items():
                t = self.app.topic(topic, key_serializer="raw", value_serializer="raw")
                for key, val in recs:
                    await t.send(key=key, value=val, partition=p)
                n += len(recs)
            self.sent += n
            return n
        producer = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
        for topic, records in queue.items():
            parts = await self.partitions(topic)
            by_partition: dict[int, list[tuple[bytes, bytes | None]]] = {}
            for key, value in records:
                p = int(_partitioner(key, parts, parts))
                got = by_partition.get(p)
                if got is None:
                    got = by_partition[p] = []
                got.append((key, value))
            for p, recs in by_partition.items():
                await self._send_all(producer, topic, p, recs)
            n += len(records)
        for (topic, p), recs in placed.items():
            await self._send_all(producer, topic, p, recs)
            n += len(recs)
        self.sent += n
        return n

    async def _send_all(self, producer: Any, topic: str, partition: int,
                        records: Iterable[tuple[bytes, bytes | None]]) -> None:
        batch = producer.create_batch()
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:
                await self._send(producer, batch, topic, partition)
                batch = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    log.error("a record of %d bytes does not fit a batch on %s: dropped",
                              len(value or b""), topic)
                    self.failed += 1
        if batch.record_count():
            await self._send(producer, batch, topic, partition)

    async def _send(self, producer: Any, batch: Any, topic: str, partition: int) -> None:
        fut = await producer.send_batch(batch, topic, partition=partition)
        fut.add_done_callback(self._done)

    def _done(self, fut: Any) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            self.failed += 1
            log.error("a batch of records could not be delivered: %r", exc)


class Outbox:
    """The worker's records, queued on ``publisher`` under the topics of ``names``.

    ``take`` hands over what the pipeline produced since its last call
    (:meth:`streams.pipeline.Pipeline.take_output`); ``parts_topic`` is the internal
    indicator-parts topic. :meth:`send` queues that output and flushes the publisher's queue.
    """

    def __init__(self, publisher: BatchPublisher, names: TopicNames, parts_topic: str,
                 take: Callable[[], Output],
                 take_shadow: Callable[[], list[Alert]] | None = None,
                 parts_sent: Callable[[int], None] | None = None) -> None:
        self.publisher = publisher
        self.names = names
        self.parts_topic = parts_topic
        self.take = take
        self.take_shadow = take_shadow  # shadow detectors' records: the shadow topic only
        self.parts_sent = parts_sent  # told how many indicator parts each output queued

    def alerts(self, records: Iterable[Alert | Incident]) -> None:
        """Alert and incident records, keyed by district (an incident linker's input)."""
        add, topic = self.publisher.add, self.names.alerts
        for rec in records:
            add(topic, rec.district.encode(), encode(rec))

    def indicator(self, ind: GroupIndicator) -> None:
        """A merged group indicator, keyed ``group:district``."""
        self.publisher.add(self.names.indicators, f"{ind.group}:{ind.district}".encode(),
                           encode(ind))

    def output(self, out: Output) -> None:
        """A pipeline step's alerts, window summaries (packs of columns of up to
        :data:`SUMMARY_PACK` rows, a group's on one partition, in order) and indicator parts."""
        self.alerts(out.alerts)
        add, indicators = self.publisher.add, self.names.indicators
        for group, summaries in out.summaries.items():
            key = group.encode()
            for pack in summaries.packs:
                n = len(pack)
                if n <= SUMMARY_PACK:
                    add(indicators, key, encode(pack))
                    continue
                for i in range(0, n, SUMMARY_PACK):
                    add(indicators, key, encode(pack.part(i, i + SUMMARY_PACK)))
        if out.parts:
            self.parts(out.parts)

    def parts(self, parts: list[IndicatorPart]) -> None:
        """Indicator parts, one message per ``group:district`` key: the part, or a pack of
        the key's parts in order (:data:`~streams.indicators.PARTS_PACK` at most)."""
        add, topic = self.publisher.add, self.parts_topic
        for key, key_parts in by_key(parts).items():
            raw_key = key.encode()
            if len(key_parts) == 1:
                add(topic, raw_key, encode(key_parts[0]))
                continue
            for i in range(0, len(key_parts), PARTS_PACK):
                add(topic, raw_key, encode(key_parts[i:i + PARTS_PACK]))
        if self.parts_sent is not None:
            self.parts_sent(len(parts))

    def queue(self) -> None:
        """Queue what the pipeline produced (call with the worker's lock held)."""
        out = self.take()
        if out:
            self.output(out)
        shadow = self.take_shadow() if self.take_shadow is not None else ()
        for rec in shadow:  # never on the alerts topic: operators must not see them
            self.publisher.add(self.names.shadow, rec.district.encode(), encode(rec))

    async def flush(self) -> None:
        """Hand everything queued to the producer. It may wait for the broker (aiokafka
        takes a partition's next batch once the previous one is on its way), so an agent
        whose input is small and frequent flushes after releasing the worker's lock."""
        if self.publisher.queue or self.publisher.placed:
            await self.publisher.flush_out()

    async def send(self) -> None:
        """:meth:`queue`, then :meth:`flush`."""
        self.queue()
        await self.flush()
