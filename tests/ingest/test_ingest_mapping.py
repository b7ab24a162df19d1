"""The ingest file and its mappings, without brokers: wildcards, captures, JSON paths, several
metrics, plain numbers, timestamps, and the one-line errors of a wrong file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.config import IngestConfig
from ingest.mapping import Mapping
from ingest.topics import TopicPattern
from ioc.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_patterns_capture_levels_and_match_like_mqtt_filters() -> None:
    p = TopicPattern.parse("a/+/{x}/#")
    assert p.subscription == "a/+/+/#"
    assert p.match("a/1/2") == {"x": "2"} and p.match("a/1/2/3/4") == {"x": "2"}
    assert p.match("b/1/2") is None and p.match("a/1") is None
    for bad in ("a/#/b", "a/x+", "a/{x}/{x}", ""):
        with pytest.raises(ConfigError):
            TopicPattern.parse(bad)


def test_the_example_file_maps_a_rain_gauge_a_flood_tower_and_an_air_station() -> None:
    text = re.sub(r"(password_file|ca_file) = .*", "", (ROOT / "examples/ingest.toml").read_text())
    cfg = IngestConfig.from_toml(text)
    rain = cfg.map("danang/rain/HC/rain-HC-07", b'{"rain_mm_h": 12.5, "time": '
                   b'"2026-11-23T12:00:00+07:00", "gps": [16.05, 108.2]}', 0.0)
    assert [(r.source, r.district, r.value, r.ts, r.lat) for r in rain.readings] == [
        ("rain-HC-07", "Hai Chau", 12.5, 1795410000.0, 16.05)]
    tower = cfg.map("danang/flood/lien-chieu/tower-3/depth", b" 37.5\n", 1795410001.0)
    assert [(r.source, r.value, r.ts, r.unit) for r in tower.readings] == [
        ("flood-tower-3", 37.5, 1795410001.0, "cm")]
    air = cfg.map("danang/air/air-9", b'{"district": "Son Tra", "ts": 1795410000000, '
                  b'"aqi": 50, "pm": {"pm25": 10, "pm10": 20}}', 0.0)
    assert [(r.metric, r.value, r.ts) for r in air.readings] == [
        ("pm25", 10.0, 1795410000.0), ("pm10", 20.0, 1795410000.0), ("aqi", 50.0, 1795410000.0)]
    assert cfg.map("elsewhere/x", b"1", 0.0).errors == [("$", "no mapping for topic 'elsewhere/x'")]


def test_bad_values_are_errors_naming_the_metric_and_field() -> None:
    m = Mapping.from_table({"topic": "t/{s}", "group": "flooding", "source": "{s}",
                            "district": "Hai Chau", "metrics": [
                                {"metric": "rainfall", "value": "$.r"},
                                {"metric": "flood_depth", "value": "$.d"}]})
    out = m.readings("t/s1", b'{"r": "NaN", "d": true}', 1795410000.0)
    assert out.readings == []
    assert [f for f, _ in out.errors] == ["rainfall.value", "flood_depth.value"]
    assert m.readings("t/s1", b"\xff", 0.0).errors == [
        ("$", "payload is neither JSON nor UTF-8 text")]


@pytest.mark.parametrize(("table", "message"), [
    ({"group": "floods"}, "mapping.group: unknown group 'floods'"),
    ({"source": "{nope}"}, "{nope} is not a capture of the topic"),
    ({"ts_unit": "h"}, "ts_unit: `s` or `ms`"),
    ({"colour": "red"}, "unknown field 'colour'"),
    ({"metrics": [{"metric": "rainfall", "value": "rain"}]}, "must be a JSON path"),
])
def test_a_wrong_mapping_is_one_config_error(table: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"topic": "t/{s}", "group": "flooding", "source": "{s}",
                               "district": "Hai Chau",
                               "metrics": [{"metric": "rainfall", "value": "$"}]}
    with pytest.raises(ConfigError, match=re.escape(message)):
        Mapping.from_table({**base, **table})


def test_position_and_unit_are_optional_value_and_ts_are_not() -> None:
    m = Mapping.from_table({"topic": "t/{s}", "group": "flooding", "source": "{s}",
                            "district": "Hai Chau", "ts": "$.t", "lat": "$.lat", "lon": "$.lon",
                            "metrics": [{"metric": "rainfall", "value": "$.v", "unit": "$.u"}]})
    (r,) = m.readings("t/s1", b'{"v": 1, "t": 1795410000}', 0.0).readings
    assert (r.lat, r.lon, r.unit) == (None, None, None)
    (r,) = m.readings("t/s1", b'{"v": 1, "t": 1795410000, "lat": 16, "lon": 108, "u": "mm/h"}',
                      0.0).readings
    assert (r.lat, r.lon, r.unit) == (16.0, 108.0, "mm/h")
    assert m.readings("t/s1", b'{"v": 1}', 0.0).errors == [("ts", "no field $.t in the payload")]
