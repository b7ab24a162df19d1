"""The resource checks: memory that stops growing (part of the public suite,
:data:`detectors.checks.CHECKS`) and a loose throughput floor (not part of it: a timed check
fails on a busy machine; the suite counts work instead, :mod:`detectors.checks_cost`).

:func:`check_bounded_memory` measures memory (object size, state size and tracemalloc over the
tail of a long run), not time; :func:`check_throughput` is a sanity floor, not a benchmark,
run by ``ioc detectors check --min-rate`` and ``benchmarks/detector_rates.py``.
:func:`deep_size` is the object-size measure.

>>> from detectors.statistical import RobustZScore
>>> check_bounded_memory(RobustZScore(window=8), 5_000).startswith("5000 updates: object ")
True
"""

from __future__ import annotations

import array
import inspect
import sys
import time
import tracemalloc
from collections.abc import Iterator

from detectors.base import VectorDetector, WindowStats
from detectors.checks_streams import Step, Target, apply_step, failure, stream, target_factory

__all__ = [
    "MEMORY_UPDATES",
    "MEMORY_UPDATES_VECTOR",
    "MIN_RATE",
    "MIN_RATE_VECTOR",
    "check_bounded_memory",
    "check_throughput",
    "deep_size",
]

_MISSING = object()
MEMORY_UPDATES = 1_000_000
MEMORY_UPDATES_VECTOR = 50_000
MIN_RATE = 20_000.0
MIN_RATE_VECTOR = 1_000.0


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
    make = target_factory(target)
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
        apply_step(det, step)
    obj0, state0 = deep_size(det), len(det.get_state())
    for step in steps(early, n - tail):
        apply_step(det, step)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for step in steps(n - tail, n):
            apply_step(det, step)
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    obj1, state1 = deep_size(det), len(det.get_state())
    if obj1 > 1.5 * obj0 + 4096:
        raise failure(det, f"object grew from {obj0} to {obj1} bytes over {n} updates")
    if state1 > 1.5 * state0 + 4096:
        raise failure(det, f"state grew from {state0} to {state1} bytes over {n} updates")
    # a detector may rebuild itself (a refitted model): allow twice its size, nothing more
    if growth > 2 * obj1 + 64 * 1024:
        raise failure(det, f"{growth} bytes more allocated over the last {tail} updates "
                    f"(the detector itself holds {obj1})")
    return f"{n} updates: object {obj1} B, state {state1} B, tail growth {growth} B"


def check_throughput(target: Target, min_rate: float | None = None, seconds: float = 0.3) -> str:
    """A loose sanity floor on updates per second (``MIN_RATE`` for per-key detectors,
    ``MIN_RATE_VECTOR`` for vector detectors), measured over the detector's usual input.
    The best of three runs counts, so a busy machine does not fail it."""
    make = target_factory(target)
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
                apply_step(det, step)
            done += len(steps)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, done / elapsed)
        if best >= floor:
            break
    if best < floor:
        raise failure(det, f"{best:,.0f} updates/s, below the floor of {floor:,.0f}")
    return f"{best:,.0f} updates/s ({1e6 / best:.1f} µs each; floor {floor:,.0f})"
