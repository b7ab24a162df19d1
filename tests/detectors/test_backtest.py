"""Backtests against ground truth (detectors/backtest.py) and `ioc detectors backtest`."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from detectors.backtest import backtest, windows_by_key
from detectors.base import Detector, WindowStats
from detectors.statistical import RobustZScore
from ioc.cli import cli
from ioc.events import Reading
from ioc.tools.anomalies import place, write_truth

T0 = 1795410000.0  # window-aligned
RAIN = dict(group="flooding", source="rain-HC-01", metric="rainfall", district="Hai Chau")


def rain(n: int, spikes: dict[int, float] | None = None, gap: range = range(0)) -> list[Reading]:
    """One rainfall reading a minute; ``spikes`` maps minute -> value; ``gap`` sends nothing."""
    out = []
    for i in range(n):
        if i in gap:
            continue
        v = (spikes or {}).get(i, 2.0 + (i % 3) * 0.1)
        out.append(Reading(ts=T0 + 60.0 * i, value=v, **RAIN))
    return out


def test_windows_cover_gaps_with_empty_windows() -> None:
    kw = windows_by_key(rain(30, gap=range(10, 15)))
    assert len(kw) == 1
    wins = kw[0].windows
    size = wins[0].end - wins[0].start
    assert wins[0].start == T0 - T0 % size
    assert sum(w.is_empty for w in wins) >= 1
    assert all(b.start == a.end for a, b in itertools.pairwise(wins))


def test_counted_events_become_counts() -> None:
    ev = [
        Reading(
            group="traffic",
            source="trf-HC-01",
            metric="signal_faults",
            district="Hai Chau",
            ts=T0 + 5.0 * i,
            kind="lamp_out",
        )
        for i in range(24)
    ]
    (kw,) = windows_by_key(ev)
    assert kw.windows[0].is_count and sum(w.value for w in kw.windows) == 24


def test_spike_found_false_alarm_counted_and_time_to_detect() -> None:
    a = place("flooding", "rain-HC-01", "rainfall", "spike", T0 + 240 * 60.0)
    size = a.window_s
    readings = rain(480, spikes={240 + k: 60.0 for k in range(int(size // 60))} | {400: 80.0})
    r = backtest(RobustZScore, readings, [a], name="robust_z")
    assert (r.anomalies, r.detected, r.alerts, r.true_alerts) == (1, 1, 2, 1)
    assert r.precision == 0.5 and r.recall == 1.0
    assert 0.0 <= r.ttd_s[0] <= 2 * size
    assert r.alerts_per_day == pytest.approx(2 * 86400.0 / r.span_s)
    assert r.false_alerts_per_day == pytest.approx(86400.0 / r.span_s)
    assert r.by_kind == {"spike": (1, 1)}


def test_anomalies_on_unseen_keys_are_out_of_scope_and_no_alerts_give_nan_precision() -> None:
    other = place("flooding", "rain-LC-01", "rainfall", "spike", T0 + 600.0)
    r = backtest(RobustZScore, rain(120), [other])
    assert r.anomalies == 0 and math.isnan(r.recall)
    assert r.alerts == 0 and math.isnan(r.precision)


class EmptyAlarm(Detector):
    """Scores 1 for an empty window, 0 otherwise (a minimal silence detector)."""

    name = "empty_alarm"
    version = "1"
    input = "window"

    def score_one(self, x: float, ts: float) -> float:
        return 0.0

    def learn_one(self, x: float, ts: float) -> None:
        pass

    def score_window(self, w: WindowStats) -> float:
        return 1.0 if w.is_empty else 0.0


def test_silence_matches_any_metric_of_the_source() -> None:
    a = place("flooding", "rain-HC-01", "", "silence", T0 + 60 * 60.0)
    a = dataclasses.replace(a, metric="some_other_metric")
    readings = rain(180, gap=range(60, 60 + int((a.end - a.start) // 60)))
    r = backtest(EmptyAlarm, readings, [a], name="empty_alarm")
    assert (r.anomalies, r.detected, r.alerts, r.true_alerts) == (1, 1, 1, 1)


def test_cli_backtests_recorded_readings_against_a_truth_file(tmp_path: Path) -> None:
    a = place("flooding", "rain-HC-01", "rainfall", "spike", T0 + 240 * 60.0)
    rec = tmp_path / "rec.csv"
    lines = ["ts,group,source,metric,district,value,kind"]
    for r in rain(480, spikes={240 + k: 60.0 for k in range(int(a.window_s // 60))}):
        lines.append(f"{r.epoch},{r.group},{r.source},{r.metric},{r.district},{r.value},")
    rec.write_text("\n".join(lines) + "\n")
    truth = tmp_path / "truth.jsonl"
    write_truth(truth, [a])
    res = CliRunner().invoke(
        cli,
        [
            "detectors",
            "backtest",
            "--readings",
            str(rec),
            "--truth",
            str(truth),
            "--detector",
            "robust_z",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output.strip().splitlines()[-1])
    assert doc["robust_z"]["recall"] == 1.0 and doc["robust_z"]["detected"] == 1
    assert "precision" in res.output and "alerts/day" in res.output


def test_cli_backtests_simulated_history() -> None:
    res = CliRunner().invoke(
        cli,
        [
            "detectors",
            "backtest",
            "--simulate",
            "1",
            "--group",
            "flooding",
            "--detector",
            "stuck",
            "--detector",
            "robust_z",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output.strip().splitlines()[-1])
    assert set(doc) == {"stuck", "robust_z"}
    assert doc["robust_z"]["anomalies"] >= 1


def test_cli_needs_either_files_or_simulation() -> None:
    res = CliRunner().invoke(cli, ["detectors", "backtest"])
    assert res.exit_code != 0
