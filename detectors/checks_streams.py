"""What the conformance checks feed a detector, and how they drive and judge it.

:func:`stream` is a reproducible mix of steps suited to a detector (values, windows or vectors
with a daily pattern, a level shift, spikes, a flatline and a silence), :func:`hostile_stream`
the same with NaN, inf, None, time jumps and reversals, broken windows and wrong-length vectors
mixed in. A step is ``(verb, input, ts)``; :func:`apply_step`, :func:`score_step` and
:func:`learn_step` call the matching verb. :func:`target_factory` turns what a check is given
(a class, an instance or a factory) into a factory of fresh detectors, and :func:`failure`
words an ``AssertionError`` that names the detector.

>>> from detectors.statistical import RobustZScore
>>> det = RobustZScore()
>>> steps = list(stream(det, 50))
>>> sorted({verb for verb, _, _ in steps}), all(0.0 <= apply_step(det, s) <= 1.0 for s in steps)
(['value', 'window'], True)
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Callable, Iterator
from typing import Any

from detectors.base import Detector, VectorDetector, WindowStats

__all__ = [
    "VECTOR_WIDTH",
    "Step",
    "Target",
    "apply_step",
    "failure",
    "hostile_stream",
    "learn_step",
    "same_score",
    "score_step",
    "stream",
    "target_factory",
    "valid_score",
]

Target = type[Detector] | Detector | Callable[[], Detector]
Step = tuple[str, Any, float]  # ("value", x, ts) | ("window", WindowStats, ts) | ("vector", v, ts)

VECTOR_WIDTH = 3


def target_factory(target: Target) -> Callable[[], Detector]:
    """A factory of fresh detectors: the class itself, an instance's ``clone`` or the factory."""
    if isinstance(target, Detector):
        return target.clone
    if inspect.isclass(target):
        if not issubclass(target, Detector):
            raise TypeError(f"{target!r} is not a Detector subclass")
        return target
    if callable(target):
        return target
    raise TypeError(f"cannot check {target!r}: pass a Detector class, instance or factory")


def _name(det: Detector) -> str:
    return f"{getattr(det, 'name', '?')} ({type(det).__name__})"


def failure(det: Detector, msg: str) -> AssertionError:
    """An ``AssertionError`` whose message starts with the detector's name and class."""
    return AssertionError(f"{_name(det)}: {msg}")


# --- test streams -------------------------------------------------------------------------------
def stream(det: Detector, n: int = 600, *, seed: int = 0, cadence: float = 60.0) -> Iterator[Step]:
    """A reproducible mix of steps suited to ``det``: a noisy daily pattern, a level shift at
    40%, spikes, a flatline, a silence, plus some steps through the other verbs.

    Value detectors get mostly single values, window detectors mostly windows (some empty),
    vector detectors mostly ``VECTOR_WIDTH``-long vectors.
    """
    rng = random.Random(seed)
    vector = isinstance(det, VectorDetector)
    window = det.input == "window"
    for i in range(n):
        ts = 1_700_000_000.0 + cadence * i
        level = 50.0 + 10.0 * math.sin(2 * math.pi * i / 1440.0) + (15.0 if i > 0.4 * n else 0.0)
        x = level + rng.gauss(0.0, 2.0)
        if i % 97 == 50:
            x += 60.0  # spike
        if 0.7 * n < i < 0.7 * n + 30:
            x = 42.0  # flatline
        silent = 0.8 * n < i < 0.8 * n + 10
        r = rng.random()
        if vector and r < 0.95:
            yield "vector", [x, 0.5 * x + rng.gauss(0, 1), 100.0 - x], ts
        elif (window and r < 0.9) or (not window and not vector and r > 0.85):
            if silent:
                yield "window", WindowStats.empty(ts - cadence, ts), ts
            else:
                vals = [x] * 6 if x == 42.0 else [x + rng.gauss(0, 1) for _ in range(6)]
                kind: Any = "count" if i % 11 == 0 else "measure"
                yield "window", WindowStats.of(vals, ts - cadence, ts, kind=kind), ts
        elif not silent:
            yield "value", x, ts


def apply_step(det: Detector, step: Step) -> float:
    """Score then learn one step through its verbs (as ``update``, ``update_window``, ...)."""
    score = score_step(det, step)
    learn_step(det, step)
    return score


def score_step(det: Detector, step: Step) -> float:
    """Score one step through its verb, without learning."""
    kind, x, ts = step
    if kind == "value":
        return det.score_one(x, ts)
    if kind == "window":
        return det.score_window(x)
    assert isinstance(det, VectorDetector)
    return det.score_vector(x, ts)


def learn_step(det: Detector, step: Step) -> None:
    """Learn one step through its verb."""
    kind, x, ts = step
    if kind == "value":
        det.learn_one(x, ts)
    elif kind == "window":
        det.learn_window(x)
    else:
        assert isinstance(det, VectorDetector)
        det.learn_vector(x, ts)


def valid_score(det: Detector, s: object, where: str) -> float:
    """``s`` if it is a float in [0, 1], else the :func:`failure` that says so."""
    if not isinstance(s, float) or not 0.0 <= s <= 1.0:
        raise failure(det, f"score must be a float in [0, 1], got {s!r} ({where})")
    return s


def same_score(a: float, b: float) -> bool:
    """Equal scores (NaN equals NaN)."""
    return a == b or (a != a and b != b)


def hostile_stream(det: Detector) -> Iterator[Step]:
    """Normal steps, then NaN, inf, None, huge values, time jumps and reversals, broken and
    empty windows, wrong-length vectors (for a vector detector), then normal steps again."""
    nan, inf = math.nan, math.inf
    t0 = 1_700_000_000.0
    for i, step in enumerate(stream(det, 200, seed=4)):
        yield step
        if i == 100:
            break
    t = t0 + 101 * 60.0
    for x in (nan, inf, -inf, None, 1e300, -1e300, 0.0, 1e-300, 55.0):
        yield "value", x, t
    for ts in (t + 30 * 86400, t - 86400, t - 86400, nan, inf, 0.0, t + 31 * 86400):
        yield "value", 50.0, ts
    w = t + 31 * 86400
    incomplete = WindowStats(w, w + 60, 3, nan, nan, nan, nan, nan)
    yield "window", incomplete, w + 60
    yield "window", WindowStats(w, w + 60, 3, 50.0, nan, nan, 50.0, nan), w + 60
    yield "window", WindowStats.empty(w + 60, w + 120), w + 120
    yield "window", WindowStats.empty(w + 120, w + 180, kind="count"), w + 180
    yield "window", WindowStats(w + 180, w + 240, 10**9, nan, nan, nan, nan, nan, "count"), w + 240
    yield "window", WindowStats(w + 240, w + 60, 2, inf, -inf, inf, inf, nan), w + 60
    if isinstance(det, VectorDetector):
        for v in ([nan] * VECTOR_WIDTH, [1.0], [], [inf, -inf, None] + [0.0] * (VECTOR_WIDTH - 3),
                  [1.0] * (VECTOR_WIDTH + 2)):
            yield "vector", v, w + 300
    for step in stream(det, 300, seed=5):
        yield step
