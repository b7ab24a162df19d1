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
:func:`check_throughput` (a loose floor, not a benchmark: 20,000 updates/s for per-key
detectors, 1,000/s for vector detectors, which run once per group and window).

>>> from detectors.statistical import RobustZScore
>>> check_scores_in_range(RobustZScore)
'593 scores in [0, 1], max 1.000'
>>> [r.passed for r in run_checks(RobustZScore(window=8), memory_updates=20_000)][:3]
[True, True, True]
"""

from __future__ import annotations

import array
import inspect
import json
import math
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.base import Detector, Explanation, VectorDetector, WindowStats
from detectors.checks_batch import check_batch_matches_one_series

__all__ = [
    "CHECKS",
    "MEMORY_UPDATES",
    "MEMORY_UPDATES_VECTOR",
    "MIN_RATE",
    "MIN_RATE_VECTOR",
    "CheckResult",
    "Target",
    "check_batch_matches_one_series",
    "check_bounded_memory",
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

Target = type[Detector] | Detector | Callable[[], Detector]
Step = tuple[str, Any, float]  # ("value", x, ts) | ("window", WindowStats, ts) | ("vector", v, ts)

_MISSING = object()
MEMORY_UPDATES = 1_000_000
MEMORY_UPDATES_VECTOR = 50_000
MIN_RATE = 20_000.0
MIN_RATE_VECTOR = 1_000.0
VECTOR_WIDTH = 3


def _factory(target: Target) -> Callable[[], Detector]:
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


def _fail(det: Detector, msg: str) -> AssertionError:
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


def _apply(det: Detector, step: Step) -> float:
    kind, x, ts = step
    if kind == "value":
        return det.update(x, ts)
    if kind == "window":
        return det.update_window(x)
    assert isinstance(det, VectorDetector)
    return det.update_vector(x, ts)


def _score(det: Detector, step: Step) -> float:
    kind, x, ts = step
    if kind == "value":
        return det.score_one(x, ts)
    if kind == "window":
        return det.score_window(x)
    assert isinstance(det, VectorDetector)
    return det.score_vector(x, ts)


def _learn(det: Detector, step: Step) -> None:
    kind, x, ts = step
    if kind == "value":
        det.learn_one(x, ts)
    elif kind == "window":
        det.learn_window(x)
    else:
        assert isinstance(det, VectorDetector)
        det.learn_vector(x, ts)


def _valid(det: Detector, s: object, where: str) -> float:
    if not isinstance(s, float) or not 0.0 <= s <= 1.0:
        raise _fail(det, f"score must be a float in [0, 1], got {s!r} ({where})")
    return s


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


# --- the checks ---------------------------------------------------------------------------------
def check_params(target: Target) -> str:
    """Constructor parameters are keyword-only with defaults; ``params()`` is JSON-able and
    names exactly them; ``clone()`` keeps them and the class."""
    det = _factory(target)()
    cls = type(det)
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise _fail(det, f"constructor parameter {p.name!r} must be keyword-only")
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty:
            raise _fail(det, f"constructor parameter {p.name!r} needs a default")
    params = det.params()
    if set(params) != set(cls.param_names()):
        raise _fail(det, f"params() keys {sorted(params)} != parameters {cls.param_names()}")
    try:
        json.dumps(params, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _fail(det, f"params() is not JSON-able: {exc}") from None
    twin = det.clone()
    if type(twin) is not cls or twin.params() != params:
        raise _fail(det, "clone() must give the same class and params")
    for attr in ("name", "version"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise _fail(det, f"class attribute {attr!r} must be a non-empty string")
    return f"{len(params)} params: {', '.join(params) or '-'}"


def check_scores_in_range(target: Target) -> str:
    """Every score over a stream with shifts, spikes, a flatline and a silence is a finite
    float in [0, 1]."""
    det = _factory(target)()
    top = 0.0
    n = 0
    for step in stream(det):
        top = max(top, _valid(det, _apply(det, step), f"{step[0]} step {n}"))
        n += 1
    return f"{n} scores in [0, 1], max {top:.3f}"


def check_score_before_learn(target: Target) -> str:
    """Scoring changes no state, and ``update`` equals ``score_*`` followed by ``learn_*``."""
    make = _factory(target)
    a, b = make(), make()
    for i, step in enumerate(stream(a, 400)):
        before = a.get_state()
        s1 = _score(a, step)
        s1_again = _score(a, step)
        if a.get_state() != before:
            raise _fail(a, f"score_* changed the state at step {i} ({step[0]})")
        if not _same(s1, s1_again):
            raise _fail(a, f"scoring twice gave {s1!r} then {s1_again!r} at step {i}")
        _learn(a, step)
        s2 = _apply(b, step)
        if not _same(s1, s2):
            raise _fail(a, f"update gave {s2!r}, score then learn gave {s1!r} at step {i}")
    return "score_* is pure; update = score then learn"


def check_state_round_trip(target: Target) -> str:
    """A clone restored with ``set_state(get_state())`` scores exactly like the original."""
    make = _factory(target)
    det = make()
    steps = list(stream(det, 600, seed=1))
    sizes = []
    for cut in (0, 150, 450):
        det = make()
        for step in steps[:cut]:
            _apply(det, step)
        state = det.get_state()
        if not isinstance(state, bytes):
            raise _fail(det, f"get_state() must return bytes, got {type(state).__name__}")
        sizes.append(len(state))
        twin = make()
        twin.set_state(state)
        if twin.get_state() != state:
            raise _fail(det, f"get_state() after set_state() differs (cut at {cut})")
        for i, step in enumerate(steps[cut:], cut):
            s1, s2 = _apply(det, step), _apply(twin, step)
            if not _same(s1, s2):
                raise _fail(det, f"restored copy scored {s2!r}, original {s1!r} at step {i}")
    try:
        make().set_state(b"\x93not a state")
    except ValueError:
        pass
    except Exception as exc:
        raise _fail(det, f"set_state(bad bytes) must raise ValueError, got {exc!r}") from None
    return f"state {sizes[-1]} bytes"


def check_clone_is_fresh(target: Target) -> str:
    """A clone of a trained detector scores like a brand-new one, not like its parent."""
    make = _factory(target)
    parent = make()
    steps = list(stream(parent, 500, seed=2))
    for step in steps[:300]:
        _apply(parent, step)
    clone, fresh = parent.clone(), make()
    if clone.get_state() != fresh.get_state():
        raise _fail(parent, "clone() carries state over (its get_state() differs from new)")
    for i, step in enumerate(steps[300:]):
        s1, s2 = _apply(clone, step), _apply(fresh, step)
        if not _same(s1, s2):
            raise _fail(parent, f"clone scored {s1!r}, a new instance {s2!r} at step {i}")
    return "clone starts fresh"


def check_seed_reproducible(target: Target) -> str:
    """Two instances with the same parameters (and seed) give identical scores; for a
    detector with a ``seed`` parameter, set it explicitly too."""
    make = _factory(target)
    a, b = make(), make()
    if "seed" in a.params():
        params = a.params() | {"seed": 12345}
        a, b = type(a)(**params), type(a)(**params)
    for i, step in enumerate(stream(a, 600, seed=3)):
        s1, s2 = _apply(a, step), _apply(b, step)
        if not _same(s1, s2):
            raise _fail(a, f"two identical instances disagree at step {i}: {s1!r} != {s2!r}")
    return "reproducible" + (" with seed" if "seed" in a.params() else "")


def _hostile(det: Detector) -> Iterator[Step]:
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


def check_degrades_gracefully(target: Target) -> str:
    """NaN, inf, None, huge values, time jumps and reversals, empty windows and windows with
    missing statistics, wrong-length vectors: no exception, and every score stays a finite
    float in [0, 1]; normal input afterwards is scored normally."""
    det = _factory(target)()
    n = 0
    for step in _hostile(det):
        try:
            s = _apply(det, step)
        except Exception as exc:
            raise _fail(det, f"raised {type(exc).__name__}: {exc} on {step!r}") from None
        _valid(det, s, f"{step!r}")
        n += 1
    try:
        det.explain()
        det.get_state()
    except Exception as exc:
        raise _fail(det, f"explain()/get_state() raised {exc!r} after hostile input") from None
    return f"{n} hostile and normal steps handled"


def check_explain(target: Target) -> str:
    """``explain()`` returns an Explanation whose ``score`` is the last score returned, with
    a float ``raw``, recent values as floats and a ``detail`` of str -> float | str."""
    det = _factory(target)()
    for i, step in enumerate(stream(det, 300, seed=6)):
        s = _apply(det, step)
        e = det.explain()
        if not isinstance(e, Explanation):
            raise _fail(det, f"explain() returned {type(e).__name__}, not Explanation")
        if not _same(e.score, s):
            raise _fail(det, f"explain().score {e.score!r} is not the last score {s!r} ({i})")
        if not isinstance(e.raw, float | int) or not isinstance(e.baseline, float | int):
            raise _fail(det, "explain().raw and .baseline must be numbers")
        if e.threshold is not None and not isinstance(e.threshold, float | int):
            raise _fail(det, "explain().threshold must be a number or None")
        if not isinstance(e.contributing, tuple) or not all(
            isinstance(v, float | int) for v in e.contributing
        ):
            raise _fail(det, "explain().contributing must be a tuple of numbers")
        if not all(
            isinstance(k, str) and isinstance(v, float | int | str) for k, v in e.detail.items()
        ):
            raise _fail(det, "explain().detail must map str to float or str")
    return "explanations well-formed"


def deep_size(obj: object, _seen: set[int] | None = None) -> int:
    """Bytes held by ``obj`` and what it references (slots, dicts, containers, arrays).

    Classes, modules and functions are not followed.

    >>> deep_size(array.array("d", [0.0] * 10)) >= 80
    True
    """
    seen = set() if _seen is None else _seen
    if id(obj) in seen or inspect.isclass(obj) or inspect.ismodule(obj) or callable(obj):
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, str | bytes | bytearray | array.array | int | float | bool):
        return size
    if isinstance(obj, dict):
        return size + sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    if isinstance(obj, list | tuple | set | frozenset):
        return size + sum(deep_size(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        size += deep_size(vars(obj), seen)
    for klass in type(obj).__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if slot in ("__dict__", "__weakref__"):
                continue
            value = getattr(obj, slot, _MISSING)
            if value is not _MISSING:
                size += deep_size(value, seen)
    return size


def check_bounded_memory(target: Target, n: int | None = None) -> str:
    """Over ``n`` updates (default: ``MEMORY_UPDATES``, a million, or
    ``MEMORY_UPDATES_VECTOR`` for vector detectors, which see one vector per group and window,
    not one per key) the detector's object size and state size stop growing (the end is
    within 1.5x + 4 KB of the size at ``n / 10``, once rolling buffers have filled),
    and tracemalloc sees no net growth over
    the last stretch of updates beyond twice the detector's size (it may rebuild a model) plus
    64 KB. Measures memory, not time."""
    make = _factory(target)
    det = make()
    if n is None:
        n = MEMORY_UPDATES_VECTOR if isinstance(det, VectorDetector) else MEMORY_UPDATES
    cycle = list(stream(det, 5000, seed=7))
    period = 5000 * 60.0  # the time span of one cycle of the stream

    def steps(start: int, stop: int) -> Iterator[Step]:
        for i in range(start, stop):
            kind, x, ts = cycle[i % len(cycle)]
            shift = (i // len(cycle)) * period
            if kind == "window":
                w: WindowStats = x
                x = WindowStats(w.start + shift, w.end + shift, w.count, w.mean, w.min, w.max,
                                w.last, w.std, w.kind)
            yield kind, x, ts + shift

    early = max(1000, n // 10)
    tail = min(50_000, max(1000, n // 10))
    for step in steps(0, early):
        _apply(det, step)
    obj0, state0 = deep_size(det), len(det.get_state())
    for step in steps(early, n - tail):
        _apply(det, step)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for step in steps(n - tail, n):
            _apply(det, step)
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    obj1, state1 = deep_size(det), len(det.get_state())
    if obj1 > 1.5 * obj0 + 4096:
        raise _fail(det, f"object grew from {obj0} to {obj1} bytes over {n} updates")
    if state1 > 1.5 * state0 + 4096:
        raise _fail(det, f"state grew from {state0} to {state1} bytes over {n} updates")
    # a detector may rebuild itself (a refitted model): allow twice its size, nothing more
    if growth > 2 * obj1 + 64 * 1024:
        raise _fail(det, f"{growth} bytes more allocated over the last {tail} updates "
                    f"(the detector itself holds {obj1})")
    return f"{n} updates: object {obj1} B, state {state1} B, tail growth {growth} B"


def check_throughput(target: Target, min_rate: float | None = None, seconds: float = 0.3) -> str:
    """A loose sanity floor on updates per second (``MIN_RATE`` for per-key detectors,
    ``MIN_RATE_VECTOR`` for vector detectors), measured over the detector's usual input.
    The best of three runs counts, so a busy machine does not fail it."""
    make = _factory(target)
    det = make()
    floor = min_rate or (MIN_RATE_VECTOR if isinstance(det, VectorDetector) else MIN_RATE)
    steps = list(stream(det, 4000, seed=8))
    best = 0.0
    for _ in range(3):
        det = make()
        done = 0
        start = time.perf_counter()
        while True:
            for step in steps:
                _apply(det, step)
            done += len(steps)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, done / elapsed)
        if best >= floor:
            break
    if best < floor:
        raise _fail(det, f"{best:,.0f} updates/s, below the floor of {floor:,.0f}")
    return f"{best:,.0f} updates/s ({1e6 / best:.1f} µs each; floor {floor:,.0f})"


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
    check_throughput,
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
) -> list[CheckResult]:
    """Run ``checks`` on ``target``; never raises for a failing check (see ``passed``)."""
    out = []
    for check in checks:
        kw: dict[str, Any] = {}
        if check is check_bounded_memory:
            kw["n"] = memory_updates
        elif check is check_throughput:
            kw["min_rate"] = min_rate
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
