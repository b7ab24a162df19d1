"""Fixtures for the dashboard tests: per-test topics, a producer, a running dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from dashkit import SETTINGS, Producer, wait_for

from dashboards.feed import Topics
from dashboards.server import Dashboard
from ioc.kafka.admin import TopicSpec, ensure_topics


@pytest.fixture
def topic_names(kafka_bootstrap: str, unique_name: Callable[[str], str]) -> Topics:
    """Fresh alerts/indicators/commands topics of this test (2 partitions each)."""
    names = Topics(alerts=unique_name("alerts"), indicators=unique_name("indicators"),
                   commands=unique_name("commands"))
    ensure_topics([TopicSpec(n, 2, 1) for n in (names.alerts, names.indicators,
                                                names.commands)], kafka_bootstrap)
    return names


@pytest.fixture
async def producer(kafka_bootstrap: str, topic_names: Topics) -> AsyncIterator[Producer]:
    p = Producer(kafka_bootstrap, topic_names)
    await p.producer.start()
    try:
        yield p
    finally:
        await p.producer.stop()


DashboardFactory = Callable[..., Any]


@pytest.fixture
async def start_dashboard(kafka_bootstrap: str, topic_names: Topics
                          ) -> AsyncIterator[DashboardFactory]:
    """``await start_dashboard(**options)`` -> a started Dashboard on a free port whose state
    has caught up; stopped at the end of the test."""
    started: list[Dashboard] = []

    async def start(**options: Any) -> Dashboard:
        settings = options.pop("settings", SETTINGS)
        d = Dashboard(settings, kafka_bootstrap, host="127.0.0.1", port=0,
                      topic_names=topic_names, **options)
        await d.start()
        started.append(d)
        await wait_for(lambda: d.hub.ready, 30, "dashboard state to load")
        return d

    try:
        yield start
    finally:
        for d in started:
            await d.stop()


