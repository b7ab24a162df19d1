"""Input the worker cannot use, sent to ``ioc.deadletter`` with the reason, and counted.

Every dead letter bumps ``ioc_worker_deadletter_total{group, reason_class}``; those refused for
their time (:data:`~streams.health.TIME_CLASSES`) also count towards the worker's ``degraded``
health. The record's key is the topic the input came from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ioc.errors import ValidationError
from ioc.events import DeadLetter, encode
from streams.health import TIME_CLASSES, HealthWatch
from streams.metrics import WorkerMetrics

if TYPE_CHECKING:
    from streams.publish import BatchPublisher

__all__ = ["DeadLetterSink"]

log = logging.getLogger("ioc.worker")

# (group, partition, (reason class, field, reason, reading)) as the pipeline reports refusals
Refusal = tuple[str, int, tuple[str, str, str, Any]]


class DeadLetterSink:
    """Queue dead letters on ``publisher`` for ``topic``, counting them."""

    def __init__(self, publisher: BatchPublisher, topic: str, metrics: WorkerMetrics,
                 health: HealthWatch) -> None:
        self.publisher = publisher
        self.topic = topic
        self.metrics = metrics
        self.health = health

    def send(self, group: str, cls: str, dead: DeadLetter) -> None:
        """One dead letter of reason class ``cls`` for input of ``group``."""
        self.metrics.deadletter(group, cls)
        if cls in TIME_CLASSES:
            self.health.time_refused += 1
        self.publisher.add(self.topic, dead.topic.encode(), encode(dead))

    def refused(self, refusals: Iterable[Refusal], topic: str, offset: int, now: float) -> None:
        """Readings the windows refused (late, clock jump, series limit), each re-encoded on
        its own, as from the message at ``topic``/``offset``."""
        for group, partition, (cls, where, reason, reading) in refusals:
            self.send(group, cls, DeadLetter(
                reason=reason, field=where, topic=topic, partition=partition, offset=offset,
                raw=encode(reading), ts=now))

    def command(self, topic: str, partition: int, offset: int, raw: bytes,
                exc: ValidationError, now: float) -> None:
        """An operator command refused (malformed, or for an alert this worker lacks)."""
        log.warning("command %s[%d]@%d refused: %s", topic, partition, offset, exc)
        self.send("commands", "invalid", DeadLetter(
            reason=exc.reason, field=exc.field, topic=topic, partition=partition,
            offset=offset, raw=raw, ts=now))
