"""The MQTT bridge on a real Mosquitto and a real Kafka: mappings, dead letters, redelivery."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from ingestkit import Publisher, Topics, config_text, running_bridge
from prometheus_client import CollectorRegistry
from waits import wait_until

from ingest.config import IngestConfig
from streams.windows import PartitionWindows

RAIN_AND_TOWER = '''
[[mapping]]
topic = "{city}/rain/{district}/{source}"
group = "flooding"
source = "{source}"
district = "{district}"
ts = "$.time"
lat = "$.pos.0"
lon = "$.pos.1"
[[mapping.metrics]]
metric = "rainfall"
value = "$.mm_h"
unit = "mm/h"

[[mapping]]
topic = "{city}/tower/{district}/{source}/#"
group = "flooding"
source = "{source}"
district = "{district}"
[[mapping.metrics]]
metric = "flood_depth"
value = "$"

[[mapping]]
topic = "{city}/air/{source}"
group = "environment"
source = "{source}"
district = "$.district"
ts = "$.ts_ms"
ts_unit = "ms"
[[mapping.metrics]]
metric = "pm25"
value = "$.pm.pm25"
[[mapping.metrics]]
metric = "pm10"
value = "$.pm.pm10"
[[mapping.metrics]]
metric = "aqi"
value = "$.aqi"
'''


def _config(url: str, city: str, extra: str = "") -> IngestConfig:
    return IngestConfig.from_toml(config_text(url, f"bridge-{city}",
                                              RAIN_AND_TOWER.replace("{city}/", f"{city}/"),
                                              extra))


def test_mappings_wildcards_captures_metrics_and_plain_numbers(
        mqtt_url: str, topics: Topics) -> None:
    """Captured districts and sources, a trailing #, three metrics from one message, a plain
    number payload stamped with its arrival time, a millisecond payload timestamp."""
    city = f"c{uuid.uuid4().hex[:8]}"
    pub = Publisher(mqtt_url)
    before = time.time()
    with running_bridge(_config(mqtt_url, city), topics):
        pub.send_all([
            (f"{city}/rain/hai-chau/rain-HC-9",
             json.dumps({"mm_h": 12.5, "time": "2026-11-23T12:00:00+07:00",
                         "pos": [16.05, 108.2]})),
            (f"{city}/tower/LC/flood-LC-9/level/raw", "37.5"),
            (f"{city}/air/air-ST-9", json.dumps({"district": "Son Tra", "ts_ms": 1795410000500,
                                                 "aqi": 80, "pm": {"pm25": 21, "pm10": 40}})),
        ])
        flooding = wait_until(lambda: len(got := topics.readings("flooding")) >= 2 and got,
                              60, "two flooding readings")
        env = wait_until(lambda: len(got := topics.readings("environment")) >= 3 and got,
                         60, "three environment readings")
    rain = next(r for r in flooding if r.metric == "rainfall")
    assert (rain.source, rain.district, rain.value, rain.unit, rain.ts, rain.lat, rain.lon) == (
        "rain-HC-9", "Hai Chau", 12.5, "mm/h", 1795410000.0, 16.05, 108.2)
    tower = next(r for r in flooding if r.metric == "flood_depth")
    assert (tower.source, tower.district, tower.value) == ("flood-LC-9", "Lien Chieu", 37.5)
    assert before <= tower.ts <= time.time()
    assert sorted((r.metric, r.value, r.ts, r.district) for r in env) == [
        ("aqi", 80.0, 1795410000.5, "Son Tra"), ("pm10", 40.0, 1795410000.5, "Son Tra"),
        ("pm25", 21.0, 1795410000.5, "Son Tra")]
    pub.close()


def test_bad_payloads_are_dead_lettered_and_counted(mqtt_url: str, topics: Topics) -> None:
    """Not JSON, a missing field, an unknown district, a non-numeric value, a topic no mapping
    takes: each a dead letter with the MQTT topic, the raw bytes and the reason; the good
    metric of a partly bad message still goes through."""
    city = f"c{uuid.uuid4().hex[:8]}"
    registry = CollectorRegistry()
    bad = [
        (f"{city}/rain/hai-chau/r1", b"\xff\xfe not json"),
        (f"{city}/rain/hai-chau/r2", b'{"time": 1795410000, "pos": [16.0, 108.2]}'),
        (f"{city}/rain/atlantis/r3", b'{"mm_h": 1, "time": 1795410000, "pos": [16, 108]}'),
        (f"{city}/tower/hai-chau/t1", b"deep"),
        (f"{city}/air/a1", b'{"district": "Son Tra", "ts_ms": 1795410000000, "aqi": 5, '
                           b'"pm": {"pm25": "n/a", "pm10": 3}}'),
    ]
    pub = Publisher(mqtt_url)
    everything = f'topics = ["{city}/#"]'  # unmapped topics reach the bridge too
    with running_bridge(_config(mqtt_url, city, everything), topics, registry=registry):
        pub.send_all([(t, p) for t, p in bad] + [(f"{city}/unmapped/x", b"1")])
        dead = wait_until(lambda: len(got := topics.dead()) >= 6 and got, 60, "six dead letters")
        env = wait_until(lambda: len(got := topics.readings("environment")) >= 2 and got,
                         60, "the good metrics of the partly bad message")
    by_topic = {d.topic: d for d in dead}
    assert by_topic[f"mqtt:{city}/rain/hai-chau/r1"].raw == b"\xff\xfe not json"
    assert by_topic[f"mqtt:{city}/rain/hai-chau/r2"].reason == "no field $.mm_h in the payload"
    assert "unknown district 'atlantis'" in by_topic[f"mqtt:{city}/rain/atlantis/r3"].reason
    assert by_topic[f"mqtt:{city}/tower/hai-chau/t1"].reason == "expected a number, got 'deep'"
    assert by_topic[f"mqtt:{city}/air/a1"].field == "pm25.value"
    assert "no mapping" in by_topic[f"mqtt:{city}/unmapped/x"].reason
    assert all(d.partition == -1 and d.offset == -1 for d in dead)
    assert sorted(r.metric for r in env) == ["aqi", "pm10"]
    assert registry.get_sample_value("ioc_ingest_deadletters_total", {"path": "mqtt"}) == 6
    pub.close()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_a_redelivered_message_is_produced_once_and_windowed_once(
        mqtt_url: str, topics: Topics, protocol: str) -> None:
    """A bridge (MQTT 3.1.1 or 5, a persistent session) dies after Kafka confirmed a message
    but before its MQTT ack (the ack is held back here, then the connection dropped): the next
    bridge with the same client id gets it again flagged dup, finds its digest in what it read
    back from Kafka, acknowledges it and produces nothing. Kafka holds each reading once, so a
    worker's window counts it once."""
    city = f"c{uuid.uuid4().hex[:8]}"
    config = _config(mqtt_url, city, f'protocol = "{protocol}"')
    pub = Publisher(mqtt_url)
    with running_bridge(config, topics) as links:
        link = links[0]
        link._ack = lambda ready: None  # type: ignore[method-assign]  # the crash window
        pub.send_all([(f"{city}/rain/hai-chau/rain-HC-8",
                       json.dumps({"mm_h": float(i), "time": 1795410000 + i, "pos": [16, 108]}))
                      for i in range(5)])
        wait_until(lambda: len(topics.readings("flooding")) == 5, 60, "five readings")
        link.stopping = True
        sock = link.client.socket()
        assert sock is not None
        sock.close()  # the TCP connection drops: no DISCONNECT, no acks
    registry = CollectorRegistry()
    with running_bridge(config, topics, registry=registry):
        wait_until(lambda: registry.get_sample_value(
            "ioc_ingest_mqtt_duplicates_total", {"broker": "test"}) == 5, 60,
            "five redelivered messages recognised")
    readings = topics.readings("flooding")
    assert sorted(r.value or 0.0 for r in readings) == [0.0, 1.0, 2.0, 3.0, 4.0]
    windows = PartitionWindows("flooding", 0, width=60.0, lateness=30.0)
    windows.add(readings)
    windows.advance_to(1795410000 + 3600)
    start = windows.due()[0]
    values, _late = windows.pop(start)
    assert start == 1795410000.0
    assert values[("rain-HC-8", "rainfall")] == [0.0, 1.0, 2.0, 3.0, 4.0]
    pub.close()
