"""Waiting out a database outage without leaving the consumer group: the archive consumer's
and the notifier's shared loop (an action is retried with back-off while the assigned
partitions are paused and polled: heartbeats, no records)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from kafka import KafkaConsumer
from prometheus_client import Counter

from archive.store import Unavailable

__all__ = ["DatabaseWait"]

T = TypeVar("T")
FIRST_WAIT_S = 0.5
MAX_WAIT_S = 30.0


class DatabaseWait:
    """Runs database actions for ``consumer``'s process; ``ok`` is False while the database
    does not answer (for ``/healthz``); each failure counts in ``errors`` and is logged
    under ``log`` as ``<who>: database unavailable``."""

    def __init__(self, consumer: KafkaConsumer, errors: Counter, log: logging.Logger,
                 who: str) -> None:
        self.consumer, self.errors, self.log, self.who = consumer, errors, log, who
        self.ok = True

    def run(self, action: Callable[[], T], stop: threading.Event | None = None) -> T:
        """``action()`` once the database answers, retried after each :class:`Unavailable`
        0.5 s later doubling to 30 s, the partitions paused and polled meanwhile, then
        resumed. Raises the last :class:`Unavailable` as soon as ``stop`` is set."""
        wait = FIRST_WAIT_S
        while True:
            try:
                got = action()
                self.ok = True
                return got
            except Unavailable as exc:
                self.ok = False
                self.errors.inc()
                self.log.warning("%s: database unavailable (%s); retrying in %.1f s",
                                 self.who, exc, wait)
                if stop is not None and stop.is_set():
                    raise
                self._wait(wait, stop)
                if stop is not None and stop.is_set():
                    raise
                wait = min(MAX_WAIT_S, wait * 2)

    def _wait(self, seconds: float, stop: threading.Event | None) -> None:
        consumer = self.consumer
        assigned = consumer.assignment()
        if assigned:
            consumer.pause(*assigned)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            consumer.poll(timeout_ms=200)  # paused: heartbeats, no records
        paused = consumer.paused()
        if paused:
            consumer.resume(*paused)
