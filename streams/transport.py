"""Faust's Kafka transport, tuned for a worker: a shorter fetch long-poll, cheaper hand-offs.

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

**Hand-offs.** Faust's consumer passes each fetched message to the streams through
``wait_first(callback(message), suspend_flow.wait())``, which races the callback against
flow suspension (a rebalance) and the consumer stopping or crashing: four tasks, a wait and
three cancellations per message (without them the throughput benchmark's worker runs about a
tenth faster). The callback nearly always finishes without waiting (the stream's buffer has
room), so
:meth:`Consumer.wait_first` first runs it directly; only when it has to wait does the race
start, with the callback going on from where it stopped (:func:`resume`).

**Backpressure.** When a stream's buffer fills, Faust takes its partition out of the active
set and asks the consumer thread for records of the others only, waiting up to a fixed second
(``getmany(timeout=1.0)``). The busy partition's next records are already fetched; they wait
in the thread for that second even after the stream has drained its buffer and Faust has put
the partition back. On a worker with a backlog that was 40 % of its wall-clock time (four
1 s stalls in a 9 s run of the throughput benchmark at the catalog's cadence). While a
partition is held back for a full buffer the consumer asks with :data:`BUFFERED_POLL_S`
instead, so a drained partition is served again within that.

>>> Transport.Consumer is Consumer, FETCH_MAX_WAIT_MS < 1500, BUFFERED_POLL_S < 0.1
(True, True, True)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as driver
from mode.services import WaitArgT, WaitResults

__all__ = ["BUFFERED_POLL_S", "FETCH_MAX_WAIT_MS", "Consumer", "Transport", "resume"]

FETCH_MAX_WAIT_MS = 100
BUFFERED_POLL_S = 0.01


class ConsumerThread(driver.AIOKafkaConsumerThread):
    """The consumer thread, with the worker consumer's long poll shortened."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer


async def resume(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """Go on running ``coro``, which has started and suspended on ``waiting_on`` (the future
    it yielded, or ``None`` for a bare yield), as a task would; returns its result.

    Cancelled, it cancels what ``coro`` waits on and throws the cancellation into ``coro``.
    """
    while True:
        try:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                waiting_on._asyncio_future_blocking = False
                await asyncio.wait([waiting_on])
        except asyncio.CancelledError:
            if waiting_on is not None:
                waiting_on.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopIteration):
                coro.throw(asyncio.CancelledError())
            raise
        try:
            waiting_on = coro.send(None)
        except StopIteration as done:
            return done.value


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def wait_first(self, *coros: WaitArgT, timeout: Any = None) -> WaitResults:
        """Faust's race of a message's callback against flow suspension, without the race
        when the callback finishes at once (see the module's docstring)."""
        first = coros[0] if coros else None
        if len(coros) != 2 or timeout is not None or not isinstance(first, Coroutine):
            return await super().wait_first(*coros, timeout=timeout)
        work, other = first, coros[1]
        try:
            waiting_on = work.send(None)
        except StopIteration as done:
            if asyncio.iscoroutine(other):
                other.close()  # never started: nothing to cancel
            return WaitResults([work], [done.value], False)
        except BaseException:
            if asyncio.iscoroutine(other):
                other.close()
            raise
        return await super().wait_first(resume(work, waiting_on), other)

    async def _getmany(self, active_partitions: set[Any] | None, timeout: float) -> Any:
        """Faust's wait for records, short while a partition is held back for a full buffer
        (see the module's docstring)."""
        if self._buffered_partitions:
            timeout = min(timeout, BUFFERED_POLL_S)
        return await super()._getmany(active_partitions, timeout)


class Transport(driver.Transport):
    Consumer = Consumer
