"""Kafka side of the map: read the readings of the groups whose sources move (emergency
vehicles, buses, fishing vessels) into :class:`~dashboards.tracks.Tracks`.

Why these topics and not something a worker publishes: positions need no processing, every
moving source's reading already carries ``lat``/``lon``, and those three groups are a small
share of the city's readings (about 15 a second in the demo), so the dashboard reads them
directly, as it reads the alerts: every partition itself, no consumer group, nothing
committed. It starts :data:`HISTORY_S` back (by timestamp), so tracks and lost sources are
known at once after a restart; topics created later are picked up within
:data:`RECHECK_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from dashboards.tracks import Tracks
from ioc import boundaries, catalog, topics
from ioc.errors import ValidationError
from ioc.events import decode_readings

log = logging.getLogger("ioc.dashboard.positions")

HISTORY_S = 600.0    # how far back a (re)started reader begins
RECHECK_S = 10.0     # how often topics that did not exist yet are looked for
RETRY_S = 2.0
MAX_RECORDS = 500


def moving_topics(prefix: str = topics.PREFIX) -> tuple[str, ...]:
    """The events topics of the groups that have moving sources.

    >>> moving_topics()
    ('ioc.emergency_vehicles.events', 'ioc.fishing_vessels.events', 'ioc.public_transport.events')
    """
    found = sorted(g.slug for g in catalog.CATALOG
                   if any(k.name in boundaries.MOVING_KINDS for k in g.source_kinds))
    return tuple(f"{prefix}{topics.events_topic(slug)[len(topics.PREFIX):]}" for slug in found)


class PositionFeed:
    """Reads ``topic_names`` into ``tracks`` until cancelled, reconnecting after errors."""

    def __init__(self, bootstrap: str, tracks: Tracks, *,
                 topic_names: Sequence[str] | None = None,
                 client_id: str = "ioc-dashboard-positions") -> None:
        self.bootstrap = bootstrap
        self.tracks = tracks
        self.topics = tuple(topic_names) if topic_names is not None else moving_topics()
        self.client_id = client_id
        self.invalid = 0
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("map positions lost Kafka at %s (%s); retrying in %.0f s",
                            self.bootstrap, exc, RETRY_S)
            finally:
                await self.close()
            await asyncio.sleep(RETRY_S)

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _consume(self) -> None:
        consumer = self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="latest", client_id=self.client_id, fetch_max_wait_ms=100,
            metadata_max_age_ms=int(RECHECK_S * 1000))
        await consumer.start()
        assigned: set[TopicPartition] = set()
        loop = asyncio.get_running_loop()
        checked = -RECHECK_S
        while True:
            if loop.time() - checked >= RECHECK_S:
                checked = loop.time()
                assigned = await self._assign(consumer, assigned)
            if not assigned:
                await asyncio.sleep(0.5)
                continue
            batches = await consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            for records in batches.values():
                for record in records:
                    try:
                        self.tracks.apply_all(decode_readings(record.value or b""))
                    except ValidationError:
                        self.invalid += 1   # the worker dead-letters these; the map skips

    async def _assign(self, consumer: AIOKafkaConsumer,
                      assigned: set[TopicPartition]) -> set[TopicPartition]:
        """Assign every partition of the topics that exist now; the new ones start
        :data:`HISTORY_S` back."""
        present = await consumer.topics()   # a metadata refresh
        found = {TopicPartition(t, p) for t in self.topics if t in present
                 for p in (consumer.partitions_for_topic(t) or ())}
        new = found - assigned
        if not new:
            return assigned
        kept = {tp: await consumer.position(tp) for tp in assigned}
        consumer.assign(sorted(found))
        for tp, at in kept.items():
            consumer.seek(tp, at)
        since = int((time.time() - HISTORY_S) * 1000)
        offsets = await consumer.offsets_for_times(dict.fromkeys(new, since))
        for tp in new:
            at = offsets.get(tp)
            if at is not None:
                consumer.seek(tp, at.offset)
            else:
                await consumer.seek_to_end(tp)
        return found
