"""Packs of readings survive a produce/consume round trip through a real broker, on Apache
Kafka (the session broker) and on the embedded broker (started in the test), with the
kafka-python and aiokafka clients; order per source key is kept and group offsets commit."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition as KafkaPartition

from ioc.catalog import group
from ioc.events import Reading, decode_readings, encode
from ioc.kafka.admin import TopicSpec, ensure_topics
from ioc.kafka.broker import EmbeddedBroker

PACKS_PER_SOURCE = 8
PACK_SIZE = 25
PARTITIONS = 3
# Short group timeouts: the embedded broker waits on them before a new group settles.
GROUP_OPTS = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000,
              "max_poll_interval_ms": 10000}


@pytest.fixture(params=[pytest.param("session", marks=pytest.mark.kafka), "embedded"])
def broker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, str]]:
    """(bootstrap, kind): the session broker (Apache Kafka by default), or an embedded broker
    of this test."""
    if request.param == "session":
        yield request.getfixturevalue("kafka_bootstrap"), request.getfixturevalue("broker_kind")
        return
    log = tmp_path_factory.mktemp("roundtrip") / "tansu.log"
    with EmbeddedBroker(log_path=log) as embedded:
        yield embedded.bootstrap, "embedded"


def make_packs() -> list[tuple[str, list[Reading]]]:
    """(source id, pack) pairs: a few flood towers and rain gauges, readings 10 s apart."""
    flooding = group("flooding")
    sources = flooding.sources()[:6]
    packs = []
    t0 = 1_795_410_000.0
    for n in range(PACKS_PER_SOURCE):
        for src in sources:
            metric = "rainfall" if src.id.startswith("rain") else "flood_depth"
            pack = [Reading(group="flooding", source=src.id, metric=metric,
                            value=round(0.5 * i + n, 3), ts=t0 + 10 * (n * PACK_SIZE + i),
                            district=src.district, lat=src.lat, lon=src.lon)
                    for i in range(PACK_SIZE)]
            packs.append((src.id, pack))
    return packs


def check_received(sent: list[tuple[str, list[Reading]]],
                   received: list[tuple[str, int, bytes]]) -> dict[int, int]:
    """Every pack arrives once, intact, and each source's packs arrive in the order sent."""
    assert len(received) == len(sent)
    by_key: dict[str, list[list[Reading]]] = defaultdict(list)
    partition_of: dict[str, set[int]] = defaultdict(set)
    for key, partition, value in received:
        by_key[key].append(decode_readings(value))
        partition_of[key].add(partition)
    expected: dict[str, list[list[Reading]]] = defaultdict(list)
    for key, pack in sent:
        expected[key].append(pack)
    assert by_key == expected
    assert all(len(parts) == 1 for parts in partition_of.values())  # one key, one partition
    per_partition: dict[int, int] = defaultdict(int)
    for _, partition, _ in received:
        per_partition[partition] += 1
    return dict(per_partition)


def check_offsets(kind: str, per_partition: dict[int, int], committed: dict[int, int | None],
                  ends: dict[int, int]) -> None:
    """The group committed exactly what it consumed; the broker's end offsets agree."""
    assert {p: c for p, c in committed.items() if c} == per_partition
    if kind == "embedded" and ends != per_partition:
        pytest.xfail("tansu answers ListOffsets(latest) with base offset + 1 of the last "
                     "multi-record batch, not the next offset (fetch high watermarks are right)")
    assert ends == {p: per_partition.get(p, 0) for p in ends}


def test_packs_round_trip_with_kafka_python(broker: tuple[str, str],
                                            unique_name: Callable[[str], str]) -> None:
    bootstrap, kind = broker
    topic, group_id = unique_name("rt"), unique_name("grp")
    ensure_topics([TopicSpec(topic, PARTITIONS, 1)], bootstrap)
    sent = make_packs()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for key, pack in sent:
            producer.send(topic, key=key.encode(), value=encode(pack))
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group_id,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             **GROUP_OPTS)
    received: list[tuple[str, int, bytes]] = []
    try:
        deadline = time.monotonic() + 60
        while len(received) < len(sent) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                received += [(r.key.decode(), r.partition, r.value) for r in records]
        consumer.commit()
        parts = [KafkaPartition(topic, p) for p in range(PARTITIONS)]
        ends = {tp.partition: n for tp, n in consumer.end_offsets(parts).items()}
        committed = {tp.partition: consumer.committed(tp) for tp in parts}
    finally:
        consumer.close()
    check_offsets(kind, check_received(sent, received), committed, ends)


async def test_packs_round_trip_with_aiokafka(broker: tuple[str, str],
                                              unique_name: Callable[[str], str]) -> None:
    """The same with aiokafka, the client under Faust: batch fetches with getmany()."""
    bootstrap, kind = broker
    topic, group_id = unique_name("rt"), unique_name("grp")
    ensure_topics([TopicSpec(topic, PARTITIONS, 1)], bootstrap)
    sent = make_packs()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        batch = [await producer.send(topic, key=key.encode(), value=encode(pack))
                 for key, pack in sent]
        for fut in batch:
            await fut
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group_id,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                **GROUP_OPTS)
    await consumer.start()
    received: list[tuple[str, int, bytes]] = []
    try:
        deadline = time.monotonic() + 60
        while len(received) < len(sent) and time.monotonic() < deadline:
            fetched = await consumer.getmany(timeout_ms=500)
            for records in fetched.values():
                received += [(r.key.decode(), r.partition, r.value) for r in records
                             if r.key is not None and r.value is not None]
        await consumer.commit()
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = {tp.partition: n for tp, n in (await consumer.end_offsets(parts)).items()}
        committed = {tp.partition: await consumer.committed(tp) for tp in parts}
    finally:
        await consumer.stop()
    check_offsets(kind, check_received(sent, received), committed, ends)
