"""The direction rule: sides of scores, the decision, backtests and simulated anomalies on the
harmful side."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.backtest import backtest, harmful_side
from detectors.decision import decide_many, keep_harmful
from detectors.direction import harmful, side_of
from detectors.policies import Threshold
from detectors.statistical import RobustZScore
from ioc import catalog
from ioc.events import Reading
from ioc.tools.anomalies import AnomalyPlan, harmful_signs, place
from ioc.truth import Anomaly

T0 = 1_795_410_000.0


@pytest.mark.parametrize("value, baseline, detail, side", [
    (5.0, 2.0, None, "high"), (1.0, 2.0, None, "low"), (2.0, 2.0, None, None),
    (math.nan, 2.0, None, None), (1.0, 2.0, {"side": "above"}, "high"),
    (9.0, 2.0, {"direction": "down"}, "low"), (9.0, 2.0, {"side": "weird"}, "high")])
def test_the_side_of_a_score(value: float, baseline: float, detail: dict | None,
                             side: str | None) -> None:
    assert side_of(value, baseline, detail) == side


def test_harmless_sides_are_cleared_for_city_detectors_only() -> None:
    fired = [np.array([True, True, False]), np.array([True, True, False])]
    kept = keep_harmful(fired, [False, True], ["high", "high"],
                        lambda i, j: ("high", "low", "low")[j])
    assert [k.tolist() for k in kept] == [[True, False, False], [True, True, False]]
    assert harmful("high", "both") and not harmful("high", "low")


def test_the_health_rule_still_applies_after_the_direction_rule() -> None:
    pols = [Threshold(0.9).columns(), Threshold(0.9).columns()]
    for p in pols:
        p.add(2)
    out = decide_many(np.arange(2), 60.0, [np.array([0.95, 0.95]), np.array([0.0, 1.0])],
                      pols, (False, True), directions=("low", "both"),
                      side_of=lambda i, j: "low")
    assert [o.tolist() for o in out] == [[True, False], [False, True]]


def series(metric_group: str, source: str, metric: str, district: str, drop_at: int,
           level: float, drop: float) -> list[Reading]:
    return [Reading(group=metric_group, source=source, metric=metric, district=district,
                    ts=T0 + 60 * i + 5, value=drop if drop_at <= i < drop_at + 3
                    else level + (i % 3) * 0.3) for i in range(200)]


def test_a_backtest_counts_only_harmful_alerts_unless_asked_for_both() -> None:
    """A PM2.5 drop is no alert in a backtest (as in the worker), unless both_sides."""
    rows = series("environment", "air-HC-01", "pm25", "Hai Chau", 150, 24.0, 2.0)
    dip = Anomaly("environment", "air-HC-01", "pm25", "level_shift", T0 + 9000, T0 + 9180,
                  "Hai Chau", -1)
    assert harmful_side(("environment", "air-HC-01", "pm25")) == "high"
    one = backtest(RobustZScore, rows, [dip], name="robust_z")
    both = backtest(RobustZScore, rows, [dip], name="robust_z", both_sides=True)
    assert (one.alerts, one.detected) == (0, 0)
    assert both.alerts >= 1 and both.detected == 1


def test_simulated_level_anomalies_go_the_harmful_way() -> None:
    """Random plans put spikes, shifts and drifts on each metric's harmful side."""
    plan = AnomalyPlan.random(seed=11, start=T0, duration=24 * 3600, count=60,
                              kinds=("spike", "level_shift", "drift"))
    assert plan
    for a in plan:
        spec = catalog.group(a.group).metric(a.metric)
        assert a.sign in harmful_signs(spec, a.sign), (a, spec.harmful)
    assert place("traffic", "trf-HC-01", "speed", "level_shift", T0).sign == -1  # slow traffic
