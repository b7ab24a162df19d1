"""The librdkafka events reader on a real broker: where a worker starts reading.

* A restarted worker reads on from the offsets its checkpoints wrote to the ``offsets``
  changelog: of the old input it reads again exactly the messages not acknowledged (those of
  the windows still open when it stopped).
* A worker that read through Faust (``IOC_EVENTS_CLIENT=faust``: offsets committed in the
  group) hands over to the reader at the group's committed offsets, the same way.
* Events topics with another partition count than ``IOC_PARTITIONS`` stop the worker at start
  with a message that says what to set.
"""

from __future__ import annotations

import os
import subprocess
import sys

import msgspec
import pytest
from _worker_harness import MIDNIGHT, Env, WorkerProcess, running, wait_until
from kafka import KafkaConsumer, TopicPartition

from ioc.tools.simulator import CitySimulator
from streams.reader import InputOffsets

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

GROUPS = ["flooding", "traffic"]
SPLIT = MIDNIGHT + 20 * 60


def stream() -> CitySimulator:
    return CitySimulator(seed=29, start=MIDNIGHT, duration=30 * 60, groups=GROUPS, pack_size=10)


def events_ends(env: Env) -> dict[tuple[str, int], int]:
    """The end offset of every events partition of the test's groups that holds data."""
    consumer = KafkaConsumer(bootstrap_servers=env.bootstrap, group_id=None)
    try:
        tps = [TopicPartition(env.names.events(g), p) for g in GROUPS
               for p in range(env.partitions)]
        ends = consumer.end_offsets(tps)
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): end for tp, end in ends.items() if end > 0}


def stored_offsets(env: Env) -> dict[tuple[str, int], int]:
    """The latest record per key of the ``offsets`` changelog."""
    consumer = KafkaConsumer(f"{env.app_id}-offsets-changelog", bootstrap_servers=env.bootstrap,
                             group_id=None, auto_offset_reset="earliest",
                             consumer_timeout_ms=1000)
    out: dict[tuple[str, int], int] = {}
    try:
        for rec in consumer:
            topic, _, partition = rec.key.decode().strip('"').rpartition("#")
            offset = InputOffsets.decode(rec.value)
            if offset is not None:
                out[(topic, int(partition))] = offset
    finally:
        consumer.close()
    return out


def committed_offsets(env: Env, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The offsets the workers' consumer group committed (Faust's path)."""
    consumer = KafkaConsumer(bootstrap_servers=env.bootstrap, group_id=env.app_id,
                             enable_auto_commit=False)
    try:
        return {tp: consumer.committed(TopicPartition(*tp)) or 0 for tp in tps}
    finally:
        consumer.close()


def readings_between(env: Env, start: dict[tuple[str, int], int],
                     end: dict[tuple[str, int], int]) -> int:
    """The readings in the messages of each partition from ``start`` up to ``end``."""
    consumer = KafkaConsumer(bootstrap_servers=env.bootstrap, group_id=None,
                             enable_auto_commit=False)
    n = 0
    try:
        for (topic, partition), stop in end.items():
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, start[(topic, partition)])
            while consumer.position(tp) < stop:
                for records in consumer.poll(timeout_ms=1000).values():
                    n += sum(len(msgspec.json.decode(r.value)) for r in records
                             if r.offset < stop)
    finally:
        consumer.close()
    return n


def taken_in(w: WorkerProcess) -> float:
    m = w.metrics()
    return m.get("ioc_worker_readings_total", 0) + m.get("ioc_worker_dropped_readings_total", 0)


@pytest.mark.parametrize("first", ["librdkafka", "faust"])
def test_a_restarted_worker_reads_on_where_the_acknowledged_input_ends(
        first: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    env = Env(kafka_bootstrap, tmp_path_factory.mktemp(f"reader-{first}"),
              extra={"IOC_CHECKPOINT_INTERVAL_S": "0.2", "IOC_EVENTS_CLIENT": first})
    try:
        before = env.send_stream(stream(), until=SPLIT)
        ends = events_ends(env)

        def acknowledged() -> dict[tuple[str, int], int]:
            got = (stored_offsets(env) if first == "librdkafka"
                   else committed_offsets(env, list(ends)))
            return {tp: got.get(tp, 0) for tp in ends}
        a = env.worker("a")
        with running(a):
            a.wait_ready()
            a.wait_readings(before)
            # the windows still open at the end of the first part hold their messages back
            try:
                wait_until(lambda: all(acknowledged()[tp] >= 0.8 * end
                                       for tp, end in ends.items()), 120,
                           "most messages acknowledged")
            except AssertionError as exc:
                raise AssertionError(f"{exc}: {acknowledged()} of {ends}; logs in {env.tmp}"
                                     ) from None
        start = acknowledged()  # after the stop: its last checkpoint included
        tail = readings_between(env, start, ends)
        env.env["IOC_EVENTS_CLIENT"] = "librdkafka"
        after = env.send_stream(stream(), since=SPLIT)
        b = env.worker("b")
        with running(b):
            b.wait_ready()
            b.wait_readings(after + tail)
            wait_until(lambda: b.metrics().get("ioc_worker_consumer_lag", 1) == 0, 60,
                       "the restarted worker to read to the end")
            # the second part, and of the first only what was not acknowledged
            assert taken_in(b) == after + tail, (taken_in(b), after, tail, before, start)
        assert 0 < tail < before / 4
    finally:
        env.close()


def test_events_topics_with_another_partition_count_stop_the_worker(
        kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    env = Env(kafka_bootstrap, tmp_path_factory.mktemp("reader-count"), partitions=2)
    run = subprocess.run(
        [sys.executable, "-m", "ioc", "worker", "--topic-prefix", env.names.prefix],
        env={**os.environ, **env.env, "IOC_PARTITIONS": "3",
             "IOC_DATA_DIR": str(env.tmp / "data")},
        capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert f"topic {env.names.prefix}." in run.stderr
    assert ".events has 2 partitions but IOC_PARTITIONS is 3" in run.stderr
    assert "IOC_PARTITIONS=2" in run.stderr and "Traceback" not in run.stderr
