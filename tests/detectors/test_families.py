"""Behaviour of each built-in detector family on data shaped like the catalog's metrics."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import WindowStats
from detectors.changepoint import CUSUM, EWMAShift
from detectors.counts import CountSurge, poisson_log10_sf
from detectors.forest import IsolationForest
from detectors.health import Silence, StuckValue
from detectors.rules import PhysicalRange, StaticThreshold
from detectors.seasonal import SeasonalBaseline, season_slot
from detectors.statistical import RobustZScore, _kth_deviation
from ioc.catalog import group

T0 = 1_735_689_600.0  # 2025-01-01 00:00 UTC, a Wednesday


def gauss_stream(n: int, mean: float = 50.0, sd: float = 2.0, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, sd) for _ in range(n)]


# --- robust z --------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, 2.5, -3.0]) | st.floats(-1e6, 1e6), min_size=1,
                max_size=64), st.data())
def test_kth_deviation_is_the_kth_smallest_absolute_deviation(values: list[float],
                                                              data: st.DataObject) -> None:
    s = sorted(values)
    med = s[len(s) // 2]
    k = data.draw(st.integers(1, len(s)))
    assert _kth_deviation(s, med, k) == sorted(abs(v - med) for v in s)[k - 1]


def test_robust_z_flags_a_spike_and_rarely_fires_on_gaussian_noise() -> None:
    d = RobustZScore()
    scores = [d.update(x, T0 + 60 * i) for i, x in enumerate(gauss_stream(5000))]
    assert sum(s >= 0.9 for s in scores) / len(scores) < 0.01
    assert d.score_one(50.0 + 2.0 * 8, T0) > 0.99


def test_robust_z_baseline_is_the_median_and_ignores_one_earlier_outlier() -> None:
    d = RobustZScore(window=9, min_samples=5)
    for x in [10.0, 11.0, 9.0, 500.0, 10.0, 11.0, 9.0, 10.0]:
        d.update(x, 0.0)
    assert d.score_one(10.5, 0.0) < 0.01  # the 500 did not drag the baseline
    assert d.explain().baseline == 10.0
    assert d.score_one(30.0, 0.0) > 0.99


def test_robust_z_on_a_constant_window_falls_back_to_min_scale() -> None:
    d = RobustZScore(min_samples=4, min_scale=0.5)
    for _ in range(10):
        d.update(7.0, 0.0)
    assert d.score_one(7.0, 0.0) == 0.0
    assert d.score_one(7.0 + 0.5 * d.threshold, 0.0) == pytest.approx(0.9)


def test_robust_z_memory_is_a_fixed_ring() -> None:
    d = RobustZScore(window=16)
    for i, x in enumerate(gauss_stream(1000)):
        d.update(x, float(i))
    assert len(d.recent()) == 16 and d.recent()[-1] == d.explain().contributing[-1]


# --- EWMA and CUSUM --------------------------------------------------------------------------
def test_ewma_catches_a_three_sigma_level_shift_within_three_updates() -> None:
    d = EWMAShift()
    noise = gauss_stream(400, 50.0, 1.0, seed=1)
    pre = [d.update(x, float(i)) for i, x in enumerate(noise)]
    assert max(pre[50:]) < 0.9
    post = [d.update(x + 3.0, 400.0 + i) for i, x in enumerate(gauss_stream(5, 50, 1, seed=2))]
    assert max(post[:3]) >= 0.9


def test_cusum_catches_a_one_sigma_drift_that_robust_z_misses() -> None:
    cusum, rz = CUSUM(), RobustZScore()
    for i, x in enumerate(gauss_stream(400, 6.5, 0.25, seed=3)):  # dissolved oxygen, mg/L
        cusum.update(x, float(i))
        rz.update(x, float(i))
    shifted = gauss_stream(40, 6.5 - 0.25, 0.25, seed=4)  # one sigma lower, sustained
    c = [cusum.update(x, 400.0 + i) for i, x in enumerate(shifted)]
    r = [rz.update(x, 400.0 + i) for i, x in enumerate(shifted)]
    first = next(i for i, s in enumerate(c) if s >= 0.9)
    assert first < 30 and max(r) < 0.9  # h = 10: about 20 windows for a 1-sigma shift
    assert cusum.explain().detail["direction"] == "down"


def test_cusum_clears_after_the_series_returns() -> None:
    d = CUSUM()
    for i, x in enumerate(gauss_stream(300, 10.0, 1.0, seed=5)):
        d.update(x, float(i))
    for i in range(20):
        d.update(14.0, 300.0 + i)
    back = [d.update(x, 320.0 + i) for i, x in enumerate(gauss_stream(40, 10, 1, seed=6))]
    assert back[0] >= 0.9 and back[-1] < 0.5


# --- seasonal --------------------------------------------------------------------------------
def test_season_slot_follows_da_nang_local_time_and_weekends() -> None:
    assert season_slot(T0) == 7  # 07:00 local on a Wednesday
    assert season_slot(T0 + 3 * 86400 + 3 * 3600) == 24 + 10  # Saturday 10:00 local


def _traffic_volume(days: int, seed: int = 0) -> list[tuple[float, float]]:
    spec = group("traffic").metric("volume")
    rng = random.Random(seed)
    out = []
    for i in range(days * 24 * 4):  # every 15 minutes
        ts = T0 + 900.0 * i
        out.append((ts, spec.expected(ts) * (1 + rng.gauss(0, spec.noise))))
    return out


def test_seasonal_learns_rush_hour_so_only_out_of_hour_levels_score() -> None:
    d = SeasonalBaseline()
    for ts, x in _traffic_volume(21):
        d.update(x, ts)
    spec = group("traffic").metric("volume")
    rush = T0 + 21 * 86400 + (7 - 7) * 3600  # Wednesday 07:00 local (UTC midnight)
    night = rush + 20 * 3600  # 03:00 local on Thursday
    assert d.score_one(spec.expected(rush), rush) < 0.1
    assert d.score_one(spec.expected(rush), night) > 0.99  # a rush-hour load at 3 am
    assert d.explain().detail["slot"] == "weekday 03h"


def test_seasonal_rarely_fires_on_normal_days() -> None:
    d = SeasonalBaseline()
    data = _traffic_volume(28, seed=1)
    scores = [d.update(x, ts) for ts, x in data]
    late = scores[len(scores) // 2 :]
    assert sum(s >= 0.9 for s in late) / len(late) < 0.01


def test_seasonal_scores_windows_at_their_midpoint() -> None:
    d = SeasonalBaseline(min_samples=1)
    start = T0 + 3600 - 60  # the window 07:59-08:00 local belongs to 07h, not 08h
    d.learn_window(WindowStats.of([5.0], start, start + 60))
    assert d._n[7] == 1 and d._n[8] == 0


# --- stuck and silence -----------------------------------------------------------------------
def _win(t: float, vals: list[float]) -> WindowStats:
    return WindowStats.of(vals, t, t + 60)


def test_stuck_counts_identical_readings_across_windows_and_live_windows_reset() -> None:
    d = StuckValue(threshold=12)
    assert d.update_window(_win(0, [7.2] * 6)) < 0.1
    assert d.update_window(_win(60, [7.2] * 6)) == pytest.approx(0.9)
    assert d.explain().raw == 12.0 and d.health
    assert d.update_window(_win(120, [7.1, 7.3, 7.2, 7.2, 7.2, 7.2])) == 0.0


def test_stuck_ignores_legitimately_constant_values_and_counted_windows() -> None:
    dry = StuckValue(threshold=5, ignore=(0.0,))
    assert max(dry.update_window(_win(60 * i, [0.0] * 6)) for i in range(10)) == 0.0
    counts = StuckValue(threshold=5)
    cw = WindowStats.of([1.0] * 6, 0, 60, kind="count")
    assert max(counts.update_window(cw) for _ in range(10)) == 0.0


def test_stuck_tolerance_treats_tiny_jitter_as_identical() -> None:
    d = StuckValue(threshold=10, tolerance=0.01)
    scores = [d.update(7.2 + (0.005 if i % 2 else 0.0), float(i)) for i in range(12)]
    assert scores[-1] > 0.9


def test_silence_on_a_busy_sensor_alerts_within_three_empty_windows() -> None:
    d = Silence()
    for i in range(60):
        d.update_window(_win(60 * i, [1.0] * 6))  # ten-second cadence, one-minute windows
    s = [d.update_window(WindowStats.empty(3600 + 60 * i, 3660 + 60 * i)) for i in range(4)]
    assert s[0] == 0.0 and s[2] >= 0.9 and d.health


def test_silence_waits_longer_for_a_sparse_feed() -> None:
    d = Silence()
    rng = random.Random(7)
    for i in range(300):  # about 0.4 events per window, e.g. hotline tickets at night
        n = sum(rng.random() < 0.08 for _ in range(5))
        d.learn_window(WindowStats.of([1.0] * n, 60.0 * i, 60.0 * (i + 1), kind="count"))
    scores = [d.update_window(WindowStats.empty(0, 60, kind="count")) for _ in range(40)]
    assert max(scores[:5]) < 0.5
    assert scores[-1] >= 0.9


def test_silence_on_single_readings_uses_the_gap_and_does_not_learn_outages() -> None:
    d = Silence()
    for i in range(50):
        d.update(1.0, 10.0 * i)
    assert d.score_one(1.0, 490.0 + 10.0) < 0.001
    assert d.score_one(1.0, 490.0 + 200.0) > 0.99  # 20 intervals of silence
    d.update(1.0, 490.0 + 600.0)  # back after an outage
    assert d.explain().baseline == pytest.approx(10.0, rel=0.05)


# --- count surge -----------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(lam=st.floats(0.01, 60.0), k=st.integers(1, 120))
def test_poisson_tail_matches_a_direct_sum(lam: float, k: int) -> None:
    logs = [-lam + i * math.log(lam) - math.lgamma(i + 1) for i in range(k)]
    below = math.fsum(math.exp(v) for v in logs)
    if below > 0.999:  # far in the tail: sum the upper terms instead
        upper = [-lam + i * math.log(lam) - math.lgamma(i + 1) for i in range(k, k + 400)]
        m = max(upper)
        want = (m + math.log(math.fsum(math.exp(v - m) for v in upper))) / math.log(10)
    else:
        want = math.log10(1.0 - below)
    assert poisson_log10_sf(k, lam) == pytest.approx(want, rel=1e-6, abs=1e-9)


def test_count_surge_is_alarmed_by_rare_events_and_calm_about_busy_noise() -> None:
    rng = np.random.default_rng(0)
    rare, busy = CountSurge(), CountSurge()
    for i, (a, b) in enumerate(zip(rng.poisson(0.01, 2000), rng.poisson(25, 2000), strict=True)):
        rare.update(float(a), 60.0 * i)
        busy.update(float(b), 60.0 * i)
    assert rare.score_one(3, 0.0) > 0.99  # three lost-person reports in one window
    assert rare.score_one(1, 0.0) < 0.1
    assert busy.score_one(33, 0.0) < 0.1  # 33 tickets where 25 are usual
    assert busy.score_one(60, 0.0) > 0.99


def test_count_surge_accounts_for_overdispersion() -> None:
    rng = np.random.default_rng(1)
    poisson, bursty = CountSurge(), CountSurge()
    for i in range(3000):
        poisson.update(float(rng.poisson(10)), float(i))
        bursty.update(float(rng.negative_binomial(2, 2 / 12)), float(i))  # mean 10, var 60
    assert bursty.explain().detail["dispersion"] > 3
    assert bursty.score_one(25, 0.0) < poisson.score_one(25, 0.0)


def test_count_surge_only_scores_surges() -> None:
    d = CountSurge()
    for i in range(100):
        d.update(10.0, float(i))
    assert d.score_one(0, 0.0) == 0.0


# --- isolation forest ------------------------------------------------------------------------
def _pump_station(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    inflow = rng.normal(420, 40, n)
    outflow = inflow * 0.98 + rng.normal(0, 6, n)
    cod = rng.normal(45, 4, n)
    return np.column_stack([inflow, outflow, cod])


def test_forest_isolation_equals_scikit_learn_on_the_whitened_rows() -> None:
    from sklearn.ensemble import IsolationForest as SkForest

    d = IsolationForest(seed=11)
    for row in _pump_station(300, 0):
        d.learn_vector(row.tolist(), 0.0)
    rows = np.frombuffer(d._fit_rows, dtype=np.float64).reshape(-1, 3)
    z = (rows - np.array(d._model.mu)) @ np.array(d._model.w).T
    sk = SkForest(n_estimators=50, max_samples=128,
                  random_state=(11 * 7919 + d._fits - 1) % 2**32).fit(z)
    queries = (_pump_station(50, 1) * np.array([1.0, 1.2, 1.1])).tolist()
    want = -sk.score_samples(np.array([d.transform(q) for q in queries]))
    for q, w in zip(queries, want, strict=True):
        d.score_vector(q, 0.0)
        assert d.explain().detail["isolation"] == pytest.approx(w, abs=1e-12)


def test_forest_whitening_decorrelates_the_sample() -> None:
    d = IsolationForest(seed=5)
    for row in _pump_station(300, 6):
        d.learn_vector(row.tolist(), 0.0)
    rows = np.frombuffer(d._fit_rows, dtype=np.float64).reshape(-1, 3)
    z = np.array([d.transform(r) for r in rows.tolist()])
    assert np.allclose(np.cov(z, rowvar=False), np.eye(3), atol=1e-6)


def test_forest_rarely_fires_on_normal_vectors() -> None:
    d = IsolationForest(seed=4)
    for row in _pump_station(1000, 7):
        d.update_vector(row.tolist(), 0.0)
    scores = [d.score_vector(r.tolist(), 0.0) for r in _pump_station(2000, 8)]
    assert sum(s >= 0.9 for s in scores) / len(scores) < 0.005


def test_forest_flags_a_broken_relation_between_normal_looking_metrics() -> None:
    d = IsolationForest(seed=1)
    for row in _pump_station(600, 2):
        d.update_vector(row.tolist(), 0.0)
    assert d.score_vector([430.0, 421.0, 46.0], 0.0) < 0.5
    assert d.score_vector([480.0, 360.0, 45.0], 0.0) > 0.9  # each in range, relation broken
    assert d.score_vector([430.0, 250.0, 46.0], 0.0) > 0.9  # outflow collapsed
    assert d.explain().raw > d.explain().detail["isolation"]  # beyond the sample's edge


def test_forest_reservoir_is_bounded_and_refits_on_schedule() -> None:
    d = IsolationForest(reservoir=128, min_samples=32, refit_every=256, seed=2)
    for i, row in enumerate(_pump_station(1100, 3)):
        d.learn_vector(row.tolist(), float(i))
    assert len(d._res) == 128 * 3
    assert d.explain().detail["fits"] == 6.0  # at 32, 64, 128, then every 256: 384, 640, 896


def test_forest_imputes_missing_entries_and_ignores_wrong_lengths() -> None:
    d = IsolationForest(seed=3)
    for row in _pump_station(200, 4):
        d.update_vector(row.tolist(), 0.0)
    assert 0.0 <= d.score_vector([math.nan, 410.0, 45.0], 0.0) <= 1.0
    assert d.score_vector([1.0, 2.0], 0.0) == 0.0
    seen = d._seen
    d.learn_vector([1.0, 2.0], 0.0)
    assert d._seen == seen


# --- rules -----------------------------------------------------------------------------------
def test_threshold_and_physical_range_come_from_the_catalog() -> None:
    pm25 = group("environment").metric("pm25")
    t, p = StaticThreshold.from_spec(pm25), PhysicalRange.from_spec(pm25)
    assert (t.above, t.below) == (55.0, None) and (p.low, p.high) == (0.0, 1000.0)
    assert t.score_one(40.0, 0.0) == 0.0 and t.score_one(56.0, 0.0) >= 0.9
    assert p.score_one(1200.0, 0.0) == 1.0 and p.health and not t.health


def test_threshold_below_and_breach_semantics_match_the_catalog() -> None:
    ph = group("environment").metric("ph")
    t = StaticThreshold.from_spec(ph)
    for x in (4.0, 5.5, 7.0, 9.0, 9.5):
        assert (t.score_one(x, 0.0) >= 0.9) == ph.in_breach(x)
    t.score_one(4.0, 0.0)
    assert t.explain().detail["side"] == "below" and t.explain().raw == pytest.approx(1.5)


def test_physical_range_judges_a_window_by_its_extremes() -> None:
    p = PhysicalRange(low=0.0, high=300.0)  # rainfall, mm/h
    w = WindowStats(0, 60, 6, 5.0, -2.0, 9.0, 4.0, 3.0)
    assert p.update_window(w) == 1.0 and p.explain().raw == 2.0
    assert p.update_window(WindowStats.of([1.0, 2.0], 0, 60)) == 0.0


def test_rule_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="below"):
        StaticThreshold(above=1.0, below=2.0)
    with pytest.raises(ValueError, match="finite"):
        PhysicalRange(low=math.nan)


def test_only_sensor_health_detectors_are_marked_health() -> None:
    health = {c.name for c in (StuckValue, Silence, PhysicalRange) if c.health}
    others = [c for c in (StaticThreshold, RobustZScore, EWMAShift, CUSUM, SeasonalBaseline,
                          CountSurge, IsolationForest) if c.health]
    assert health == {"stuck", "silence", "physical_range"} and not others
