"""The batch forms (detectors/columns.py, policy_columns.py) and the one decision site
(detectors/decision.py)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from detectors.backtest import backtest
from detectors.base import WindowStats
from detectors.columns import RowTable, WindowColumns
from detectors.decision import decide_many, decide_one
from detectors.policies import Hysteresis, MinDuration, RollingQuantile, Threshold
from detectors.registry import load_all
from detectors.statistical import RobustZScore
from ioc import catalog
from ioc.events import Reading


def test_window_columns_hold_nan_statistics_for_empty_rows_like_window_stats() -> None:
    w = WindowColumns(start=0.0, end=60.0, count=[0, 2], mean=[5.0, 1.5], min=[5.0, 1.0],
                      max=[5.0, 2.0], last=[5.0, 2.0], std=[0.0, 0.5], rhythm=0.5)
    assert math.isnan(w.mean[0]) and math.isnan(w.value[0])
    assert repr(w.row(0)) == repr(WindowStats.empty(0.0, 60.0, rhythm=0.5))
    assert w.row(1) == WindowStats(0.0, 60.0, 2, 1.5, 1.0, 2.0, 2.0, 0.5, "measure", 0.5)
    counts = WindowColumns(start=0.0, end=60.0, count=[0, 3], mean=[1.0, 1.0], kind="count")
    assert counts.value.tolist() == [0.0, 3.0] and counts.row(0).value == 0.0


def test_window_columns_of_refuses_windows_that_did_not_close_together() -> None:
    with pytest.raises(ValueError, match="differ"):
        WindowColumns.of([WindowStats.empty(0.0, 60.0), WindowStats.empty(60.0, 120.0)])


def test_row_table_grows_by_doubling_and_keeps_rows_in_order() -> None:
    t = RowTable({"x": (np.float64, math.nan, 0), "ring": (np.float32, 0.0, 8)})
    caps = set()
    for i in range(1000):
        assert t.add(1) == i
        t["x"][i] = i
        caps.add(t.cap)
    assert len(caps) <= 8  # 16, 32, ... 1024: amortised, not one allocation per row
    t.keep(np.array([999, 3, 500]))
    assert len(t) == 3 and t["x"][:3].tolist() == [999.0, 3.0, 500.0]
    assert math.isnan(t["x"][t.add(1)])
    with pytest.raises(IndexError):
        t.keep(np.array([7]))


def test_default_detectors_of_every_metric_keep_batch_state_under_the_series_budget() -> None:
    reg = load_all(require=True)
    for g in catalog.GROUPS.values():
        for spec in g.metrics:
            cols = [d.columns() for d in reg.for_metric(spec).values()]
            per_row = sum(c.row_bytes() for c in cols)
            assert per_row < 1024, (g.slug, spec.name, per_row)


@pytest.mark.parametrize("make", [
    lambda: Threshold(0.9),
    lambda: Threshold(0.5) | Hysteresis(fire_after=2, clear_after=2),
    lambda: RollingQuantile(0.9, window=8, floor=0.3) | MinDuration(120),
], ids=["threshold", "hysteresis", "quantile"])
def test_policy_columns_decide_and_serialise_like_one_series_policies(make) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    cols, ones = make().columns(), [make() for _ in range(6)]
    cols.add(6)
    for step in range(80):
        rows = rng.sample(range(6), rng.randint(1, 6))
        scores = [rng.choice([0.0, 0.2, 0.6, 0.95, 1.0, math.nan]) for _ in rows]
        got = cols.decide_many(np.array(rows), np.array(scores), ts=60.0 * step)
        want = [ones[r].decide(s, 60.0 * step).firing for r, s in zip(rows, scores, strict=True)]
        assert got.tolist() == want
        for r in range(6):
            assert cols.get_state(r) == ones[r].get_state() and cols.firing(r) == ones[r].firing
    cols.keep(np.array([4, 1]))
    cols.add(1)
    cols.set_state(2, ones[0].get_state())
    assert [cols.get_state(r) for r in range(3)] == [o.get_state() for o in
                                                      (ones[4], ones[1], ones[0])]


def test_health_firing_suppresses_city_detectors_of_the_same_row_only() -> None:
    rows = np.arange(3)
    pols = [Threshold(0.9).columns(), (Threshold(0.9) | Hysteresis(fire_after=2)).columns(),
            Threshold(0.9).columns()]
    for p in pols:
        p.add(3)
    health = (False, False, True)
    first = decide_many(rows, 60.0, [np.full(3, 0.95), np.full(3, 0.95),
                                     np.array([1.0, 0.0, 0.0])], pols, health)
    assert [f.tolist() for f in first] == [[False, True, True], [False, False, False],
                                           [True, False, False]]
    # the suppressed hysteresis still counted its first over-the-line score
    second = decide_many(rows, 120.0, [np.zeros(3), np.full(3, 0.95), np.zeros(3)], pols, health)
    assert second[1].tolist() == [True, True, True]


def test_a_mask_decided_elsewhere_is_suppressed_too() -> None:
    rows = np.arange(2)
    health_pol = Threshold(0.9).columns()
    health_pol.add(2)
    got = decide_many(rows, 60.0, [None, np.array([1.0, 0.0])], [None, health_pol],
                      (False, True), decided={0: np.array([True, True])})
    assert got[0].tolist() == [False, True]
    with pytest.raises(ValueError, match="neither"):
        decide_many(rows, 60.0, [None], [None], (False,))


def test_decide_one_is_the_same_rule_for_one_series() -> None:
    pols = [Threshold(0.9), Threshold(0.9), Threshold(0.9)]
    assert decide_one([0.95, 0.2, 0.99], pols, (False, True, True), ts=0.0) == [False, False, True]
    assert decide_one([0.95, 0.2, 0.1], pols, (False, True, True), ts=60.0) == [True, False, False]


def _rain(n: int, spikes: dict[int, float]) -> list[Reading]:
    return [Reading(group="flooding", source="rain-HC-01", metric="rainfall", district="Hai Chau",
                    ts=1795410000.0 + 60.0 * i, value=spikes.get(i, 2.0 + (i % 3) * 0.1))
            for i in range(n)]


def test_backtest_decides_through_the_given_policy() -> None:
    readings = _rain(300, {200: 60.0, 260: 60.0, 261: 60.0, 262: 60.0, 263: 60.0, 264: 60.0})
    plain = backtest(RobustZScore, readings, [], name="robust_z")
    same = backtest(RobustZScore, readings, [], name="robust_z", policy=Threshold(0.9))
    patient = backtest(RobustZScore, readings, [], name="robust_z",
                       policy=Threshold(0.9) | Hysteresis(fire_after=2))
    assert plain == same
    assert plain.alerts > patient.alerts >= 1
