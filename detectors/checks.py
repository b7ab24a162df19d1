"""The conformance suite every detector passes: built-ins here, plugins in their own tests.

Each check takes a *target*: a detector class (built with its defaults), an instance (checked
through fresh clones of it) or a zero-argument factory. A check returns a one-line summary
and raises ``AssertionError`` naming the detector when the contract is broken, so it reads
naturally in pytest::

    import pytest
    from detectors.checks import CHECKS, check_detector
    from my_plugin import MyDetector

    @pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
    def test_conformance(check):
        check(MyDetector)

    def test_everything_at_once():
        check_detector(MyDetector(window=16))

The checks: :func:`check_params` (keyword-only, JSON-able, clone keeps them),
:func:`check_scores_in_range` (finite floats in [0, 1], anomalies included),
:func:`check_score_before_learn` (scoring changes no state; ``update`` is score then learn),
:func:`check_state_round_trip` (``set_state(get_state())`` continues with identical scores),
:func:`check_clone_is_fresh`, :func:`check_seed_reproducible`,
:func:`check_degrades_gracefully` (NaN, inf, None, time gaps and reversals, empty and
incomplete windows, wrong-length vectors), :func:`check_explain`,
:func:`~detectors.checks_batch.check_batch_matches_one_series` (the batch form,
``columns()``, agrees exactly with one-series detectors), :func:`check_bounded_memory`
(object and state size stop growing over a million updates, 50,000 for vector detectors;
tracemalloc over the tail) and
:func:`~detectors.checks_cost.check_bounded_work` (a ceiling on the work per update, counted
in bytecode instructions and C calls, not timed: 10,000 for per-key detectors, 200,000 for
vector detectors, which run once per group and window). :func:`check_throughput` times
updates per second against a floor; it is not in :data:`CHECKS` (a timed check fails on a
busy machine): ``ioc detectors check --min-rate`` and ``benchmarks/detector_rates.py`` run it.

>>> from detectors.statistical import RobustZScore
>>> check_scores_in_range(RobustZScore)
'593 scores in [0, 1], max 1.000'
>>> [r.passed for r in run_checks(RobustZScore(window=8), memory_updates=20_000)][:3]
[True, True, True]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.checks_batch import check_batch_matches_one_series
from detectors.checks_contract import (
    check_clone_is_fresh,
    check_degrades_gracefully,
    check_explain,
    check_params,
    check_score_before_learn,
    check_scores_in_range,
    check_seed_reproducible,
    check_state_round_trip,
)
from detectors.checks_cost import MAX_WORK, MAX_WORK_VECTOR, check_bounded_work
from detectors.checks_resources import (
    MEMORY_UPDATES,
    MEMORY_UPDATES_VECTOR,
    MIN_RATE,
    MIN_RATE_VECTOR,
    check_bounded_memory,
    check_throughput,
    deep_size,
)
from detectors.checks_streams import Target, stream

# the checks live by what they check: checks_contract.py, checks_batch.py, checks_resources.py
# (their streams and drivers in checks_streams.py); every name stays importable from here
__all__ = [
    "CHECKS",
    "MAX_WORK",
    "MAX_WORK_VECTOR",
    "MEMORY_UPDATES",
    "MEMORY_UPDATES_VECTOR",
    "MIN_RATE",
    "MIN_RATE_VECTOR",
    "CheckResult",
    "Target",
    "check_batch_matches_one_series",
    "check_bounded_memory",
    "check_bounded_work",
    "check_clone_is_fresh",
    "check_degrades_gracefully",
    "check_detector",
    "check_explain",
    "check_params",
    "check_score_before_learn",
    "check_scores_in_range",
    "check_seed_reproducible",
    "check_state_round_trip",
    "check_throughput",
    "deep_size",
    "run_checks",
    "stream",
]

CHECKS: tuple[Callable[[Target], str], ...] = (
    check_params,
    check_scores_in_range,
    check_score_before_learn,
    check_state_round_trip,
    check_clone_is_fresh,
    check_seed_reproducible,
    check_degrades_gracefully,
    check_explain,
    check_batch_matches_one_series,
    check_bounded_memory,
    check_bounded_work,
)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check on one detector."""

    check: str
    passed: bool
    message: str
    seconds: float


def run_checks(
    target: Target,
    *,
    checks: Sequence[Callable[..., str]] = CHECKS,
    memory_updates: int | None = None,
    min_rate: float | None = None,
    max_work: int | None = None,
) -> list[CheckResult]:
    """Run ``checks`` on ``target``; never raises for a failing check (see ``passed``).
    ``min_rate`` is for :func:`check_throughput`, run only when ``checks`` includes it."""
    out = []
    for check in checks:
        kw: dict[str, Any] = {}
        if check is check_bounded_memory:
            kw["n"] = memory_updates
        elif check is check_throughput:
            kw["min_rate"] = min_rate
        elif check is check_bounded_work:
            kw["max_work"] = max_work
        start = time.perf_counter()
        try:
            msg, ok = check(target, **kw), True
        except AssertionError as exc:
            msg, ok = str(exc), False
        except Exception as exc:
            msg, ok = f"raised {type(exc).__name__}: {exc}", False
        name = check.__name__.removeprefix("check_")
        out.append(CheckResult(name, ok, msg, time.perf_counter() - start))
    return out


def check_detector(target: Target, **options: Any) -> list[CheckResult]:
    """Run the whole suite; ``AssertionError`` listing every failed check if any fails."""
    results = run_checks(target, **options)
    failed = [r for r in results if not r.passed]
    if failed:
        raise AssertionError("; ".join(f"{r.check}: {r.message}" for r in failed))
    return results
