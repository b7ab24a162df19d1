"""The events topics read with librdkafka, outside Faust's consumer.

Faust's consumption path (aiokafka's fetcher parsing records in Python, then Faust's hand-off
of each message to the stream) cost the worker about 1.2 CPU seconds per 2M readings: more than
half of what it spends beyond a bare loop (``benchmarks/HISTORY.md``, stop 26). librdkafka
fetches and parses in its own threads, outside the GIL, for 0.13-0.2 s. So with
``IOC_EVENTS_CLIENT=librdkafka`` the worker's Faust app does not subscribe the events topics:
it consumes only the side topics (commands, alerts, indicator parts) and its changelogs, all
with ``IOC_PARTITIONS`` partitions, which Faust's assignor keeps co-partitioned; and
:class:`EventsReader` reads partition *N* of every events topic while this worker owns
partition *N* of those (assigned by hand: the reader joins no group).

**Offsets** live with the state they produced, not in the group: when a checkpoint has written
the series states and acknowledged input, the next offset to read of each events partition is
written to the ``offsets`` table (:class:`InputOffsets`), and whoever owns the partition next
starts there. Without an entry (a worker that read through Faust before), the group's
committed offset; without that, ``offset_reset``.

>>> offsets = InputOffsets()
>>> offsets.acked(Record("ioc.flooding.events", 2, 41, b"", 7))
>>> offsets.acked(Record("ioc.flooding.events", 2, 40, b"", 7))  # never backwards
>>> offsets.take_changed()
[('ioc.flooding.events#2', 2, b'42')]
>>> offsets.take_changed(), InputOffsets.decode(b'42'), InputOffsets.key("t", 0)
([], 42, 't#0')
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ioc.errors import ConfigError

if TYPE_CHECKING:
    from ioc.settings import Settings
    from streams.tables import PartitionedStore

__all__ = ["EventsReader", "InputOffsets", "ReaderFeed", "Record", "events_client"]

log = logging.getLogger("ioc.worker")

IDLE_WAIT_S = 0.2  # an idle reader waits this long in its thread for the next message


def events_client(settings: Settings) -> str:
    """``IOC_EVENTS_CLIENT`` resolved: ``librdkafka`` or ``faust``.

    >>> from ioc.settings import Settings
    >>> events_client(Settings()), events_client(Settings(processing_guarantee="exactly_once"))
    ('librdkafka', 'faust')
    >>> events_client(Settings(processing_guarantee="exactly_once", events_client="librdkafka"
    ...                        ))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ioc.errors.ConfigError: IOC_EVENTS_CLIENT=librdkafka cannot run with ...: use faust...
    """
    exactly_once = settings.processing_guarantee == "exactly_once"
    if settings.events_client == "auto":
        return "faust" if exactly_once else "librdkafka"
    if settings.events_client == "librdkafka" and exactly_once:
        raise ConfigError("IOC_EVENTS_CLIENT=librdkafka cannot run with "
                          "IOC_PROCESSING_GUARANTEE=exactly_once (its input offsets commit in "
                          "Faust's transactions): use faust or auto")
    return settings.events_client


class Record:
    """One events-topic message, shaped as the intake reads a Faust event (``.message``
    with ``topic``, ``partition``, ``offset`` and ``generation_id``; ``.value``)."""

    __slots__ = ("generation_id", "offset", "partition", "topic", "value")

    def __init__(self, topic: str, partition: int, offset: int, value: bytes | None,
                 generation_id: int) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.value = value
        self.generation_id = generation_id

    @property
    def message(self) -> Record:
        return self


class InputOffsets:
    """The next offset to read of each events partition, as acknowledged by checkpoints."""

    def __init__(self) -> None:
        self.next: dict[tuple[str, int], int] = {}
        self.changed: set[tuple[str, int]] = set()

    @staticmethod
    def key(topic: str, partition: int) -> str:
        """The ``offsets`` table key of an events partition."""
        return f"{topic}#{partition}"

    @staticmethod
    def decode(value: Any) -> int | None:
        """A stored offset, or None for anything else."""
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    def acked(self, msg: Any) -> None:
        """``msg`` is acknowledged: its partition is read up to it."""
        tp = (msg.topic, msg.partition)
        if msg.offset + 1 > self.next.get(tp, -1):
            self.next[tp] = msg.offset + 1
            self.changed.add(tp)

    def take_changed(self) -> list[tuple[str, int, bytes]]:
        """(table key, partition, value) of the offsets acknowledged since the last call."""
        out = [(self.key(t, p), p, str(self.next[(t, p)]).encode())
               for t, p in sorted(self.changed)]
        self.changed.clear()
        return out

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop what is known of revoked partitions (their next owner reads the table)."""
        gone = set(partitions)
        for tp in [tp for tp in self.next if tp[1] in gone]:
            del self.next[tp]
            self.changed.discard(tp)


class EventsReader:
    """A librdkafka consumer of the events topics, assigned partitions by hand.

    ``generation()`` is the Faust consumer's generation (stamped on each record, so the
    intake skips records read before a rebalance). Call :meth:`start` in the event loop,
    then :meth:`run`; :meth:`follow` and :meth:`revoke` follow the group's assignment.
    """

    def __init__(self, *, bootstrap: str, group_id: str, topics: Iterable[str],
                 offset_reset: str, generation: Callable[[], int], batch_messages: int = 128,
                 fetch_bytes: int = 2_097_152) -> None:
        self.topics = list(topics)
        self.offset_reset = offset_reset
        self.generation = generation
        self.batch_messages = batch_messages
        self.config = {
            "bootstrap.servers": bootstrap, "group.id": group_id,
            "client.id": f"{group_id}-events", "enable.auto.commit": False,
            "enable.auto.offset.store": False, "auto.offset.reset": offset_reset,
            "fetch.wait.max.ms": 100, "max.partition.fetch.bytes": fetch_bytes,
            "enable.partition.eof": False,
            # librdkafka holds a partition's next fetch back this long once its queue is
            # full (default 1 s): a busy worker drained the queue in under that and waited
            # for the broker, 0.65 -> 0.75x the bare loop dense (benchmarks/throughput.py)
            "fetch.queue.backoff.ms": 10,
        }
        self.owned: set[tuple[str, int]] = set()
        self._consumer: Any = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ioc-events")
        self._stopped = False

    @classmethod
    def from_settings(cls, settings: Settings, topics: Iterable[str], offset_reset: str,
                      generation: Callable[[], int], batch_messages: int) -> EventsReader:
        """A reader of ``topics`` for a worker of ``settings`` (its broker and group)."""
        return cls(bootstrap=settings.kafka_bootstrap or "", group_id=settings.app_id,
                   topics=topics, offset_reset=offset_reset, generation=generation,
                   batch_messages=batch_messages)

    def start(self) -> None:
        """Create the consumer (once: the first assignment may come before :meth:`run`)."""
        from confluent_kafka import Consumer
        if self._consumer is None:
            self._consumer = Consumer(self.config, logger=logging.getLogger("ioc.kafka"))

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def follow(self, partitions: Iterable[int], stored: Callable[[str, int], int | None]
                     ) -> dict[tuple[str, int], int]:
        """Read exactly ``partitions`` of every events topic: stop reading others, and start
        the new ones at their ``stored`` offset (else the group's committed one, else
        ``offset_reset``); returns where each new one starts (negative: librdkafka's logical
        offsets)."""
        from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition
        self.start()
        wanted = set(partitions)
        self.revoke({p for _, p in self.owned} - wanted)
        new = [(t, p) for p in sorted(wanted) for t in self.topics if (t, p) not in self.owned]
        if not new:
            return {}
        starts: dict[tuple[str, int], int] = {}
        ask = [TopicPartition(t, p) for t, p in new if stored(t, p) is None]
        if ask:  # one round trip for those without an entry
            for tp in await self._committed(ask):
                if tp.offset >= 0:
                    starts[(tp.topic, tp.partition)] = tp.offset
        reset = OFFSET_BEGINNING if self.offset_reset == "earliest" else OFFSET_END
        for tp in new:
            got = stored(*tp)
            starts[tp] = got if got is not None else starts.get(tp, reset)
        self._consumer.incremental_assign(
            [TopicPartition(t, p, starts[(t, p)]) for t, p in new])
        self.owned.update(new)
        return starts

    async def _committed(self, tps: list[Any], attempts: int = 3) -> list[Any]:
        """The group's committed offsets of ``tps`` (none after ``attempts`` failures: they
        start at ``offset_reset``, and the failure is logged)."""
        from confluent_kafka import KafkaException
        for attempt in range(1, attempts + 1):
            try:
                return list(await self._call(self._consumer.committed, tps, 10.0))
            except KafkaException as exc:
                log.warning("reading the group's committed offsets failed (%d of %d): %s",
                            attempt, attempts, exc)
        log.error("no committed offsets for %d events partitions: they start at the %s "
                  "offset", len(tps), self.offset_reset)
        return []

    def revoke(self, partitions: Iterable[int]) -> None:
        """Stop reading ``partitions`` (records already read of them are skipped by their
        generation)."""
        from confluent_kafka import TopicPartition
        gone = set(partitions)
        drop = [tp for tp in self.owned if tp[1] in gone]
        if drop and self._consumer is not None:
            self._consumer.incremental_unassign([TopicPartition(t, p) for t, p in drop])
        self.owned.difference_update(drop)

    def highwater(self, topic: str, partition: int) -> int | None:
        """The partition's high-water mark from the last fetch (None: not known yet)."""
        from confluent_kafka import TopicPartition
        if self._consumer is None or (topic, partition) not in self.owned:
            return None
        high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                    cached=True)[1]
        return high if high >= 0 else None

    def _records(self, msgs: list[Any]) -> list[Record]:
        gen = self.generation()
        out = []
        for m in msgs:
            err = m.error()
            if err is None:
                out.append(Record(m.topic(), m.partition(), m.offset(), m.value(), gen))
            else:
                log.warning("reading %s[%s]: %s", m.topic(), m.partition(), err)
        return out

    def _wait_one(self) -> list[Any]:
        msg = self._consumer.poll(IDLE_WAIT_S)
        return [] if msg is None else [msg]

    async def run(self, handle: Callable[[list[Record]], Awaitable[None]]) -> None:
        """Hand batches of up to ``batch_messages`` records to ``handle`` until stopped. A
        busy reader drains librdkafka's queue without waiting; an idle one waits for the next
        message in its own thread (no polling, no latency)."""
        n = self.batch_messages
        while not self._stopped:
            msgs = self._consumer.consume(n, 0)
            if not msgs:
                msgs = await self._call(self._wait_one)
                if msgs and n > 1:
                    msgs += self._consumer.consume(n - 1, 0)
            if msgs:
                records = self._records(msgs)
                if records:
                    await handle(records)

    def stop(self) -> None:
        """Stop reading and close the consumer (after its thread's last wait)."""
        self._stopped = True
        self._thread.shutdown(wait=True)
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class ReaderFeed:
    """An :class:`EventsReader` wired into a worker: its batches go to ``take`` (the events
    intake, under the worker's lock), acknowledged offsets to the ``offsets`` table ``store``
    (after the series state: :meth:`store_offsets` is the checkpoint's ``after_ack``), and it
    follows the group's assignment (:meth:`revoke`, :meth:`follow`; call both with the
    worker's lock held). ``stopping()`` tells whether the worker is stopping: a batch that
    fails then (its producer already stopped) is left to be read again at the next start,
    without an error in the log."""

    def __init__(self, reader: EventsReader, store: PartitionedStore,
                 take: Callable[[list[Record]], Awaitable[None]],
                 stopping: Callable[[], bool] = lambda: False) -> None:
        self.reader = reader
        self.store = store
        self.take = take
        self.stopping = stopping
        self.offsets = InputOffsets()

    def acked(self, msg: Any) -> None:
        self.offsets.acked(msg)

    def store_offsets(self) -> bool:
        """Queue the acknowledged offsets for the ``offsets`` changelog; whether any."""
        changed = self.offsets.take_changed()
        for key, partition, value in changed:
            self.store.put(key, value, partition)
        return bool(changed)

    def stored(self, topic: str, partition: int) -> int | None:
        return InputOffsets.decode(self.store.get(InputOffsets.key(topic, partition)))

    def revoke(self, partitions: Iterable[int]) -> None:
        parts = set(partitions)
        self.reader.revoke(parts)
        self.offsets.forget(parts)

    async def follow(self, partitions: Iterable[int]) -> None:
        starts = await self.reader.follow(partitions, self.stored)
        log.info("events reader: %d new partitions, %d of them from checkpointed offsets",
                 len(starts), sum(self.stored(*tp) is not None for tp in starts))

    async def run(self) -> None:
        """Read until cancelled; a failing batch is logged and reading goes on (as Faust's
        supervisor restarts a crashed agent: unacknowledged input is read again)."""
        self.reader.start()
        try:
            while True:
                try:
                    await self.reader.run(self.take)
                    return
                except Exception as exc:  # a bug or a broker failure must not stop the stream
                    if self.stopping():
                        log.info("events reader: stopped with a batch unacknowledged (%r): "
                                 "read again at the next start", exc)
                        return
                    log.exception("reading the events failed; reading on in a second")
                    await asyncio.sleep(1.0)
        finally:
            self.reader.stop()
