"""`ioc simulate` and `ioc replay` as a user runs them: real processes, real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from test_replay import end_offsets, read_since

from ioc import catalog, topics
from ioc.events import decode_readings
from ioc.tools.simulator import prefixed

IOC = [sys.executable, "-m", "ioc"]
START = "2026-11-23T08:00:00+07:00"


def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    environ.update(env or {})
    return subprocess.run([*IOC, *args], capture_output=True, text=True, timeout=timeout,
                          env=environ)


def one_line_error(done: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ioc: error: ") and text in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("args", "text"), [
    (["simulate", "--rate", "fast", "--output", "x.jsonl"], "--rate: expected a number"),
    (["simulate", "--rate", "-5", "--output", "x.jsonl"], "--rate: must be at least 0"),
    (["simulate", "--duration", "0", "--output", "x.jsonl"], "--duration: must be at least 1"),
    (["simulate", "--seed", "abc", "--output", "x.jsonl"], "--seed: expected a whole number"),
    (["simulate", "--start", "tomorrow", "--output", "x.jsonl"], "--start: not an RFC 3339"),
    (["simulate", "--anomaly-kinds", "spike,meteor", "--output", "x.jsonl"],
     "unknown kind 'meteor'"),
    (["simulate", "--pack-size", "0", "--output", "x.jsonl"], "--pack-size: must be at least 1"),
    (["simulate", "--duration", "10"], "no Kafka broker: pass --bootstrap"),
    (["simulate", "--topic-prefix", "my topics", "--output", "x.jsonl"],
     "--topic-prefix: must be 1-100 of"),
    (["simulate", "--truth", "/nonexistent/dir/t.jsonl", "--output", "x.jsonl"],
     "--truth: directory"),
    (["replay", "/nonexistent/readings.csv", "--bootstrap", "127.0.0.1:1"], "cannot read"),
    (["replay", "/nonexistent/readings.csv"], "cannot read"),
    (["replay", "README.md", "--speed", "-1", "--bootstrap", "127.0.0.1:1"],
     "--speed: must be at least 0"),
])
def test_user_errors_print_one_line_and_exit_2(args: list[str], text: str,
                                               tmp_path: Path) -> None:
    one_line_error(run(*args), 2, text)


def test_a_wrong_csv_header_stops_replay_before_any_broker_is_needed(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,where,what\n1,2,3\n")
    one_line_error(run("replay", str(path)), 2, "bad.csv:1: CSV header: missing column(s) ts")


def test_an_unreachable_broker_is_one_line_exit_1(tmp_path: Path) -> None:
    done = run("simulate", "--bootstrap", "127.0.0.1:1", "--timeout", "1", "--duration", "5")
    one_line_error(done, 1, "cannot reach Kafka at 127.0.0.1:1")


def test_simulate_to_a_file_is_reproducible_and_writes_the_truth(tmp_path: Path) -> None:
    def once(name: str) -> tuple[bytes, str, str]:
        out, truth = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.truth"
        done = run("simulate", "--rate", "0", "--duration", "3600", "--seed", "4", "--start",
                   START, "--anomalies", "6", "--warmup", "600", "--output", str(out),
                   "--truth", str(truth))
        assert done.returncode == 0, done.stderr
        return out.read_bytes(), truth.read_text(), done.stdout

    first, truth, summary = once("a")
    second, truth_again, _ = once("b")
    assert first == second and truth == truth_again
    records = [json.loads(line) for line in truth.splitlines()]
    assert len(records) == 6 and {r["kind"] for r in records} == {
        "spike", "level_shift", "drift", "stuck", "silence", "count_surge"}
    assert "6 anomalies injected" in summary
    assert "Traceback" not in summary


def test_simulate_compresses_time_to_the_requested_rate(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    done = run("simulate", "--rate", "3000", "--duration", "120", "--seed", "1",
               "--no-anomalies", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "92x real time" in done.stderr  # 3000 / 32.6 readings/s
    readings = sum(len(decode_readings(line)) for line in out.read_bytes().splitlines())
    assert 3500 < readings < 4400


def test_simulate_produces_to_all_15_topics(kafka_bootstrap: str, tmp_path: Path,
                                            unique_name: Callable[[str], str]) -> None:
    prefix = unique_name("sim")
    truth = tmp_path / "truth.jsonl"
    done = run("simulate", "--bootstrap", kafka_bootstrap, "--rate", "0", "--duration", "600",
               "--seed", "1", "--truth", str(truth), "--topic-prefix", prefix, timeout=240)
    assert done.returncode == 0, done.stderr
    names = [prefixed(topics.events_topic(g), prefix) for g in catalog.GROUP_SLUGS]
    landed = read_since(kafka_bootstrap, end_offsets(kafka_bootstrap, names, start=True))
    assert set(landed) == set(names)
    per_group: Counter[str] = Counter()
    for topic, values in landed.items():
        for value in values:
            for r in decode_readings(value):
                assert prefixed(topics.events_topic(r.group), prefix) == topic
                per_group[r.group] += 1
    total = sum(per_group.values())
    assert f"sent {total} readings" in done.stdout
    assert all(per_group[g] > 0 for g in catalog.GROUP_SLUGS)
    anomalies = [json.loads(line) for line in truth.read_text().splitlines()]
    assert len(anomalies) >= 1
    assert all(a["group"] in catalog.GROUPS for a in anomalies)


def test_replay_command_lands_a_csv_file(kafka_bootstrap: str, tmp_path: Path,
                                        unique_name: Callable[[str], str]) -> None:
    prefix = unique_name("replay")
    path = tmp_path / "visits.csv"
    rows = [f"{1795395600 + i},healthcare,hos-HC-01,visits,Hai Chau,,outpatient"
            for i in range(5)]
    path.write_text("ts,group,source,metric,district,value,kind\n" + "\n".join(rows)
                    + "\nnot,a,valid,row,at,all,here\n")
    done = run("replay", str(path), "--bootstrap", kafka_bootstrap, "--speed", "0",
               "--topic-prefix", prefix)
    assert done.returncode == 0, done.stderr
    assert "replayed 5 readings" in done.stdout and "1 bad line(s)" in done.stdout
    assert "visits.csv:7: value: not a number: 'all'" in done.stderr
    topic = f"{prefix}.healthcare.events"
    landed = read_since(kafka_bootstrap, end_offsets(kafka_bootstrap, [topic], start=True))
    assert [decode_readings(v)[0].epoch for v in landed[topic]] == [
        1795395600.0 + i for i in range(5)]
