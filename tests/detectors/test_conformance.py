"""The public conformance suite (detectors/checks.py) over every built-in detector, and its
power to catch detectors that break the contract."""

from __future__ import annotations

from collections.abc import Callable

import detector_plugin_samples as samples
import pytest

from detectors.base import Detector, VectorDetector
from detectors.checks import (
    CHECKS,
    check_bounded_memory,
    check_degrades_gracefully,
    check_detector,
    check_score_before_learn,
    check_scores_in_range,
    check_state_round_trip,
    deep_size,
    run_checks,
)
from detectors.registry import load_all
from detectors.statistical import RobustZScore

REGISTRY = load_all(require=True)
BUILT_IN = sorted(n for n in REGISTRY.names() if REGISTRY.plugin(n).origin == "ioc-monitor")
FAST_CHECKS = [c for c in CHECKS if c is not check_bounded_memory]


def built_in(name: str) -> type[Detector]:
    return REGISTRY.get(name)


@pytest.mark.parametrize("check", FAST_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_detector_passes(name: str, check: Callable[..., str]) -> None:
    check(built_in(name))


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
