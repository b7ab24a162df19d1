"""The worker's Faust transport: Faust's consumer with a short fetch long-poll."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ioc.settings import Settings
from streams.app import create_app
from streams.transport import BUFFERED_POLL_S, FETCH_MAX_WAIT_MS, ConsumerThread


def test_the_worker_consumer_long_polls_briefly() -> None:
    async def build() -> int:
        app = create_app(Settings(kafka_bootstrap="127.0.0.1:9092", app_id="t", partitions=2))
        thread = app.consumer._thread  # type: ignore[attr-defined]
        assert isinstance(thread, ConsumerThread)
        consumer = thread._create_worker_consumer(app.transport)
        return int(consumer._fetch_max_wait_ms)

    assert asyncio.run(build()) == FETCH_MAX_WAIT_MS <= 500


async def _consumer() -> Any:
    app = create_app(Settings(kafka_bootstrap="127.0.0.1:9092", app_id="t", partitions=2))
    return app.consumer


def test_a_callback_that_finishes_at_once_runs_without_a_race(recwarn: Any) -> None:
    async def go() -> Any:
        consumer = await _consumer()
        ran = []

        async def callback() -> str:
            ran.append(1)
            return "done"

        suspended = asyncio.Event()
        got = await consumer.wait_first(callback(), suspended.wait())
        return got, ran

    (got, ran) = asyncio.run(go())
    assert ran == [1] and got.results == ["done"] and not got.stopped
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


def test_a_callback_that_waits_goes_on_where_it_stopped() -> None:
    async def go() -> tuple[Any, list[str]]:
        consumer = await _consumer()
        steps: list[str] = []
        room = asyncio.get_running_loop().create_future()

        async def callback() -> str:
            steps.append("start")
            await room  # a full buffer
            steps.append("put")
            await asyncio.sleep(0)
            return "done"

        asyncio.get_running_loop().call_later(0.05, room.set_result, None)
        got = await consumer.wait_first(callback(), asyncio.Event().wait())
        return got, steps

    got, steps = asyncio.run(go())
    assert steps == ["start", "put"] and got.results == ["done"]


def test_a_suspension_while_the_callback_waits_cancels_it() -> None:
    async def go() -> tuple[Any, list[str], bool]:
        consumer = await _consumer()
        steps: list[str] = []
        room = asyncio.get_running_loop().create_future()
        suspended = asyncio.Event()

        async def callback() -> None:
            steps.append("start")
            try:
                await room
                steps.append("put")
            except asyncio.CancelledError:
                steps.append("cancelled")
                raise

        asyncio.get_running_loop().call_later(0.05, suspended.set)
        got = await consumer.wait_first(callback(), suspended.wait())
        await asyncio.sleep(0.01)
        return got, steps, room.cancelled()

    got, steps, room_cancelled = asyncio.run(go())
    assert steps == ["start", "cancelled"] and room_cancelled
    assert got.results == [True]  # the suspension won


def test_a_callback_error_reaches_the_caller() -> None:
    async def go() -> None:
        consumer = await _consumer()

        async def callback() -> None:
            raise LookupError("bad message")

        await consumer.wait_first(callback(), asyncio.Event().wait())

    with pytest.raises(LookupError, match="bad message"):
        asyncio.run(go())


@pytest.mark.parametrize(("buffered", "expected"), [(set(), 1.0), ({"tp"}, BUFFERED_POLL_S)])
def test_the_wait_for_records_is_short_while_a_partition_waits_on_its_buffer(
        buffered: set[str], expected: float, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[float] = []

    async def thread_getmany(active: Any, timeout: float) -> dict[Any, Any]:
        asked.append(timeout)
        return {}

    async def go() -> None:
        consumer = await _consumer()
        monkeypatch.setattr(consumer, "_thread", type("T", (), {"getmany": thread_getmany}))
        consumer._buffered_partitions = buffered
        await consumer._getmany({"other"}, 1.0)

    asyncio.run(go())
    assert asked == [expected]

