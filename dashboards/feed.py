"""Kafka side of the dashboard: read ``ioc.alerts`` and ``ioc.indicators`` from the beginning,
write operators' commands to ``ioc.commands``.

Each dashboard instance reads every partition itself (no consumer group, nothing committed),
so instances scale independently of each other and of the workers. The feed reports
*caught up* once it has read up to the end offsets it saw at start; topics that do not exist
yet are looked up again every few seconds and read from their beginning once they appear.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from ioc import topics
from ioc.errors import ValidationError
from ioc.events import Command, decode_alert, decode_indicator, encode

log = logging.getLogger("ioc.dashboard.feed")

RETRY_S = 2.0
POLL_MS = 100
MAX_RECORDS = 2000


@dataclass(frozen=True)
class Topics:
    """The topics a dashboard reads and writes (injectable, so tests use their own)."""

    alerts: str = topics.ALERTS
    indicators: str = topics.INDICATORS
    commands: str = topics.COMMANDS


RecordSink = Callable[[str, list[Any]], None]


class Feed:
    """Consumes the alert and indicator topics into ``sink`` and produces commands.

    ``sink(topic, records)`` receives decoded records of one partition batch in offset
    order; ``on_ready()`` is called once, when the state has caught up; ``on_invalid(topic,
    partition, offset, error)`` for records that fail to decode (logged and skipped).
    """

    def __init__(self, bootstrap: str, *, topic_names: Topics, sink: RecordSink,
                 on_ready: Callable[[], None],
                 on_invalid: Callable[[str, int, int, ValidationError], None] | None = None,
                 client_id: str = "ioc-dashboard", read_committed: bool = False) -> None:
        self.bootstrap = bootstrap
        self.topics = topic_names
        self.sink = sink
        self.on_ready = on_ready
        self.on_invalid = on_invalid
        self.client_id = client_id
        self.read_committed = read_committed
        self.connected = False
        self.ready = False
        self.error: str | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()
        self._decoders = {topic_names.alerts: decode_alert,
                          topic_names.indicators: decode_indicator}

    # --- consuming --------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until cancelled, reconnecting after broker errors."""
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                self.connected = False
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("dashboard feed lost Kafka at %s (%s); retrying in %.0f s",
                            self.bootstrap, self.error, RETRY_S)
            finally:
                await self._close_consumer()
            await asyncio.sleep(RETRY_S)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", client_id=self.client_id,
            isolation_level="read_committed" if self.read_committed else "read_uncommitted")
        self._consumer = consumer
        await consumer.start()
        self.connected = True
        self.error = None
        assigned: set[TopicPartition] = set()
        ends: dict[TopicPartition, int] = {}
        next_lookup = 0.0
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() >= next_lookup and not self._complete(consumer, assigned):
                fresh = await self._partitions(consumer, assigned)
                if fresh:
                    assigned |= fresh
                    consumer.assign(sorted(assigned, key=lambda tp: (tp.topic, tp.partition)))
                    await consumer.seek_to_beginning(*fresh)
                    if not self.ready:
                        ends.update(await consumer.end_offsets(list(fresh)))
                next_lookup = loop.time() + RETRY_S
            if not assigned:
                if not self.ready:
                    self._caught_up()
                await asyncio.sleep(min(RETRY_S, max(0.05, next_lookup - loop.time())))
                continue
            batch = await consumer.getmany(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
            for tp, messages in batch.items():
                records = []
                decode = self._decoders[tp.topic]
                for msg in messages:
                    try:
                        records.append(decode(msg.value or b""))
                    except ValidationError as exc:
                        log.warning("undecodable record on %s[%d]@%d: %s", tp.topic,
                                    tp.partition, msg.offset, exc)
                        if self.on_invalid is not None:
                            self.on_invalid(tp.topic, tp.partition, msg.offset, exc)
                if records:
                    self.sink(tp.topic, records)
            if not self.ready and await self._reached(consumer, ends):
                self._caught_up()

    def _complete(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> bool:
        """Whether both topics are known and all their partitions assigned."""
        for topic in (self.topics.alerts, self.topics.indicators):
            parts = consumer.partitions_for_topic(topic)
            if not parts or any(TopicPartition(topic, p) not in assigned for p in parts):
                return False
        return True

    async def _partitions(self, consumer: AIOKafkaConsumer,
                          assigned: set[TopicPartition]) -> set[TopicPartition]:
        await consumer.topics()  # refreshes metadata without creating topics
        fresh: set[TopicPartition] = set()
        for topic in (self.topics.alerts, self.topics.indicators):
            for p in consumer.partitions_for_topic(topic) or ():
                tp = TopicPartition(topic, p)
                if tp not in assigned:
                    fresh.add(tp)
        return fresh

    async def _reached(self, consumer: AIOKafkaConsumer,
                       ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    def _caught_up(self) -> None:
        self.ready = True
        log.info("dashboard state caught up with %s and %s", self.topics.alerts,
                 self.topics.indicators)
        self.on_ready()

    async def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()

    # --- producing --------------------------------------------------------------------------

    async def send_command(self, command: Command, key: str,
                           timeout: float = 10.0) -> None:
        """Write one command to the commands topic and wait for the broker's ack; raise
        :class:`TimeoutError` or :class:`aiokafka.errors.KafkaError` when it cannot."""
        producer = await asyncio.wait_for(self._ensure_producer(), timeout)
        await asyncio.wait_for(
            producer.send_and_wait(self.topics.commands, encode(command), key=key.encode()),
            timeout)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                            client_id=f"{self.client_id}-commands")
                try:
                    await producer.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        """Stop the producer (the consumer stops when :meth:`run` is cancelled)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
        await self._close_consumer()

