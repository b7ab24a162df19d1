"""The 'adaptive' detector (detectors/adaptive.py): novelty against the remembered range."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from detectors.adaptive import AdaptiveNovelty
from detectors.checks import run_checks

NAB = (
    Path(os.environ["IOC_NAB_DIR"])
    if os.environ.get("IOC_NAB_DIR")
    else Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab"
)


def fed(
    values: list[float], det: AdaptiveNovelty | None = None, step: float = 300.0, t0: float = 0.0
) -> tuple[AdaptiveNovelty, list[float]]:
    """A detector fed ``values`` one every ``step`` seconds from ``t0``; (detector, scores)."""
    d = det or AdaptiveNovelty(memory=500, warmup=20)
    scores = [d.update(v, ts=t0 + step * i) for i, v in enumerate(values)]
    return d, scores


def noisy(n: int, seed: int = 1, noise: float = 1.0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(50.0 + 10.0 * np.sin(np.arange(n) / 20.0) + rng.normal(0.0, noise, n))


def test_passes_the_conformance_suite() -> None:
    """The public suite (`ioc detectors check adaptive` runs it with the default memory and a
    million updates); a small memory fills within the short bounded-memory run here."""
    results = run_checks(AdaptiveNovelty(memory=500), memory_updates=20_000)
    failed = [f"{r.check}: {r.message}" for r in results if not r.passed]
    assert not failed


def test_visited_territory_scores_near_zero_however_noisy() -> None:
    d, scores = fed(noisy(2000, noise=3.0))
    late = np.array(scores[300:])
    assert np.median(late) < 1e-3
    assert (late > 0.5).mean() < 0.01  # only the odd new extreme of the noise itself
    assert d.score_one(50.0, ts=1e7) < 1e-3


def test_new_territory_scores_high_and_is_explained() -> None:
    d, _ = fed(noisy(600))
    s = d.score_one(120.0, ts=600 * 300.0)
    assert s > 0.99
    e = d.explain()
    assert e.raw > d.threshold and e.threshold == d.threshold
    assert e.baseline == pytest.approx(max(d._values.sorted))  # the nearest remembered value
    assert len(e.contributing) == 32


def test_score_is_scale_free() -> None:
    """The same shape in other units scores the same: novelty is a share of the range."""
    base = noisy(400)
    _, a = fed([*base, 80.0])
    _, b = fed([1000.0 * v - 7.0 for v in [*base, 80.0]])
    assert a[-1] == pytest.approx(b[-1], abs=1e-9)


def test_alarm_memory_quiets_repeats_but_lets_escalations_through() -> None:
    d = AdaptiveNovelty(memory=500, warmup=20, quiet_rows=60, escalate=3.0)
    _, _ = fed(noisy(400, noise=0.1), d, step=60.0)
    t0 = 400 * 60.0
    assert d.update(80.0, ts=t0) > 0.9  # the alarm
    assert d.update(85.0, ts=t0 + 60) == 0.0  # a little further, in the quiet 60 readings
    assert d.explain().detail["suppressed"] == "yes"
    assert d.update(300.0, ts=t0 + 120) > 0.9  # far more novel: an escalation
    assert d.update(310.0, ts=t0 + 1000) < 0.9  # no alarm again after the escalation
    assert d.update(400.0, ts=t0 + 120 + 3601) > 0.9  # the quiet hour is over


def test_new_level_is_absorbed_and_forgotten_territory_becomes_novel() -> None:
    d, _ = fed(noisy(300, noise=0.1), AdaptiveNovelty(memory=300, warmup=20))
    shifted = [v + 100.0 for v in noisy(400, seed=2, noise=0.1)]
    _, s = fed(shifted, d, t0=300 * 300.0)
    assert s[0] > 0.9  # the shift alarms once ...
    assert sum(v > 0.5 for v in s[1:]) <= 2  # ... then the new level is normal
    assert d.score_one(50.0, ts=1e9) > 0.9  # the old level left the memory: novel again


def test_non_finite_values_score_zero_and_are_not_learned() -> None:
    d, _ = fed(noisy(100))
    state = d.get_state()
    for bad in (math.nan, math.inf, None):
        assert d.update(bad, ts=1e6) == 0.0  # type: ignore[arg-type]
    assert d.get_state() == state


def test_state_round_trip_rebuilds_the_sorted_memory() -> None:
    d, _ = fed(noisy(700), AdaptiveNovelty(memory=200, warmup=20))
    twin = AdaptiveNovelty(memory=200, warmup=20)
    twin.set_state(d.get_state())
    for i, v in enumerate([55.0, 75.0, 20.0, 61.0]):
        assert twin.update(v, ts=1e6 + i) == d.update(v, ts=1e6 + i)


def test_a_missing_daily_pattern_alarms_through_the_day_mean() -> None:
    """Half the day at 80, half at 20; when the 80 half fails to come, every value is
    well-visited territory, but the mean of the last day is new: the day signal alarms."""
    rng = np.random.default_rng(3)
    day = 288  # five-minute readings
    d = AdaptiveNovelty()
    for i in range(10 * day):
        v = (80.0 if i % day >= day // 2 else 20.0) + rng.normal(0.0, 1.0)
        d.update(v, ts=300.0 * i)
    t0 = 10 * day
    scores = []
    for j in range(day):
        v = 20.0 + rng.normal(0.0, 1.0)
        s = d.score_one(v, ts=300.0 * (t0 + j))
        if s > 0.9:
            break
        scores.append(s)
        d.learn_one(v, ts=300.0 * (t0 + j))
    e = d.explain()
    assert e.score > 0.9 and day // 2 <= len(scores) < day // 2 + 12  # within the first hour
    assert float(e.detail["day_novelty"]) >= d.day_threshold
    assert max(scores) < 0.5  # the values themselves were never novel


def test_day_mean_survives_a_state_round_trip() -> None:
    d, _ = fed(noisy(2000), AdaptiveNovelty(memory=300, warmup=20, day_memory=50))
    assert len(d._days.means) == 50  # 2,000 five-minute readings: a week of half-hour buckets
    twin = AdaptiveNovelty(memory=300, warmup=20, day_memory=50)
    twin.set_state(d.get_state())
    for i, v in enumerate([55.0, 75.0, 20.0, 61.0, 50.0]):
        t = 2000 * 300.0 + 1800.0 * i  # each reading opens a new bucket
        assert twin.update(v, ts=t) == d.update(v, ts=t)
        assert twin.explain().detail == d.explain().detail


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"memory": 1}, "memory"),
        ({"threshold": 0.0}, "threshold"),
        ({"quiet_rows": -1}, "quiet_rows"),
        ({"quiet_rows": 1.5}, "quiet_rows"),
        ({"rarity": 0.0}, "rarity"),
        ({"rarity_memory": 1}, "rarity_memory"),
        ({"escalate": 0.5}, "escalate"),
        ({"warmup": 1}, "warmup"),
        ({"memory": 100, "warmup": 200}, "warmup"),
        ({"day": 0.0}, "day"),
        ({"day_threshold": -1.0}, "day_threshold"),
        ({"day_memory": 1}, "day_memory"),
    ],
)
def test_bad_parameters_are_rejected_with_their_name(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AdaptiveNovelty(**params)


@pytest.mark.skipif(not (NAB / "labels").is_dir(), reason=f"NAB corpus not found at {NAB}")
def test_scores_well_on_a_small_nab_subset() -> None:
    """Three NAB files (a spike, a drop, a level jump) through the real evaluation path."""
    from detectors.evaluation import evaluate, load_corpus, run_corpus

    files = [
        "realKnownCause/ec2_request_latency_system_failure.csv",
        "realTraffic/speed_t4013.csv",
        "artificialWithAnomaly/art_daily_jumpsup.csv",
    ]
    corpus = load_corpus(NAB, files=files)
    report = evaluate(corpus, run_corpus(AdaptiveNovelty, corpus), detector="adaptive")
    assert report.profiles["standard"].normalised > 70.0
    assert report.profiles["reward_low_FN_rate"].normalised > 70.0


def test_the_quiet_period_follows_the_learned_cadence() -> None:
    """60 quiet readings are an hour of one-minute readings and five hours of five-minute ones."""
    for step in (60.0, 300.0):
        d = AdaptiveNovelty(memory=500, warmup=20, quiet_rows=60, escalate=1e9)
        fed(noisy(400, noise=0.1), d, step=step)
        t0 = 400 * step
        assert d.update(80.0, ts=t0) > 0.9
        assert d.update(90.0, ts=t0 + 59 * step) == 0.0  # still within 60 readings
        assert d.update(100.0, ts=t0 + 61 * step) > 0.9  # past them


def test_a_novelty_common_on_this_series_is_not_rare_enough_to_alarm() -> None:
    """A series that sets a new maximum every reading (a ramp) is novel each time but never
    rare: the calibrated level stays below the alarm; a one-off jump on a calm series alarms."""
    _, scores = fed([float(i) for i in range(600)], AdaptiveNovelty(memory=500, warmup=20))
    assert max(scores[200:]) < 0.9
    _, calm = fed([*noisy(600, noise=0.1), 90.0], AdaptiveNovelty(memory=500, warmup=20))
    assert calm[-1] > 0.9
