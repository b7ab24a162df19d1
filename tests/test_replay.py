"""Replaying recorded readings: CSV and JSON lines, validation per line, pacing, real Kafka."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from ioc.errors import UsageError
from ioc.events import Reading, decode_readings
from ioc.settings import Settings
from ioc.tools.producer import EventProducer, JsonLinesSink, ensure_topics, publish_simulation
from ioc.tools.replay import BadLine, Line, check_recording, read_recording, replay
from ioc.tools.simulator import CitySimulator, Message

T0 = 1795395600.0

GOOD_CSV = """ts,group,source,metric,district,value,kind,unit
1795395600,flooding,rain-HC-01,rainfall,Hai Chau,2.5,,mm/h
2026-11-23T08:00:01+07:00,traffic,trf-HC-01,speed,Hai Chau,31.2,,km/h
1795395602.5,traffic,trf-HC-01,signal_faults,Hai Chau,,lamp,
"""


class ListSink:
    """Collects messages in memory."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.sent_at: list[float] = []
        self.flushed = 0

    def send(self, message: Message) -> None:
        self.messages.append(message)
        self.sent_at.append(time.monotonic())

    def flush(self) -> None:
        self.flushed += 1

    def close(self) -> None:
        pass


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_become_validated_readings(tmp_path: Path) -> None:
    items = list(read_recording(write(tmp_path, "rec.csv", GOOD_CSV)))
    assert all(isinstance(i, Line) for i in items)
    readings = [r for i in items if isinstance(i, Line) for r in i.readings]
    assert [(r.source, r.metric, r.epoch, r.value, r.kind, r.unit) for r in readings] == [
        ("rain-HC-01", "rainfall", T0, 2.5, None, "mm/h"),
        ("trf-HC-01", "speed", T0 + 1, 31.2, None, "km/h"),
        ("trf-HC-01", "signal_faults", T0 + 2.5, None, "lamp", None)]


def test_csv_columns_may_come_in_any_order_with_optional_ones_left_out(tmp_path: Path) -> None:
    text = ("kind,value,district,metric,source,group,ts\n"
            ",7.1,Cam Le,ph,wq-CL-01,environment,1795395600\n")
    (item,) = read_recording(write(tmp_path, "rec.csv", text))
    assert isinstance(item, Line) and item.readings[0].value == 7.1


def test_bad_csv_lines_are_reported_with_file_line_field_and_skipped(tmp_path: Path) -> None:
    text = GOOD_CSV + "\n".join([
        "1795395603,flooding,rain-HC-01,rainfall,Hai Chau,heavy,,",
        "1795395603,floods,rain-HC-01,rainfall,Hai Chau,1.0,,",
        "1795395603,traffic,trf-HC-01,signal_faults,Hai Chau,,,",
        "1795395603,flooding,rain-HC-01,rainfall,Atlantis,1.0,,",
        "yesterday,flooding,rain-HC-01,rainfall,Hai Chau,1.0,,",
        "1795395603,flooding,rain-HC-01",
        "1795395604,flooding,rain-HC-01,rainfall,Hai Chau,3.0,,mm/h",
    ]) + "\n"
    items = list(read_recording(write(tmp_path, "rec.csv", text)))
    bad = [str(i) for i in items if isinstance(i, BadLine)]
    assert bad[0] == "rec.csv:5: value: not a number: 'heavy'"
    assert bad[1].startswith("rec.csv:6: group: unknown group 'floods'")
    assert bad[2].startswith("rec.csv:7: kind: 'signal_faults' counts events: `kind` is required")
    assert bad[3].startswith("rec.csv:8: district: unknown district 'Atlantis'")
    assert bad[4].startswith("rec.csv:9: ts: not an RFC 3339 timestamp")
    assert bad[5] == "rec.csv:10: $: 3 fields, the header has 8"
    assert len(bad) == 6
    good = [i for i in items if isinstance(i, Line)]
    assert [i.number for i in good] == [2, 3, 4, 11]


@pytest.mark.parametrize(("header", "problem"), [
    ("ts,group,source,metric,district,value", "missing column(s) kind"),
    ("ts,group,source,metric,district,value,kind,colour", "unknown column(s) colour"),
])
def test_a_wrong_csv_header_is_a_usage_error(tmp_path: Path, header: str, problem: str) -> None:
    path = write(tmp_path, "rec.csv", header + "\n")
    with pytest.raises(UsageError, match=re.escape(problem)):
        check_recording(path)
    with pytest.raises(UsageError, match=r"rec\.csv:1: CSV header"):
        list(read_recording(path))


def test_json_lines_carry_readings_and_packs(tmp_path: Path) -> None:
    one = {"group": "flooding", "source": "rain-HC-01", "metric": "rainfall", "ts": T0,
           "district": "Hai Chau", "value": 1.5}
    pack = [dict(one, source="rain-TK-01", district="Thanh Khe", ts=T0 + 1),
            dict(one, source="rain-TK-01", district="Thanh Khe", ts=T0 + 11)]
    lines = [json.dumps(one), "", json.dumps(pack), "{not json",
             json.dumps(dict(one, value="high")), json.dumps([dict(one), dict(one, mood=1)])]
    path = write(tmp_path, "rec.jsonl", "\n".join(lines) + "\n")
    items = list(read_recording(path))
    assert [type(i).__name__ for i in items] == ["Line", "Line", "BadLine", "BadLine", "BadLine"]
    first, second = items[0], items[1]
    assert isinstance(first, Line) and isinstance(second, Line)
    assert not first.pack and second.pack and len(second.readings) == 2
    assert str(items[2]).startswith("rec.jsonl:4: $: not valid JSON")
    assert str(items[3]).startswith("rec.jsonl:5: value: expected `float | null`, got `str`")
    assert str(items[4]).startswith("rec.jsonl:6: $[1].mood: unknown field")


def test_the_format_is_sniffed_when_the_name_does_not_tell(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "readings.txt", GOOD_CSV)
    assert check_recording(csv_path) == "csv"
    assert len(list(read_recording(csv_path))) == 3
    line = ('{"group":"flooding","source":"rain-HC-01","metric":"rainfall","ts":1795395600,'
            '"district":"Hai Chau","value":1}')
    assert check_recording(write(tmp_path, "readings.log", line + "\n")) == "jsonl"


def test_an_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read .*missing\.csv"):
        check_recording(tmp_path / "missing.csv")
    with pytest.raises(UsageError, match="is a directory"):
        check_recording(tmp_path)


def test_replay_keeps_recorded_gaps_scaled_by_speed(tmp_path: Path) -> None:
    rows = "".join(f"{T0 + 2 * i},flooding,rain-HC-01,rainfall,Hai Chau,{i},\n" for i in range(3))
    path = write(tmp_path, "rec.csv", "ts,group,source,metric,district,value,kind\n" + rows)
    sink = ListSink()
    stats = replay(path, sink, speed=10.0)
    gaps = [b - a for a, b in zip(sink.sent_at, sink.sent_at[1:], strict=False)]
    assert [round(g, 1) for g in gaps] == [0.2, 0.2]
    assert stats.readings == 3 and stats.bad == 0 and stats.last_ts == T0 + 4
    fast = ListSink()
    began = time.monotonic()
    replay(path, fast, speed=0)
    assert time.monotonic() - began < 0.1 and len(fast.messages) == 3


def test_replay_counts_bad_lines_and_reports_each(tmp_path: Path) -> None:
    path = write(tmp_path, "rec.csv", GOOD_CSV + "1795395603,x,y,z,Hai Chau,1,,\n")
    reported: list[BadLine] = []
    stats = replay(path, ListSink(), speed=0, on_bad=reported.append)
    assert stats.bad == 1 and stats.readings == 3 and stats.lines == 4
    assert str(reported[0]).startswith("rec.csv:5: group: unknown group 'x'")
    assert "3 readings" in stats.summary("rec.csv") and "1 bad line" in stats.summary("rec.csv")


def test_a_simulator_recording_replays_to_the_same_messages(tmp_path: Path) -> None:
    sim = CitySimulator(5, T0, 120)
    path = tmp_path / "sim.jsonl"
    with JsonLinesSink(path) as sink:
        publish_simulation(sim, sink, speed=None)
    original = [m for _t, msgs in sim.messages() for m in msgs]
    again = ListSink()
    stats = replay(path, again, speed=0)
    assert stats.bad == 0
    assert [(m.topic, m.key, m.payload()) for m in again.messages] == [
        (m.topic, m.key, m.payload()) for m in original]


# --- on a real broker ------------------------------------------------------------------------


def end_offsets(bootstrap: str, topics: list[str], *, start: bool = False
                ) -> dict[TopicPartition, int]:
    """Each partition's end offset (``start``: its beginning offset)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in topics
                 for p in sorted(consumer.partitions_for_topic(t) or ())]
        found = consumer.beginning_offsets(parts) if start else consumer.end_offsets(parts)
        return dict(found)
    finally:
        consumer.close()


def read_since(bootstrap: str, since: dict[TopicPartition, int], timeout: float = 60.0
               ) -> dict[str, list[bytes]]:
    """Every record written after the offsets in ``since``, by topic."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        consumer.assign(list(since))
        for tp, offset in since.items():
            consumer.seek(tp, offset)
        end = consumer.end_offsets(list(since))
        out: dict[str, list[bytes]] = {}
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in since):
            assert time.monotonic() < deadline, "timed out reading back"
            for tp, records in consumer.poll(timeout_ms=1000).items():
                out.setdefault(tp.topic, []).extend(r.value for r in records)
        # The embedded broker (tansu) reports an end offset short of the last records of the
        # last batch: one more poll picks them up (on Apache Kafka it finds nothing).
        for tp, records in consumer.poll(timeout_ms=500).items():
            out.setdefault(tp.topic, []).extend(r.value for r in records)
        return out
    finally:
        consumer.close()


def test_replay_lands_csv_and_json_lines_on_the_topics(kafka_bootstrap: str, tmp_path: Path,
                                                       unique_name: Callable[[str], str]
                                                       ) -> None:
    prefix = unique_name("replay")
    ensure_topics(Settings(), kafka_bootstrap, 30, prefix)
    topics = [f"{prefix}.flooding.events", f"{prefix}.traffic.events"]
    before = end_offsets(kafka_bootstrap, topics, start=True)
    csv_path = write(tmp_path, "rec.csv", GOOD_CSV + "1795395603,x,y,z,Hai Chau,1,,\n")
    pack = [{"group": "traffic", "source": "trf-TK-01", "metric": "volume", "ts": T0 + i,
             "district": "Thanh Khe", "value": 800.0 + i} for i in range(3)]
    jsonl_path = write(tmp_path, "rec.jsonl", json.dumps(pack) + "\n")
    with EventProducer(kafka_bootstrap) as producer:
        csv_stats = replay(csv_path, producer, speed=0, topic_prefix=prefix)
        jsonl_stats = replay(jsonl_path, producer, speed=0, topic_prefix=prefix)
    assert (csv_stats.readings, csv_stats.bad, jsonl_stats.readings) == (3, 1, 3)
    landed = read_since(kafka_bootstrap, before)
    readings: list[Reading] = [r for values in landed.values() for v in values
                               for r in decode_readings(v)]
    assert sorted((r.source, r.metric, r.epoch) for r in readings) == sorted(
        [("rain-HC-01", "rainfall", T0), ("trf-HC-01", "speed", T0 + 1),
         ("trf-HC-01", "signal_faults", T0 + 2.5)]
        + [("trf-TK-01", "volume", T0 + i) for i in range(3)])
    assert len(landed[f"{prefix}.traffic.events"]) == 3  # two CSV readings and one pack
