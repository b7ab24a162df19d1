"""The example plugin's own tests: behaviour, then the public conformance suite."""

import pytest
from ioc_detector_example import RateOfChange

from detectors.checks import CHECKS, check_bounded_memory


def test_a_fast_rise_scores_high_and_a_normal_step_low():
    d = RateOfChange()
    for t in range(30):
        d.update(4.0 + 0.2 * (t % 2), ts=60.0 * t)
    assert d.score_one(4.3, ts=1800.0) < 0.1
    assert d.score_one(19.0, ts=1800.0) > 0.9
    assert d.explain().raw > d.threshold


@pytest.mark.parametrize("check", [c for c in CHECKS if c is not check_bounded_memory],
                         ids=lambda c: c.__name__)
def test_conformance(check):
    check(RateOfChange)


def test_memory_stays_bounded():
    check_bounded_memory(RateOfChange, n=100_000)
