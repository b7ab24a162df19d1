"""The direction rule: sides of scores, the decision, backtests and simulated anomalies on the
harmful side."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from detectors.backtest import backtest, harmful_side
from detectors.decision import decide_many, decide_mix, keep_harmful
from detectors.direction import harmful, harmful_cause, side_of, top_named
from detectors.forest_model import fit_model
from detectors.multivariate import indicator_directions
from detectors.policies import Threshold
from detectors.statistical import RobustZScore
from detectors.vector_model import IsoParams, VectorModel
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


# --- multivariate combinations -----------------------------------------------------------------
MIX_PARAMS = IsoParams(min_samples=64, reservoir=128, refit_every=10_000, n_estimators=40,
                       max_samples=64)
AIR = {"pm25": catalog.group("environment").metric("pm25").harmful,
       "pm10": catalog.group("environment").metric("pm10").harmful}


def air_station(harmful_sides: dict[str, catalog.Direction]) -> tuple[VectorModel, float]:
    """A subject whose PM10 follows its PM2.5 (about 1.8 times), fitted on 64 windows."""
    vm = VectorModel(("pm25", "pm10"), Threshold(0.9), MIX_PARAMS, harmful=harmful_sides)
    rng = random.Random(5)
    end = 0.0
    for _ in range(80):
        end += 60.0
        a = rng.gauss(12, 1)
        step = vm.step([a, 1.8 * a + rng.gauss(0, 0.3)], end=end)
        if step.fit_due:
            assert vm.install(fit_model(**vm.fit_request()))
    return vm, end


@pytest.mark.parametrize("x, cause", [([6.0, 21.6], "pm25"), ([12.0, 12.0], "pm10")])
def test_a_combination_that_moved_on_its_harmless_side_raises_nothing(
        x: list[float], cause: str) -> None:
    """Cleaner air than the usual mix (the top metric fell) scores high but does not fire."""
    assert AIR == {"pm25": "high", "pm10": "high"}
    vm, end = air_station(AIR)
    step = vm.step(x, end=end + 60)
    assert step.score >= 0.9 and step.top[0][0] == cause
    assert not step.firing and step.harmless and step.cause is None


@pytest.mark.parametrize("x, cause", [([18.0, 21.6], "pm25"), ([12.0, 30.0], "pm10")])
def test_a_combination_that_moved_on_its_harmful_side_fires_naming_it(
        x: list[float], cause: str) -> None:
    vm, end = air_station(AIR)
    step = vm.step(x, end=end + 60)
    assert step.firing and step.cause == cause and not step.harmless


@pytest.mark.parametrize("sides", [{"pm25": "both", "pm10": "both"}, {}])
def test_both_sides_or_features_outside_the_catalog_fire_either_way(
        sides: dict[str, catalog.Direction]) -> None:
    """``direction = "both"`` in a metric's config (or a feature no catalog metric names)
    brings the harmless side back."""
    vm, end = air_station(sides)
    step = vm.step([6.0, 21.6], end=end + 60)
    assert step.firing and step.cause == "pm25"


def test_the_policy_decides_first_and_the_features_it_names_are_the_top_shares() -> None:
    asked: list[int] = []

    def explain() -> list[tuple[str, float]]:
        asked.append(1)
        return [("pm10", 0.1), ("pm25", 0.9)]

    quiet = decide_mix(0.5, Threshold(0.9), 60.0, explain=explain, side=lambda f: "high",
                       directions={})
    assert not quiet.firing and not asked  # no explanation asked for a quiet vector
    assert top_named([("a", 0.5), ("b", 0.3), ("c", 0.15), ("d", 0.05)]) == ("a", "b", "c")
    assert top_named([("a", 0.1), ("b", 0.1)]) == ("a",)
    sides = {"aqi_max": "low", "reporting_share": "high"}
    assert harmful_cause(("aqi_max", "reporting_share"), sides,  # type: ignore[arg-type]
                         indicator_directions("environment")) is None
