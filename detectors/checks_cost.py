"""The work check: a ceiling on the work one update does, counted rather than timed (part of
the public suite, :data:`detectors.checks.CHECKS`).

:func:`check_bounded_work` counts the Python bytecode instructions executed plus the calls
into C functions (numpy, the standard library) per update over the detector's usual input.
The count is the same on every run and on any machine load, so the check cannot fail
because the machine is busy, as a timed floor did; time spent inside a C call is not
counted (wall-clock rates are ``benchmarks/detector_rates.py``'s job).

The ceilings keep the old floors' intent (20,000 updates/s per key, 1,000/s per vector: the
worker calls a per-key detector once per closed window for each of up to 100,000 keys):
at the few nanoseconds one counted step takes, ``MAX_WORK`` is 50 µs an update and
``MAX_WORK_VECTOR`` 1 ms a vector. The built-ins do 130 to 1,300 (per key) and 44,000
(the forest, its fits included) at the time of writing.

>>> from detectors.statistical import RobustZScore
>>> check_bounded_work(RobustZScore).endswith("(ceiling 10,000)")
True
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from detectors.base import Detector, VectorDetector
from detectors.checks_streams import Step, Target, apply_step, failure, stream, target_factory

__all__ = ["MAX_WORK", "MAX_WORK_VECTOR", "check_bounded_work", "count_work"]

MAX_WORK = 10_000  # counted steps per update, per-key detectors
MAX_WORK_VECTOR = 200_000  # per vector (one per group and window), fits included
WORK_STEPS = 2_000  # stream length for per-key detectors
WORK_STEPS_VECTOR = 300  # for vector detectors: takes in their first fits (64, 128, 256)

Tracer = Callable[[FrameType, str, Any], Any]


def count_work(det: Detector, steps: Sequence[Step]) -> int:
    """Bytecode instructions executed plus C functions called while ``det`` scores then
    learns ``steps`` (this thread only; a tracer or profiler already set is put back)."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Tracer:
        nonlocal count
        if event == "opcode":
            count += 1
        return local

    def enter(frame: FrameType, event: str, arg: Any) -> Tracer:
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return local

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event == "c_call":
            count += 1

    old_trace, old_profile = sys.gettrace(), sys.getprofile()
    sys.settrace(enter)
    sys.setprofile(profile)
    try:
        for step in steps:
            apply_step(det, step)
    finally:
        sys.settrace(old_trace)
        sys.setprofile(old_profile)
    return count


def check_bounded_work(target: Target, max_work: int | None = None) -> str:
    """At most ``max_work`` counted steps per update on average (``MAX_WORK`` for per-key
    detectors, ``MAX_WORK_VECTOR`` for vector detectors) over the detector's usual input.

    A first, uncounted pass over the same input on a throwaway detector does the one-time
    work (lazy imports, caches), so the count does not depend on what ran before."""
    make = target_factory(target)
    det = make()
    vector = isinstance(det, VectorDetector)
    ceiling = max_work or (MAX_WORK_VECTOR if vector else MAX_WORK)
    steps = list(stream(det, WORK_STEPS_VECTOR if vector else WORK_STEPS, seed=8))
    for step in steps:
        apply_step(det, step)
    det = make()
    per_update = count_work(det, steps) / len(steps)
    if per_update > ceiling:
        raise failure(det, f"{per_update:,.0f} bytecode instructions and C calls per update, "
                      f"over the ceiling of {ceiling:,}")
    return f"{per_update:,.0f} counted steps per update over {len(steps)} (ceiling {ceiling:,})"
