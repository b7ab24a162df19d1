"""Online calibration (detectors/calibration.py), the learned cadence (detectors/cadence.py)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from detectors.cadence import Cadence
from detectors.calibration import TailCalibrator
from detectors.squash import squash_at


def test_level_one_is_the_target_tail_on_any_distribution() -> None:
    """Whatever the statistic's scale or shape, about `target` of new draws reach level 1."""
    rng = np.random.default_rng(0)
    draws: list[Callable[[int], np.ndarray]] = [lambda n: rng.normal(0, 1, n),
                                                lambda n: 1e6 * rng.pareto(1.5, n)]
    for draw in draws:
        cal = TailCalibrator(size=5000, target=0.01, warmup=100)
        for v in draw(5000).tolist():
            cal.observe(v)
        fresh = draw(20000).tolist()
        share = sum(cal.level(v) >= 1.0 for v in fresh) / len(fresh)
        assert 0.005 < share < 0.02
        assert squash_at(1.0, 1.0) == pytest.approx(0.9)


def test_calibrator_uses_only_the_past_and_forgets_beyond_its_size() -> None:
    cal = TailCalibrator(size=100, target=0.05, warmup=10)
    assert cal.level(1e9) == 0.0  # nothing remembered: nothing is rare yet
    for v in range(100):
        cal.observe(float(v))
    assert cal.tail(99.0) == pytest.approx(2 / 101)
    for _ in range(100):
        cal.observe(0.0)  # the old values leave the ring
    assert cal.tail(50.0) == pytest.approx(1 / 101)
    cal.observe(math.nan)
    assert len(cal) == 100


def test_calibrator_state_round_trips_through_ring_and_resort() -> None:
    a = TailCalibrator(size=50, target=0.1, warmup=5)
    for v in np.random.default_rng(1).random(80).tolist():
        a.observe(v)
    b = TailCalibrator(size=50, target=0.1, warmup=5)
    b.ring, b.pos = a.ring[:], a.pos
    b.resort()
    assert [b.level(x) for x in (0.2, 0.9, 2.0)] == [a.level(x) for x in (0.2, 0.9, 2.0)]


@pytest.mark.parametrize(("kw", "word"), [({"size": 1}, "size"), ({"target": 1.0}, "target"),
                                          ({"size": 10, "warmup": 11}, "warmup")])
def test_bad_calibrator_parameters_are_named(kw: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        TailCalibrator(**kw)


def test_cadence_is_the_median_gap_and_ignores_ties_and_late_rows() -> None:
    c = Cadence(size=5)
    for t in (0.0, 60.0, 60.0, 30.0, 120.0, 180.0, 100_000.0):
        c.observe(t)
    assert c.seconds == 60.0 and c.span(10) == 600.0
    with pytest.raises(ValueError, match="size"):
        Cadence(size=0)
