"""The public conformance suite (detectors/checks.py) over every built-in detector, and its
power to catch detectors that break the contract."""

from __future__ import annotations

from collections.abc import Callable

import detector_plugin_samples as samples
import pytest

from detectors.base import Detector, VectorDetector
from detectors.changepoint import CUSUM, EWMAShift
from detectors.checks import (
    CHECKS,
    check_batch_matches_one_series,
    check_bounded_memory,
    check_degrades_gracefully,
    check_detector,
    check_score_before_learn,
    check_scores_in_range,
    check_state_round_trip,
    deep_size,
    run_checks,
)
from detectors.counts import CountSurge
from detectors.health import Silence, StuckValue
from detectors.registry import load_all
from detectors.rules import PhysicalRange, StaticThreshold
from detectors.statistical import RobustZScore

REGISTRY = load_all(require=True)
BUILT_IN = sorted(n for n in REGISTRY.names() if REGISTRY.plugin(n).origin == "ioc-monitor")
FAST_CHECKS = [c for c in CHECKS if c not in (check_bounded_memory,
                                               check_batch_matches_one_series)]


def built_in(name: str) -> type[Detector]:
    return REGISTRY.get(name)


@pytest.mark.parametrize("check", FAST_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_detector_passes(name: str, check: Callable[..., str]) -> None:
    check(built_in(name))


@pytest.mark.parametrize("name", REGISTRY.names())
def test_registered_detector_batch_form_matches_one_series(name: str) -> None:
    """Every registered detector (built-ins and installed plugins): ``columns()`` agrees
    exactly with one-series detectors (a vector detector runs a shorter stream: it is slow)."""
    cls = REGISTRY.get(name)
    check_batch_matches_one_series(cls, steps=60 if issubclass(cls, VectorDetector) else 150)


@pytest.mark.parametrize("make", [
    lambda: RobustZScore(window=5, min_samples=3),
    lambda: RobustZScore(window=16, min_samples=4, threshold=3.0),
    lambda: EWMAShift(min_samples=2, fast=0.5),
    lambda: CUSUM(min_samples=3, k=0.2, threshold=3.0),
    lambda: StaticThreshold(above=51.0, below=49.0),
    lambda: StaticThreshold(below=0.5, margin=0.2),
    lambda: PhysicalRange(low=0.0, high=52.0),
    lambda: StuckValue(threshold=4.0, ignore=(0.0, 7.25)),
    lambda: StuckValue(threshold=3.0, tolerance=0.05),
    lambda: Silence(threshold=2.0, min_samples=2, min_windows=1),
    lambda: CountSurge(min_samples=3, threshold=2.0),
], ids=["robust_z-5", "robust_z-16", "ewma", "cusum", "threshold-both", "threshold-below",
        "physical_range", "stuck-ignore", "stuck-tolerance", "silence", "count_surge"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_batch_forms_match_one_series_with_busy_parameters(
        make: Callable[[], Detector], seed: int) -> None:
    """Parameters that make the numpy forms work: short warm-ups, limits inside the data."""
    check_batch_matches_one_series(make, steps=250, seed=seed)


@pytest.mark.parametrize("cls", [samples.Good, samples.OutOfRange, samples.CrashesOnNan,
                                 samples.ForgetsState, samples.Impure, samples.GoodTwin])
def test_plugin_samples_batch_form_is_the_loop_and_matches(cls: type[Detector]) -> None:
    """The default batch form (a loop over clones) of any plugin agrees with it."""
    assert type(cls().columns()).__name__ == "LoopColumns"
    check_batch_matches_one_series(cls)


def test_batch_check_catches_a_batch_form_that_drifts() -> None:
    with pytest.raises(AssertionError, match=r"scored .* in a batch, .* alone"):
        check_batch_matches_one_series(samples.BatchDrifts)


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_detector_memory_is_bounded_over_many_updates(name: str) -> None:
    cls = built_in(name)
    check_bounded_memory(cls, n=10_000 if issubclass(cls, VectorDetector) else 100_000)


@pytest.mark.soak
@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_detector_memory_is_bounded_over_a_million_updates(name: str) -> None:
    """A million updates for per-key detectors, 50,000 vectors for the forest."""
    check_bounded_memory(built_in(name))


def test_checks_accept_an_instance_and_check_clones_of_it() -> None:
    d = RobustZScore(window=8, threshold=3.0)
    for _ in range(50):
        d.update(1.0, 0.0)
    check_state_round_trip(d)
    assert d.recent() == (1.0,) * 8  # the instance itself is untouched


@pytest.mark.parametrize(("cls", "check", "complaint"), [
    (samples.OutOfRange, check_scores_in_range, "float in \\[0, 1\\], got 1.5"),
    (samples.Impure, check_score_before_learn, "score_\\* changed the state"),
    (samples.ForgetsState, check_state_round_trip, "restored copy scored"),
    (samples.CrashesOnNan, check_degrades_gracefully, "raised ValueError: nan!"),
])
def test_checks_catch_a_broken_detector(
    cls: type[Detector], check: Callable[..., str], complaint: str
) -> None:
    with pytest.raises(AssertionError, match=complaint):
        check(cls)


def test_check_detector_lists_every_failed_check() -> None:
    with pytest.raises(AssertionError) as info:
        check_detector(samples.ForgetsState, memory_updates=2000)
    assert "state_round_trip:" in str(info.value)
    results = run_checks(samples.Good, memory_updates=2000)
    assert [r.check for r in results] == [c.__name__.removeprefix("check_") for c in CHECKS]
    assert all(r.passed for r in results), [r for r in results if not r.passed]


def test_deep_size_counts_slots_and_arrays() -> None:
    small, big = RobustZScore(window=8), RobustZScore(window=64)
    for i in range(100):
        small.update(float(i), 0.0)
        big.update(float(i), 0.0)
    assert deep_size(big) - deep_size(small) >= 4 * (64 - 8)  # single-precision rings
