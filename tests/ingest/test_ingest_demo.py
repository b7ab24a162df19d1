"""``ioc demo`` brings flooding and environment in through MQTT: the simulator publishes them
to the embedded MQTT broker and ``ioc ingest mqtt`` writes them to Kafka (its records carry
the bridge's headers); the demo still stops within 10 seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_demo import _read_lines_until, _start_demo

from ingest.dedupe import BRIDGE_HEADER
from ioc.events import decode_readings
from ioc.topics import events_topic


@pytest.mark.slow
def test_the_demo_feeds_flooding_and_environment_through_the_mqtt_bridge(
        tmp_path: Path) -> None:
    from kafka import KafkaConsumer

    proc = _start_demo(tmp_path, rate=400, stderr=subprocess.DEVNULL)
    try:
        lines = _read_lines_until(proc, {"bootstrap"}, timeout=90, every=[])
        consumer = KafkaConsumer(*(events_topic(g) for g in ("flooding", "environment",
                                                              "traffic")),
                                 bootstrap_servers=lines["bootstrap"],
                                 auto_offset_reset="earliest")
        via: dict[str, set[str]] = {"mqtt": set(), "kafka": set()}
        deadline = time.monotonic() + 90
        while (len(via["mqtt"]) < 2 or not via["kafka"]) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000, max_records=2000).values():
                for rec in batch:
                    bridged = dict(rec.headers or ()).get(BRIDGE_HEADER) == b"ioc-demo-bridge"
                    for r in decode_readings(rec.value):
                        via["mqtt" if bridged else "kafka"].add(r.group)
        consumer.close()
        assert via["mqtt"] == {"flooding", "environment"}, via
        assert via["kafka"] == {"traffic"}, via  # the other groups still go straight to Kafka
    finally:
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - started < 10, "every child stopped within 10 s"
    assert proc.returncode == 0


class _NoKafka:
    def send(self, message: object) -> None:
        raise AssertionError("a flooding reading went to Kafka instead of MQTT")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_the_simulators_mqtt_sink_says_in_one_line_that_the_broker_went_away(
        mqtt_url: str) -> None:
    """Readings published after the MQTT connection is gone (the demo stops the broker and the
    simulator together) are a BrokerError naming the broker on flush, not a traceback."""
    from ioc.errors import BrokerError
    from ioc.events import Reading
    from ioc.tools.messages import Message
    from ioc.tools.mqtt_publish import MqttSplitSink

    sink = MqttSplitSink(_NoKafka(), f"{mqtt_url}?qos=0", ("flooding",),
                         client_id=f"sim-{os.getpid()}")
    reading = Reading(group="flooding", source="rain-HC-01", metric="rainfall", value=1.0,
                      ts=1795410000.0, district="Hai Chau")
    sink.send(Message("ioc.flooding.events", "rain-HC-01", (reading,), False))
    sink.flush()
    sink.client.disconnect()
    sink.client.loop_stop()
    sink.send(Message("ioc.flooding.events", "rain-HC-01", (reading,), False))
    with pytest.raises(BrokerError, match=f"MQTT broker {mqtt_url}"):
        sink.flush()
