"""NAB's scoring rules (detectors/nab.py) on small hand-made files."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import nab


def test_scaled_sigmoid_matches_nab_reference_points() -> None:
    """-1 (window start) ≈ 0.98661, -0.5 ≈ 0.84828, 0 (end) = 0, past 3 widths = -1."""
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert nab.scaled_sigmoid(0.0) == 0.0
    assert nab.scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(3.0001) == -1.0


def test_probation_is_fifteen_percent_capped_at_750_rows() -> None:
    assert nab.probation_length(4032) == 604
    assert nab.probation_length(5000) == 750
    assert nab.probation_length(22695) == 750


def test_early_detection_earns_more_than_late() -> None:
    series = nab.Labelled("f", n=1000, windows=((500, 599),))
    sw = nab.sweep(series, nab.STANDARD)
    early, late = np.zeros(1000), np.zeros(1000)
    early[500], late[590] = 1.0, 1.0
    s_early = nab.file_score(early, sw, 0.5).score
    s_late = nab.file_score(late, sw, 0.5).score
    assert s_early == pytest.approx(1.0)  # first row of the window earns tpWeight
    assert 0.0 < s_late < 0.5 < s_early


def test_window_counts_once_and_missed_window_costs_fn() -> None:
    series = nab.Labelled("f", n=1000, windows=((500, 599),))
    sw = nab.sweep(series, nab.LOW_FN)
    many = np.zeros(1000)
    many[500:600] = 1.0
    assert nab.file_score(many, sw, 0.5).score == pytest.approx(1.0)
    assert nab.file_score(np.zeros(1000), sw, 0.5).score == pytest.approx(-2.0)


def test_false_positive_cost_depends_on_distance_from_previous_window() -> None:
    series = nab.Labelled("f", n=1000, windows=((500, 599),))
    sw = nab.sweep(series, nab.STANDARD)
    assert sw.gain[300] == pytest.approx(-0.11)  # no preceding window: full cost
    assert -0.02 < sw.gain[600] < 0.0  # just after a window: nearly free
    assert sw.gain[990] == pytest.approx(-0.11, abs=1e-4)  # far after: full cost


def test_probationary_rows_and_windows_are_ignored() -> None:
    series = nab.Labelled("f", n=1000, windows=((10, 50), (500, 599)))
    sw = nab.sweep(series, nab.STANDARD)
    assert sw.windows == 1  # the window inside the first 150 rows does not count
    scores = np.zeros(1000)
    scores[:150] = 1.0  # detections in probation cost nothing
    assert nab.file_score(scores, sw, 0.5).score == pytest.approx(-1.0)


def test_windows_located_like_nab_in_out_of_order_rows() -> None:
    """NAB's files have rows out of order; a window closes at the first later row stamped end."""
    t = np.array(["2020-01-01T00:00", "2020-01-01T00:05", "2020-01-01T00:01", "2020-01-01T00:06"])
    times = t.astype("datetime64[s]")
    lab = nab.Labelled.from_times("f", times, [(times[0], times[2])])
    assert lab.windows == ((0, 2),)


def test_bad_windows_rejected() -> None:
    with pytest.raises(ValueError, match="overlap"):
        nab.Labelled("f", n=100, windows=((10, 20), (15, 30)))
    with pytest.raises(ValueError, match="outside"):
        nab.Labelled("f", n=100, windows=((90, 120),))


def test_profiles_from_json_rejects_missing_weights() -> None:
    with pytest.raises(ValueError, match="fnWeight"):
        nab.profiles_from_json({"p": {"CostMatrix": {"tpWeight": 1, "fpWeight": 0.1}}})


def test_null_detector_scores_minus_fn_per_window_and_normalises_to_zero() -> None:
    files = [nab.Labelled("a", 1000, ((400, 450), (700, 760))), nab.Labelled("b", 800, ())]
    sweeps = [nab.sweep(f, nab.STANDARD) for f in files]
    null = nab.null_score(sweeps)
    assert null == pytest.approx(-2.0)
    assert nab.normalise(null, null=null, perfect=2.0) == 0.0
    assert nab.normalise(2.0, null=null, perfect=2.0) == 100.0


def _random_corpus(seed: int) -> tuple[list[np.ndarray], list[nab.Sweep]]:
    rng = np.random.default_rng(seed)
    scores, sweeps = [], []
    for k in range(3):
        n = int(rng.integers(200, 600))
        starts = sorted(rng.choice(np.arange(20, n - 40, 40), size=2, replace=False))
        wins = tuple((int(a), int(a) + int(rng.integers(1, 30))) for a in starts)
        sweeps.append(nab.sweep(nab.Labelled(f"f{k}", n, wins), nab.STANDARD))
        # coarse scores so that thresholds tie across rows
        scores.append(np.round(rng.random(n) ** 4, 2))
    return scores, sweeps


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_sweep_curve_equals_direct_scoring_at_every_threshold(seed: int) -> None:
    """The O(N log N) corpus sweep agrees with scoring each file at each threshold."""
    scores, sweeps = _random_corpus(seed)
    curve = nab.score_curve(scores, sweeps)
    for thr, total in zip(curve.thresholds[::7], curve.scores[::7], strict=True):
        assert total == pytest.approx(nab.score_at(scores, sweeps, float(thr)), abs=1e-9)
    best = nab.best_threshold(curve)
    assert best.score == pytest.approx(float(curve.scores.max()))
    assert math.isclose(curve.at(best.threshold), best.score)
