"""The events agent's work on one batch: decode, dead-letter, hand readings to the pipeline.

For every message of the batch (a Faust event: ``.message`` with topic, partition, offset and
consumer generation, ``.value`` the raw bytes): skip it if it was fetched before the last
rebalance (its new owner reads it again); decode it (:mod:`streams.ingest`; invalid readings
are dead-lettered, readings dated more than ``max_future_s`` ahead of the wall clock too);
pass the valid readings to the pipeline and dead-letter those its windows refuse (late, clock
jump, series limit); settle the windows they made due (a reading for them is late from then
on); then hold the message in the :class:`~streams.acks.AckLedger` until the windows up to its
newest reading have closed. After the batch's last message its settled windows close
together, in chunks (:meth:`EventIntake.steps` yields between them): those of one group that
start together are scored with one detector call per metric across partitions. A processing
error is logged (with topic, partition and offset, and the message dead-lettered as
``internal``, when it is one message's): a bug must not stop the stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any

from ioc.events import DeadLetter
from streams.acks import NEVER_OPEN, AckLedger
from streams.deadletters import DeadLetterSink
from streams.health import HealthWatch
from streams.ingest import Decoded, decode_message

if TYPE_CHECKING:
    from streams.pipeline import Pipeline
    from streams.topics import TopicNames

__all__ = ["EventIntake"]

log = logging.getLogger("ioc.worker")


def _raw_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return b"" if value is None else str(value).encode()


class EventIntake:
    """Feed batches of events-topic messages to the pipeline.

    ``generation()`` is the consumer's current generation id (messages of an older one are
    skipped).
    """

    def __init__(self, pipeline: Pipeline, names: TopicNames, dead: DeadLetterSink,
                 health: HealthWatch, ledger: AckLedger, *, max_future_s: float,
                 generation: Callable[[], int]) -> None:
        self.pipeline = pipeline
        self.names = names
        self.dead = dead
        self.health = health
        self.ledger = ledger
        self.max_future_s = max_future_s
        self.generation = generation

    def ingest(self, events: Iterable[Any], now: float | None = None) -> int:
        """Take in a batch (``now``: the wall clock, epoch seconds); returns the messages
        held for acknowledgement."""
        steps = self.steps(events, now)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return int(done.value)

    def steps(self, events: Iterable[Any], now: float | None = None
              ) -> Generator[int, None, int]:
        """:meth:`ingest` in steps: yields the series closed after each chunk of a window
        close (the agent lets its event loop run between them: a close of 100k series never
        blocks it for long); returns the messages held for acknowledgement."""
        generation = self.generation()
        now = time.time() if now is None else now
        held = 0
        for event in events:
            msg = event.message
            if msg.generation_id != generation:
                continue  # from before a rebalance: the new owner reads it again
            group = self.names.group_of(msg.topic)
            if group is None:
                continue
            raw = _raw_bytes(event.value)
            has_readings = False
            try:
                decoded = decode_message(raw, group=group, topic=msg.topic,
                                         partition=msg.partition, offset=msg.offset, now=now,
                                         max_future=self.max_future_s)
                has_readings = bool(decoded.readings)
                self._feed(group, msg.topic, msg.partition, msg.offset, decoded, now)
                if has_readings:
                    self.pipeline.settle(group, msg.partition)
            except Exception as exc:  # a bug must not stop the stream: log and dead-letter
                log.exception("processing %s[%d]@%d failed", msg.topic, msg.partition,
                              msg.offset)
                self.dead.send(group, "internal", DeadLetter(
                    reason=f"internal error: {type(exc).__name__}: {exc}"[:500], field="$",
                    topic=msg.topic, partition=msg.partition, offset=msg.offset, raw=raw,
                    ts=now))
            # acknowledge once the windows up to its newest reading have closed (a message
            # without valid readings: as soon as the dead letters are flushed)
            after = self.pipeline.state(group, msg.partition).windows.newest if has_readings \
                else NEVER_OPEN
            self.ledger.hold(group, msg.partition, after, msg)
            msg.value = None  # keep the message for its ack, not its bytes
            held += 1
        try:  # the batch's windows close together (scored with one call per metric)
            yield from self.pipeline.flush()
        except Exception:  # a bug must not stop the stream
            log.exception("closing the windows of a batch failed")
        return held

    def _feed(self, group: str, topic: str, partition: int, offset: int, decoded: Decoded,
              now: float) -> None:
        """Dead-letter a decoded message's invalid readings, feed the valid ones."""
        pipeline = self.pipeline
        self.health.seen += len(decoded.readings) + len(decoded.dead)
        for cls, dead in decoded.dead:
            self.dead.send(group, cls, dead)
        if not decoded.readings:
            st = pipeline.state(group, partition)
            st.last_offset = max(st.last_offset, offset)
            return
        pipeline.fold(group, partition, decoded.readings, offset=offset, now=now)
        if pipeline.refused:
            self.dead.refused(pipeline.take_refused(), topic, offset, now)
