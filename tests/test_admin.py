"""Topic administration: the topic plan from settings, idempotent creation on a real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from ioc import topics
from ioc.catalog import GROUP_SLUGS
from ioc.errors import BrokerError
from ioc.kafka.admin import TopicSpec, create_topics, ensure_topics, list_topics, topic_specs
from ioc.kafka.broker import EmbeddedBroker, free_port
from ioc.settings import Settings

IOC = str(Path(sys.executable).with_name("ioc"))
HOUR_MS = 3_600_000
ALL_TOPICS = [topics.events_topic(g) for g in GROUP_SLUGS] + list(topics.SHARED_TOPICS)


def _admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)


def _partitions(bootstrap: str, names: list[str]) -> dict[str, int]:
    admin = _admin(bootstrap)
    try:
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}
    finally:
        admin.close()


def _configs(bootstrap: str, name: str) -> dict[str, str]:
    admin = _admin(bootstrap)
    try:
        found: dict[str, Any] = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        admin.close()
    return {k: v["value"] for k, v in found["topic"][name].items()}


def test_topic_plan_follows_the_settings() -> None:
    s = Settings(partitions=7, events_retention_hours=2, alerts_retention_hours=10,
                 indicators_retention_hours=3, deadletter_retention_hours=5)
    specs = {spec.name: spec for spec in topic_specs(s)}
    assert list(specs) == ALL_TOPICS
    assert len(specs) == 20
    assert {spec.partitions for spec in specs.values()} == {7}
    assert {spec.replication_factor for spec in specs.values()} == {1}
    retention = {name: int(spec.configs["retention.ms"]) for name, spec in specs.items()}
    assert retention[topics.events_topic("traffic")] == 2 * HOUR_MS
    assert retention[topics.ALERTS] == retention[topics.COMMANDS] == 10 * HOUR_MS
    assert retention[topics.INDICATORS] == 3 * HOUR_MS
    assert retention[topics.DEADLETTER] == 5 * HOUR_MS
    # the alerts topic is an audit trail: deleted by age only, never compacted
    assert {spec.configs["cleanup.policy"] for spec in specs.values()} == {"delete"}


def test_ensure_topics_creates_then_leaves_alone(kafka_bootstrap: str, broker_kind: str,
                                                 unique_name: Callable[[str], str]) -> None:
    """First run creates with the asked partitions and configs; the second creates nothing."""
    a, b = unique_name("adm"), unique_name("adm")
    specs = [TopicSpec(a, 3, 1, {"cleanup.policy": "delete", "retention.ms": "7200000"}),
             TopicSpec(b, 2, 1, {"cleanup.policy": "delete", "retention.ms": "3600000"})]
    first = ensure_topics(specs, kafka_bootstrap)
    assert first.created == (a, b) and first.existing == ()
    second = ensure_topics(specs, kafka_bootstrap)
    assert second.created == () and second.existing == (a, b) and second.mismatched == {}
    assert list(second.lines())[-1] == "0 created, 2 already present"
    assert _partitions(kafka_bootstrap, [a, b]) == {a: 3, b: 2}
    if broker_kind == "embedded":
        pytest.xfail("the embedded broker (tansu) does not report topic configs")
    assert _configs(kafka_bootstrap, a)["retention.ms"] == "7200000"
    assert _configs(kafka_bootstrap, b)["retention.ms"] == "3600000"
    assert _configs(kafka_bootstrap, a)["cleanup.policy"] == "delete"


def test_existing_topic_with_other_partitions_is_reported_not_changed(
        kafka_bootstrap: str, unique_name: Callable[[str], str]) -> None:
    name = unique_name("adm")
    ensure_topics([TopicSpec(name, 2, 1)], kafka_bootstrap)
    report = ensure_topics([TopicSpec(name, 5, 1)], kafka_bootstrap)
    assert report.existing == (name,) and report.mismatched == {name: 2}
    assert "(has 2 partitions; left as is)" in next(report.lines())
    assert _partitions(kafka_bootstrap, [name]) == {name: 2}


def test_create_topics_is_idempotent_on_the_session_broker(kafka_bootstrap: str,
                                                           broker_kind: str) -> None:
    """All 20 topics exist after the first run (some may predate it: other tests share the
    broker); the second run creates nothing. Topics this run created carry the settings."""
    settings = Settings(partitions=4)
    first = create_topics(settings, kafka_bootstrap)
    assert sorted(first.created + first.existing) == sorted(ALL_TOPICS)
    second = create_topics(settings, kafka_bootstrap)
    assert second.created == () and second.existing == tuple(ALL_TOPICS)
    assert set(ALL_TOPICS) <= set(list_topics(kafka_bootstrap))
    if first.created:
        assert set(_partitions(kafka_bootstrap, list(first.created)).values()) == {4}
    if broker_kind == "kafka":
        expected = {spec.name: spec.configs for spec in topic_specs(settings)}
        for name in first.created:
            got = _configs(kafka_bootstrap, name)
            assert got["retention.ms"] == expected[name]["retention.ms"], name
            assert got["cleanup.policy"] == "delete", name


def test_create_topics_on_a_fresh_embedded_broker(embedded_broker: EmbeddedBroker) -> None:
    settings = Settings(partitions=3)
    first = create_topics(settings, embedded_broker.bootstrap)
    assert first.created == tuple(ALL_TOPICS) and first.existing == ()
    assert set(_partitions(embedded_broker.bootstrap, ALL_TOPICS).values()) == {3}
    second = create_topics(settings, embedded_broker.bootstrap)
    assert second.created == () and second.existing == tuple(ALL_TOPICS)


def test_unreachable_broker_is_one_line() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    with pytest.raises(BrokerError) as err:
        create_topics(Settings(), bootstrap, timeout=1)
    assert str(err.value) == f"cannot reach Kafka at {bootstrap}: no broker answered within 1 s"


def test_no_bootstrap_anywhere() -> None:
    with pytest.raises(BrokerError, match="pass --bootstrap HOST:PORT or set IOC_KAFKA_BOOTSTRAP"):
        create_topics(Settings(), None)


# --- `ioc topics` ------------------------------------------------------------------------------

def _ioc(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    return subprocess.run([IOC, *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **env})


def test_cli_topics_create_twice_and_list(embedded_broker: EmbeddedBroker) -> None:
    first = _ioc("topics", "create", "--bootstrap", embedded_broker.bootstrap)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "20 created, 0 already present"
    assert "created  ioc.alerts" in first.stdout.splitlines()
    again = _ioc("topics", "create", IOC_KAFKA_BOOTSTRAP=embedded_broker.bootstrap,
                 IOC_PARTITIONS="2")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "0 created, 20 already present"
    assert "exists   ioc.alerts  (has 4 partitions; left as is)" in again.stdout.splitlines()
    listed = _ioc("topics", "list", "--bootstrap", embedded_broker.bootstrap)
    assert listed.returncode == 0, listed.stderr
    rows = dict(line.split() for line in listed.stdout.splitlines())
    assert rows == {name: "4" for name in sorted(ALL_TOPICS)}


def test_cli_topics_errors_are_one_line() -> None:
    missing = _ioc("topics", "create")
    assert missing.returncode == 2
    assert missing.stderr.startswith("ioc: error: no Kafka broker: pass --bootstrap")
    bootstrap = f"127.0.0.1:{free_port()}"
    down = _ioc("topics", "list", "--bootstrap", bootstrap, "--timeout", "1")
    assert down.returncode == 1
    assert down.stderr == (f"ioc: error: cannot reach Kafka at {bootstrap}: no broker answered "
                           "within 1 s\n")
