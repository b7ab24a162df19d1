"""Kafka side of the dashboard: read ``ioc.alerts``, ``ioc.indicators`` and ``ioc.commands``
(for the silences in force) from the beginning, write operators' commands to ``ioc.commands``.

Each dashboard instance reads every partition itself (no consumer group, nothing committed),
so instances scale independently of each other and of the workers. The feed reports
*caught up* once it has read up to the end offsets it saw at start; topics that do not exist
yet are picked up by metadata refreshes (every 10 s) and read from their beginning. Offsets
already applied are remembered per partition, so a re-read (reconnect, reassignment) never
applies or publishes a record twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from ioc import topics
from ioc.errors import ValidationError
from ioc.events import (
    AlertRecord,
    Command,
    IndicatorRecord,
    decode_alert,
    decode_command,
    decode_indicators,
    encode,
)

log = logging.getLogger("ioc.dashboard.feed")

RETRY_S = 2.0
POLL_MS = 100
MAX_RECORDS = 500  # per poll; the writers get the loop between partition batches
FETCH_WAIT_MS = 100  # brokers without long-poll wake-ups (tansu) answer after this
METADATA_AGE_MS = 10_000  # how soon topics created after start are noticed

Record = AlertRecord | IndicatorRecord | Command


def _one_alert(raw: bytes) -> list[AlertRecord]:
    return [decode_alert(raw)]


def _one_command(raw: bytes) -> list[Command]:
    return [decode_command(raw)]


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
        self._done: dict[TopicPartition, int] = {}  # last offset applied per partition
        self._decoders: dict[str, Callable[[bytes], Sequence[Record]]] = {
            topic_names.alerts: _one_alert, topic_names.indicators: decode_indicators,
            topic_names.commands: _one_command}

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
            fetch_max_wait_ms=FETCH_WAIT_MS, metadata_max_age_ms=METADATA_AGE_MS,
            isolation_level="read_committed" if self.read_committed else "read_uncommitted")
        self._consumer = consumer
        await consumer.start()
        self.connected = True
        self.error = None
        ours = (self.topics.alerts, self.topics.indicators, self.topics.commands)
        # A pattern subscription without a group: every partition of the topics is assigned
        # to this consumer, topics created later are picked up by metadata refreshes, and
        # nothing is auto-created by asking for a missing topic.
        consumer.subscribe(pattern="^(" + "|".join(re.escape(t) for t in ours) + ")$")
        if not self.ready:
            await self._load(consumer, ours)
        elif self._done:
            await self._resume(consumer, ours)
        while True:
            await self._poll(consumer)

    async def _assigned(self, consumer: AIOKafkaConsumer, ours: tuple[str, ...]) -> bool:
        """Wait until every existing topic of ours is assigned; False when none exists."""
        loop = asyncio.get_running_loop()
        present = {t for t in await consumer.topics() if t in ours}
        deadline = loop.time() + 30.0
        while present and {tp.topic for tp in consumer.assignment()} != present:
            if loop.time() > deadline:
                raise KafkaError(f"no partitions assigned for {sorted(present)} within 30 s")
            await asyncio.sleep(0.05)
        return bool(present)

    async def _resume(self, consumer: AIOKafkaConsumer, ours: tuple[str, ...]) -> None:
        """After a reconnect, continue after the offsets already applied."""
        if await self._assigned(consumer, ours):
            for tp in consumer.assignment():
                if tp in self._done:
                    consumer.seek(tp, self._done[tp] + 1)

    async def _load(self, consumer: AIOKafkaConsumer, ours: tuple[str, ...]) -> None:
        """Read up to the end offsets seen at start, then report caught up."""
        present = await self._assigned(consumer, ours)
        ends = await consumer.end_offsets(list(consumer.assignment())) if present else {}
        while True:
            pending = False
            for tp, end in ends.items():
                if await consumer.position(tp) < end:
                    pending = True
                    break
            if not pending:
                break
            await self._poll(consumer)
        self._caught_up()

    async def _poll(self, consumer: AIOKafkaConsumer) -> None:
        batch = await consumer.getmany(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
        for tp, messages in batch.items():
            done = self._done.get(tp, -1)
            records: list[Record] = []
            decode = self._decoders[tp.topic]
            for msg in messages:
                if msg.offset <= done:
                    continue  # re-read after a reassignment or reconnect: already applied
                try:
                    records.extend(decode(msg.value or b""))
                except ValidationError as exc:
                    log.warning("undecodable record on %s[%d]@%d: %s", tp.topic,
                                tp.partition, msg.offset, exc)
                    if self.on_invalid is not None:
                        self.on_invalid(tp.topic, tp.partition, msg.offset, exc)
            if messages:
                self._done[tp] = max(done, messages[-1].offset)
            if records:
                self.sink(tp.topic, records)
                await asyncio.sleep(0)  # let client writers drain before the next batch

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

