"""Helpers of the ingest tests: per-test topics, an MQTT publisher, reading topics back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry

from ingest.bridge import MqttLink
from ingest.config import IngestConfig
from ingest.run import run_bridge
from ioc import catalog
from ioc.events import DeadLetter, Reading, decode_deadletter, decode_readings
from ioc.kafka.admin import TopicSpec, ensure_topics
from ioc.settings import Settings


@dataclass(frozen=True)
class Topics:
    """A test's topic prefix (``<prefix>.<group>.events``, ``<prefix>.deadletter``)."""

    bootstrap: str
    prefix: str

    @classmethod
    def create(cls, bootstrap: str, prefix: str,
               groups: tuple[str, ...] = ("flooding", "environment")) -> Topics:
        specs = [TopicSpec(f"{prefix}.{g}.events", 2, 1) for g in groups]
        ensure_topics([*specs, TopicSpec(f"{prefix}.deadletter", 1, 1)], bootstrap)
        return cls(bootstrap, prefix)

    def events(self, group: str) -> str:
        return f"{self.prefix}.{group}.events"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}.deadletter"

    def records(self, topic: str) -> list[Any]:
        """Every record of ``topic`` now (read from the start to the end offsets)."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                 group_id=None)
        try:
            parts = [TopicPartition(topic, p)
                     for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            ends = consumer.end_offsets(parts)
            out: list[Any] = []
            left = {tp for tp in parts if ends[tp] > 0}
            deadline = time.monotonic() + 30
            while left and time.monotonic() < deadline:
                for tp, recs in consumer.poll(timeout_ms=500).items():
                    out.extend(recs)
                    if recs[-1].offset + 1 >= ends[tp]:
                        left.discard(tp)
            return out
        finally:
            consumer.close()

    def readings(self, group: str) -> list[Reading]:
        return [r for rec in self.records(self.events(group)) for r in decode_readings(rec.value)]

    def dead(self) -> list[DeadLetter]:
        return [decode_deadletter(rec.value) for rec in self.records(self.deadletter)]


def config_text(url: str, client_id: str, mappings: str, extra: str = "") -> str:
    """An ingest file with one broker and the given ``[[mapping]]`` tables."""
    return f'[[broker]]\nname = "test"\nurl = "{url}"\nclient_id = "{client_id}"\n' \
           f"{extra}\n{mappings}"


class Publisher:
    """A paho client publishing QoS 1 messages to ``url``, waiting for each PUBACK batch."""

    def __init__(self, url: str, client_id: str = "") -> None:
        parts = urlsplit(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()

    def send(self, topic: str, payload: bytes | str, qos: int = 1) -> Any:
        return self.client.publish(topic, payload, qos=qos)

    def send_all(self, items: Sequence[tuple[str, bytes | str]], timeout: float = 60) -> None:
        infos = [self.send(t, p) for t, p in items]
        for info in infos:
            info.wait_for_publish(timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def running_bridge(config: IngestConfig, topics: Topics, *, dedupe_s: float = 900.0,
                   registry: CollectorRegistry | None = None) -> Iterator[list[MqttLink]]:
    """``run_bridge`` in a thread until the block ends; yields its links once connected."""
    settings = Settings.from_env({"IOC_INGEST_DEDUPE_S": str(dedupe_s)})
    stop = threading.Event()
    ready: list[list[MqttLink]] = []
    errors: list[BaseException] = []
    up = threading.Event()

    def started(links: list[MqttLink]) -> None:
        ready.append(links)
        up.set()

    def run() -> None:
        try:
            run_bridge(settings, config, topics.bootstrap, stop, prefix=topics.prefix,
                       registry=registry or CollectorRegistry(), started=started)
        except BaseException as exc:
            errors.append(exc)
            up.set()

    thread = threading.Thread(target=run, name="bridge", daemon=True)
    thread.start()
    up.wait(60)
    if errors:
        raise errors[0]
    assert ready, "the bridge did not connect within 60 s"
    try:
        yield ready[0]
    finally:
        stop.set()
        thread.join(60)
    if errors:
        raise errors[0]


def known_district() -> str:
    return catalog.DISTRICTS[0].name
