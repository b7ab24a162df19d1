"""Faust's Kafka transport with a shorter fetch long-poll.

aiokafka keeps one fetch request in flight per broker, and a partition whose fetched records
are still waiting to be consumed is left out of the next request. Faust asks for a long poll of
1.5 s (``fetch_max_wait_ms=1500``, not a setting). A worker owns many partitions that are
quiet most of the time (60 events partitions with the default four per group, plus commands,
alerts and changelogs), so this happens under load: while the busy partitions' records are
being processed, the next request asks only for the quiet ones, the broker holds it for the
whole 1.5 s because they have nothing, and the busy partitions cannot be fetched again until it
returns. The worker then idles for up to 1.5 s at a time with a backlog waiting on the broker.

:class:`Transport` is the same transport with a long poll of :data:`FETCH_MAX_WAIT_MS`: a quiet
worker sends a few more empty fetches a second, a busy one never waits long for its data.

>>> Consumer._new_consumer_thread.__qualname__
'Consumer._new_consumer_thread'
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as driver

__all__ = ["FETCH_MAX_WAIT_MS", "Consumer", "Transport"]

FETCH_MAX_WAIT_MS = 100


class ConsumerThread(driver.AIOKafkaConsumerThread):
    """The consumer thread, with the worker consumer's long poll shortened."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer
