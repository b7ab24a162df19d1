"""Recognising a redelivered MQTT message whose readings already reached Kafka.

The bridge acknowledges a message to the MQTT broker only after Kafka confirmed its readings
(:mod:`ingest.acks`), so a bridge that dies between the two gets that message again from its
persistent session, flagged ``dup``. Each Kafka record the bridge writes carries the
message's identity in its headers (:data:`DIGEST_HEADER`: a digest of the MQTT topic and the
payload; :data:`BRIDGE_HEADER`: the bridge's client id). A bridge starting up reads those
headers back from the events topics over the last ``IOC_INGEST_DEDUPE_S`` seconds
(:func:`recent_digests`), and a ``dup`` message whose digest it finds is acknowledged without
being produced again. Only ``dup``-flagged messages are checked: a sensor that sends the same
bytes twice on purpose (a plain ``0`` every minute) is never mistaken for a redelivery.

>>> seen = Seen(horizon_s=60)
>>> d = digest("danang/flood/hc/t1", b"12.5")
>>> seen.add(d, now=1000.0); d in seen, digest("danang/flood/hc/t1", b"12.6") in seen
(True, False)
>>> seen.expire(now=1061.0); d in seen
False
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable

DIGEST_HEADER = "ioc-mqtt-digest"
TOPIC_HEADER = "ioc-mqtt-topic"
BRIDGE_HEADER = "ioc-bridge"

log = logging.getLogger("ioc.ingest")


def digest(topic: str, payload: bytes) -> bytes:
    """The identity of an MQTT message: 16 bytes of BLAKE2b over its topic and payload."""
    h = hashlib.blake2b(digest_size=16)
    h.update(topic.encode())
    h.update(b"\x00")
    h.update(payload)
    return h.digest()


class Seen:
    """Digests produced within the last ``horizon_s`` seconds (insertion-ordered: expiry pops
    from the front). Not thread-safe: the bridge's MQTT thread owns it."""

    def __init__(self, horizon_s: float) -> None:
        self.horizon_s = horizon_s
        self._at: OrderedDict[bytes, float] = OrderedDict()

    def add(self, key: bytes, now: float) -> None:
        self._at[key] = now
        self._at.move_to_end(key)

    def __contains__(self, key: object) -> bool:
        return key in self._at

    def __len__(self) -> int:
        return len(self._at)

    def expire(self, now: float) -> None:
        """Forget digests older than the horizon."""
        limit = now - self.horizon_s
        while self._at:
            _key, at = next(iter(self._at.items()))
            if at >= limit:
                break
            self._at.popitem(last=False)


def recent_digests(bootstrap: str, topics: Iterable[str], bridge: str, since: float,
                   timeout_s: float = 60.0) -> list[tuple[bytes, float]]:
    """The (digest, record time) of every record ``bridge`` wrote to ``topics`` since epoch
    ``since``, read from Kafka with an unassigned consumer (no group, nothing committed).
    Reading stops after ``timeout_s`` seconds; what was found by then is returned, and a
    warning says how far it got (records read and left, the time reached)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=1000)
    found: list[tuple[bytes, float]] = []
    try:
        parts = [TopicPartition(t, p) for t in topics
                 for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not parts:
            return found
        consumer.assign(parts)
        ends = consumer.end_offsets(parts)
        starts = consumer.offsets_for_times({tp: int(since * 1000) for tp in parts})
        todo = {tp: ends[tp] for tp in parts
                if (at := starts.get(tp)) is not None and at.offset < ends[tp]}
        if not todo:
            return found
        consumer.assign(list(todo))
        for tp in todo:
            consumer.seek(tp, starts[tp].offset)
        want = bridge.encode()
        reached = {tp: since for tp in todo}  # the time of the last record read, per partition
        read = 0
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500, max_records=5000).items():
                read += len(records)
                for rec in records:
                    headers = dict(rec.headers or ())
                    if headers.get(BRIDGE_HEADER) == want and DIGEST_HEADER in headers:
                        found.append((headers[DIGEST_HEADER], rec.timestamp / 1000.0))
                if records:
                    reached[tp] = records[-1].timestamp / 1000.0
                if records and records[-1].offset + 1 >= todo.get(tp, 0):
                    todo.pop(tp, None)
        if todo:
            left = sum(max(0, end - consumer.position(tp)) for tp, end in todo.items())
            upto = min(reached[tp] for tp in todo)
            log.warning(
                "dedupe read-back stopped after %g s: %d record(s) read, %d left unread in %d "
                "of %d partition(s) (read up to %s, %.0f s after the horizon's start); a "
                "message redelivered from what was not read is produced again (a duplicate)",
                timeout_s, read, left, len(todo), len(parts),
                time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(upto)), upto - since)
    finally:
        consumer.close()
    return found
