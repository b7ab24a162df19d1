"""The worker's Faust transport: Faust's consumer with a short fetch long-poll."""

from __future__ import annotations

import asyncio

from ioc.settings import Settings
from streams.app import create_app
from streams.transport import FETCH_MAX_WAIT_MS, ConsumerThread


def test_the_worker_consumer_long_polls_briefly() -> None:
    async def build() -> int:
        app = create_app(Settings(kafka_bootstrap="127.0.0.1:9092", app_id="t", partitions=2))
        thread = app.consumer._thread  # type: ignore[attr-defined]
        assert isinstance(thread, ConsumerThread)
        consumer = thread._create_worker_consumer(app.transport)
        return int(consumer._fetch_max_wait_ms)

    assert asyncio.run(build()) == FETCH_MAX_WAIT_MS <= 500
