"""PartitionedStore over a real Faust table (no broker): each write names its changelog
partition, and the alert book's lanes land on the partition they were observed on."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from ioc.events import Evidence
from ioc.settings import Settings
from streams.app import create_app
from streams.lifecycle import AlertBook, Verdict, lane_key
from streams.publish import BatchPublisher, default_partition
from streams.silences import SilenceBook
from streams.tables import PartitionedStore, WorkerTables

T0 = 1_795_410_000.0


@pytest.fixture
def tables() -> tuple[WorkerTables, BatchPublisher]:
    app = create_app(Settings(kafka_bootstrap="127.0.0.1:9", app_id=f"t-{uuid.uuid4().hex[:8]}",
                              partitions=4))
    return WorkerTables(app, 4), BatchPublisher(app)


def placed(publisher: BatchPublisher) -> dict[tuple[str, int], list[tuple[str, bytes | None]]]:
    return {tp: [(msgspec.json.decode(k), v) for k, v in recs]
            for tp, recs in publisher.placed.items()}


def test_put_writes_the_changelog_partition_it_names_and_the_local_store(
        tables: tuple[WorkerTables, BatchPublisher]) -> None:
    t, publisher = tables
    store = PartitionedStore(t.alerts, publisher=publisher)
    store.put("k1", b"v1", 2)
    store.put("k2", b"v2", 0)
    store.put("k1", None, 2)  # a tombstone
    topic = t.alerts.changelog_topic.get_topic_name()
    assert placed(publisher) == {(topic, 2): [("k1", b"v1"), ("k1", None)],
                                 (topic, 0): [("k2", b"v2")]}
    assert dict(store) == {"k2": b"v2"} and "k1" not in store and len(store) == 1


def test_item_assignment_uses_partition_of_when_given(
        tables: tuple[WorkerTables, BatchPublisher]) -> None:
    t, publisher = tables
    store = PartitionedStore(t.incidents, lambda key: default_partition(key, 4), publisher)
    store["Hai Chau"] = b"x"
    del store["Hai Chau"]
    topic = t.incidents.changelog_topic.get_topic_name()
    assert placed(publisher) == {(topic, default_partition("Hai Chau", 4)): [
        ("Hai Chau", b"x"), ("Hai Chau", None)]}
    with pytest.raises(KeyError):
        del store["Hai Chau"]


def test_a_changelog_only_store_keeps_nothing_local_but_what_is_set_locally(
        tables: tuple[WorkerTables, BatchPublisher]) -> None:
    t, publisher = tables
    store = PartitionedStore(t.series, publisher=publisher, keep_local=False)
    store.put("s1", b"state", 1)
    assert "s1" not in store and len(publisher) == 1
    store.set_local("s2", b"snap", 3)  # what a revoke leaves for the restore
    assert list(store) == ["s2"] and len(publisher) == 1
    assert store.pop_local("s2") == b"snap" and store.pop_local("s2") is None


def test_alert_lanes_land_on_the_partition_they_were_observed_on(
        tables: tuple[WorkerTables, BatchPublisher]) -> None:
    t, publisher = tables
    book = AlertBook(PartitionedStore(t.alerts, publisher=publisher), partitions=4)
    silences = SilenceBook({})
    ev = Evidence(window_start=T0 - 60, window_end=T0, value=34.0, baseline=2.0,
                  threshold=4.0, score=0.95, raw=5.2, detector="robust_z",
                  detector_version="1", params={}, recent=[])
    src = "flood-HC-01"
    away = (default_partition(src, 4) + 1) % 4  # not where the default partitioner puts it
    (rec,) = book.observe(group="flooding", district="Hai Chau", source=src,
                          metric="flood_depth", verdicts=[Verdict(True, False, ev)], ts=T0,
                          silences=silences, partition=away)
    book.tick(T0 + 600, silences)  # the lane's clock moves: written again
    key = lane_key("flooding", src, "flood_depth", "city")
    topic = t.alerts.changelog_topic.get_topic_name()
    writes = placed(publisher)
    assert list(writes) == [(topic, away)]
    assert [k for k, _ in writes[(topic, away)]] == [key, key]
    assert book.partition_of(rec.alert_id) == away and book.get(rec.alert_id) == rec
