"""Alert policies (detectors/policies.py): triggers, gates, composition, state."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.policies import (
    Chain,
    Decision,
    Hysteresis,
    MinDuration,
    Policy,
    RollingQuantile,
    Threshold,
)


def feed(p: Policy, scores: list[float], step: float = 60.0) -> list[bool]:
    return [p.decide(s, ts=i * step).firing for i, s in enumerate(scores)]


def test_threshold_fires_at_and_above_t_and_reports_changes() -> None:
    p = Threshold(0.9)
    assert p.decide(0.5, 0) == Decision(False, False)
    assert p.decide(0.9, 1) == Decision(True, True)
    assert p.decide(0.95, 2) == Decision(True, False)
    assert p.decide(0.2, 3) == Decision(False, True)


def test_nan_scores_never_fire() -> None:
    assert not Threshold(0.5).decide(math.nan, 0).firing
    q = RollingQuantile(0.5, window=4, floor=0.0)
    assert feed(q, [0.3, 0.3, 0.3, math.nan]) == [False, False, False, False]


@pytest.mark.parametrize("bad", [
    lambda: Threshold(1.5), lambda: RollingQuantile(1.0), lambda: RollingQuantile(0.5, window=2),
    lambda: Hysteresis(fire_after=0), lambda: MinDuration(-1),
])
def test_bad_parameters_are_rejected(bad: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        bad()


def test_rolling_quantile_needs_half_a_window_and_the_floor() -> None:
    q = RollingQuantile(0.9, window=10, floor=0.5)
    assert feed(q, [0.1] * 4 + [0.99]) == [False] * 5  # only 4 scores seen before the 0.99
    q = RollingQuantile(0.9, window=10, floor=0.5)
    assert feed(q, [0.1] * 5 + [0.99, 0.4]) == [False] * 5 + [True, False]  # 0.4 < floor


def test_rolling_quantile_forgets_beyond_its_window() -> None:
    q = RollingQuantile(0.9, window=8, floor=0.0)
    feed(q, [0.9] * 8 + [0.1] * 8)
    assert q.quantile() == 0.1
    assert q.decide(0.5, 100).firing


def test_hysteresis_needs_consecutive_runs_to_fire_and_to_clear() -> None:
    p = Threshold(0.8) | Hysteresis(fire_after=3, clear_after=2)
    s = [0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.1, 0.9, 0.1, 0.1, 0.9]
    assert feed(p, s) == [False, False, False, False, False, True, True, True, True, False, False]


def test_min_duration_uses_event_time() -> None:
    p = Threshold(0.8) | MinDuration(300)
    assert feed(p, [0.9] * 7, step=60.0) == [False] * 5 + [True, True]
    p = Threshold(0.8) | MinDuration(300)
    assert feed(p, [0.9, 0.9, 0.1, 0.9, 0.9, 0.9], step=150.0) == [False] * 5 + [True]


def test_gates_compose_left_to_right() -> None:
    p = Threshold(0.8) | Hysteresis(fire_after=2) | MinDuration(60)
    assert isinstance(p, Chain) and len(p.gates) == 2
    assert repr(p) == ("Threshold(t=0.8) | Hysteresis(fire_after=2, clear_after=1) | "
                       "MinDuration(seconds=60.0)")
    assert feed(p, [0.9, 0.9, 0.9, 0.1]) == [False, False, True, False]


def _random_scores(seed: int, n: int) -> list[float]:
    import random

    rng = random.Random(seed)
    return [rng.random() ** 3 for _ in range(n)]


POLICIES: list[Callable[[], Policy]] = [
    lambda: Threshold(0.5),
    lambda: RollingQuantile(0.8, window=20, floor=0.1),
    lambda: Threshold(0.3) | Hysteresis(fire_after=2, clear_after=3),
    lambda: RollingQuantile(0.7, window=10, floor=0.0) | Hysteresis(2, 2) | MinDuration(90),
]


@pytest.mark.parametrize("make", POLICIES)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), cut=st.integers(0, 80))
def test_state_round_trip_continues_identically(
    make: Callable[[], Policy], seed: int, cut: int
) -> None:
    scores = _random_scores(seed, 120)
    a = make()
    feed(a, scores[:cut])
    b = make()
    b.set_state(a.get_state())
    rest = [(s, 60.0 * (cut + i)) for i, s in enumerate(scores[cut:])]
    assert [a.decide(s, t) for s, t in rest] == [b.decide(s, t) for s, t in rest]


@pytest.mark.parametrize("make", POLICIES)
def test_clone_starts_fresh_with_the_same_params(make: Callable[[], Policy]) -> None:
    a = make()
    feed(a, _random_scores(1, 50))
    c, fresh = a.clone(), make()
    assert c.params() == a.params()
    scores = _random_scores(2, 60)
    assert feed(c, scores) == feed(fresh, scores)


def test_chain_rejects_a_state_of_another_shape() -> None:
    with pytest.raises(ValueError):
        (Threshold(0.5) | Hysteresis()).set_state(Threshold(0.5).get_state())
