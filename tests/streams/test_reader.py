"""The events reader's bookkeeping without a broker: where each partition starts, what it
stops reading, what a batch looks like (the integration tests read a real Apache Kafka)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaError, KafkaException

from ioc.errors import ConfigError
from ioc.settings import Settings
from streams.reader import EventsReader, InputOffsets, ReaderFeed, Record, events_client
from streams.reader import log as reader_log

TOPICS = ["ioc.flooding.events", "ioc.traffic.events"]


class FakeConsumer:
    """What the reader calls on librdkafka's consumer."""

    def __init__(self, committed: dict[tuple[str, int], int], fail: int = 0) -> None:
        self.committed_offsets = committed
        self.fail = fail
        self.assigned: dict[tuple[str, int], int] = {}
        self.asked: list[list[tuple[str, int]]] = []

    def committed(self, tps: list[Any], timeout: float) -> list[Any]:
        self.asked.append([(tp.topic, tp.partition) for tp in tps])
        if self.fail:
            self.fail -= 1
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
        for tp in tps:
            tp.offset = self.committed_offsets.get((tp.topic, tp.partition), -1001)
        return tps

    def incremental_assign(self, tps: list[Any]) -> None:
        self.assigned.update({(tp.topic, tp.partition): tp.offset for tp in tps})

    def incremental_unassign(self, tps: list[Any]) -> None:
        for tp in tps:
            del self.assigned[(tp.topic, tp.partition)]


def reader(consumer: FakeConsumer, reset: str = "earliest") -> EventsReader:
    r = EventsReader(bootstrap="127.0.0.1:9", group_id="g", topics=TOPICS,
                     offset_reset=reset, generation=lambda: 3)
    r._consumer = consumer
    return r


async def test_a_partition_starts_at_its_stored_offset_else_the_groups_else_the_reset() -> None:
    fake = FakeConsumer({("ioc.flooding.events", 1): 70, ("ioc.traffic.events", 0): 5})
    r = reader(fake)
    stored = {("ioc.flooding.events", 0): 120, ("ioc.flooding.events", 1): 90}
    starts = await r.follow({0, 1}, lambda t, p: stored.get((t, p)))
    assert starts == fake.assigned == {
        ("ioc.flooding.events", 0): 120, ("ioc.flooding.events", 1): 90,  # checkpointed
        ("ioc.traffic.events", 0): 5,  # the group's commit (read through Faust before)
        ("ioc.traffic.events", 1): OFFSET_BEGINNING}
    # the group is asked only about the partitions without a stored offset, in one go
    assert fake.asked == [[("ioc.traffic.events", 0), ("ioc.traffic.events", 1)]]


async def test_following_a_new_assignment_stops_the_old_partitions_and_keeps_the_rest() -> None:
    fake = FakeConsumer({})
    r = reader(fake, reset="latest")
    await r.follow({0, 1}, lambda t, p: None)
    assert await r.follow({1, 2}, lambda t, p: None) == {
        ("ioc.flooding.events", 2): OFFSET_END, ("ioc.traffic.events", 2): OFFSET_END}
    assert sorted(fake.assigned) == sorted(r.owned) == [
        ("ioc.flooding.events", 1), ("ioc.flooding.events", 2),
        ("ioc.traffic.events", 1), ("ioc.traffic.events", 2)]
    r.revoke({1})
    assert sorted(r.owned) == [("ioc.flooding.events", 2), ("ioc.traffic.events", 2)]
    assert r.highwater("ioc.flooding.events", 1) is None  # not read here any more


async def test_the_groups_offsets_are_asked_again_and_a_lasting_failure_starts_at_the_reset(
        caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeConsumer({("ioc.flooding.events", 0): 7}, fail=2)
    r = reader(fake)
    starts = await r.follow({0}, lambda t, p: None)
    assert starts[("ioc.flooding.events", 0)] == 7 and len(fake.asked) == 3
    fake = FakeConsumer({("ioc.flooding.events", 0): 7}, fail=3)
    starts = await reader(fake).follow({0}, lambda t, p: None)
    assert starts[("ioc.flooding.events", 0)] == OFFSET_BEGINNING
    assert "no committed offsets for 2 events partitions" in caplog.text


async def test_a_failing_batch_is_logged_and_reading_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    """As Faust's supervisor restarts a crashed agent: the feed runs its reader again."""
    r = reader(FakeConsumer({}))
    calls: list[str] = []

    async def run(handle: Any) -> None:
        calls.append("run")
        if len(calls) == 1:
            raise RuntimeError("a bug in a batch")
    r.run = run  # type: ignore[method-assign]
    r.stop = lambda: calls.append("stop")  # type: ignore[method-assign]
    await ReaderFeed(r, {}, take=None).run()  # type: ignore[arg-type]
    assert calls == ["run", "run", "stop"]
    assert "reading the events failed; reading on in a second" in caplog.text


async def test_a_batch_failing_because_the_worker_stops_ends_the_feed_quietly(
        caplog: pytest.LogCaptureFixture) -> None:
    """At a stop Faust's producer stops before the feed: the batch in flight fails, is not
    acknowledged (read again at the next start), and is no error."""
    caplog.set_level(logging.INFO, logger=reader_log.name)
    r = reader(FakeConsumer({}))
    calls: list[str] = []

    async def run(handle: Any) -> None:
        calls.append("run")
        raise RuntimeError("Producer service not yet started")
    r.run = run  # type: ignore[method-assign]
    r.stop = lambda: calls.append("stop")  # type: ignore[method-assign]
    await ReaderFeed(r, {}, take=None, stopping=lambda: True).run()  # type: ignore[arg-type]
    assert calls == ["run", "stop"]
    assert "read again at the next start" in caplog.text
    assert not [rec for rec in caplog.records if rec.levelname == "ERROR"]


def test_a_record_reads_like_a_faust_event_for_the_intake() -> None:
    rec = Record("ioc.flooding.events", 2, 41, b"[]", 3)
    assert rec.message is rec and (rec.topic, rec.partition, rec.offset) == (
        "ioc.flooding.events", 2, 41)
    rec.value = None  # the intake keeps the message for its ack, not its bytes
    offsets = InputOffsets()
    offsets.acked(rec)
    offsets.forget({2})
    assert offsets.take_changed() == [] and offsets.next == {}


def test_the_events_client_follows_the_processing_guarantee() -> None:
    assert events_client(Settings(events_client="faust")) == "faust"
    assert events_client(Settings(processing_guarantee="exactly_once",
                                  events_client="faust")) == "faust"
    with pytest.raises(ConfigError, match="IOC_EVENTS_CLIENT=librdkafka cannot run with"):
        events_client(Settings(processing_guarantee="exactly_once",
                               events_client="librdkafka"))
