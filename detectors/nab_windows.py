"""Where a detection is worth what, under NAB's rules (:mod:`detectors.nab` re-exports these):
a file's labelled anomaly windows (:class:`Labelled`), the probationary period NAB ignores,
the scaled sigmoid, and the per-row reward or cost of a detection for one file and profile
(:func:`sweep`), which the corpus scoring in :mod:`detectors.nab` sums.

>>> sw = sweep(Labelled("toy.csv", n=100, windows=((60, 69),)), CostMatrix())
>>> int(sw.group[0]), int(sw.group[20]), int(sw.group[60]), round(float(sw.gain[60]), 3)
(-2, -1, 0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.nab_profiles import CostMatrix

__all__ = [
    "OUTSIDE", "PROBATION", "PROBATION_PERCENT", "FloatArray", "IntArray", "Labelled", "Sweep",
    "probation_length", "scaled_sigmoid", "sweep",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: share of each file NAB ignores at the start (capped at 5000 rows' worth)
PROBATION_PERCENT = 0.15

# group codes of a point in a :class:`Sweep` (window ids are 0, 1, ...)
OUTSIDE = -1
PROBATION = -2


def scaled_sigmoid(position: float) -> float:
    """NAB's reward curve: ``2 / (1 + exp(5 * position)) - 1``, and -1 past 3 widths.

    >>> [round(scaled_sigmoid(p), 5) for p in (-1.0, -0.5, 0.0, 1.0, 3.5)]
    [0.98661, 0.84828, 0.0, -0.98661, -1.0]
    """
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def _scaled_sigmoid_array(position: FloatArray) -> FloatArray:
    out = 2.0 / (1.0 + np.exp(5.0 * np.minimum(position, 50.0))) - 1.0
    out[position > 3.0] = -1.0
    return np.asarray(out, dtype=np.float64)


def probation_length(n: int, percent: float = PROBATION_PERCENT) -> int:
    """Rows at the start of a file that NAB does not score: ``min(⌊p·n⌋, p·5000)``.

    >>> probation_length(1000), probation_length(20000)
    (150, 750)
    """
    return int(min(math.floor(percent * n), percent * 5000))


@dataclass(frozen=True, slots=True)
class Labelled:
    """One data file's length and its anomaly windows as inclusive row ranges, in order."""

    name: str
    n: int
    windows: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        prev = -1
        for a, b in self.windows:
            if not 0 <= a <= b < self.n:
                raise ValueError(f"{self.name}: window rows [{a}, {b}] outside 0..{self.n - 1}")
            if a <= prev:
                raise ValueError(f"{self.name}: windows overlap or are out of order at row {a}")
            prev = b

    @classmethod
    def from_times(
        cls,
        name: str,
        times: npt.NDArray[np.datetime64],
        windows: Sequence[tuple[np.datetime64, np.datetime64]],
    ) -> Labelled:
        """Locate windows ``[start, end]`` (inclusive times) among the row times.

        As in NAB, a window opens at the first row stamped ``start`` and closes at the first
        later row stamped ``end`` (NAB's files have a few rows out of order, so this is not
        a range search). Without an exact match, the window opens at the first row at or
        after ``start`` and closes before the first later row past ``end``.

        >>> t = np.arange(10).astype("datetime64[m]")
        >>> Labelled.from_times("x", t, [(t[2], t[4])]).windows
        ((2, 4),)
        """
        rows = []
        for start, end in windows:
            hit = np.flatnonzero(times == start)
            if hit.size:
                a = int(hit[0])
            else:
                after = np.flatnonzero(times >= start)
                a = int(after[0]) if after.size else len(times)
            tail = times[a:]
            hit = np.flatnonzero(tail == end)
            if hit.size:
                b = a + int(hit[0])
            else:
                past = np.flatnonzero(tail > end)
                b = a + (int(past[0]) if past.size else tail.size) - 1
            if b < a:
                raise ValueError(f"{name}: window [{start}, {end}] holds no rows")
            rows.append((a, b))
        return cls(name, len(times), tuple(rows))

    def labels(self) -> npt.NDArray[np.int8]:
        """1 inside a window, 0 outside (NAB's ``label`` column)."""
        out = np.zeros(self.n, dtype=np.int8)
        for a, b in self.windows:
            out[a : b + 1] = 1
        return out


@dataclass(frozen=True, slots=True)
class Sweep:
    """What a detection at each row would be worth under one profile.

    ``gain[i]`` is the TP reward (inside a window) or the FP cost (outside, negative);
    ``group[i]`` is the window id, -1 outside windows, -2 in the probationary period.
    ``windows`` counts windows with at least one scored row (each costs ``fn`` if missed).
    """

    gain: FloatArray
    group: IntArray
    windows: int
    cost: CostMatrix


def sweep(series: Labelled, cost: CostMatrix, probation: float = PROBATION_PERCENT) -> Sweep:
    """Precompute the per-row reward/cost of a detection for one file and profile."""
    n = series.n
    gain = np.empty(n, dtype=np.float64)
    group = np.full(n, OUTSIDE, dtype=np.int64)
    max_tp = scaled_sigmoid(-1.0)
    idx = np.arange(n, dtype=np.float64)
    # FP cost: relative to the end of the closest window that ended before the row
    prev_end = -1
    prev_width = 0
    cursor = 0
    for wid, (a, b) in enumerate((*series.windows, (n, n))):
        if cursor < a:
            seg = slice(cursor, a)
            if prev_end < 0:
                gain[seg] = -cost.fp
            else:
                pos = np.abs(prev_end - idx[seg]) / max(prev_width - 1, 1)
                gain[seg] = _scaled_sigmoid_array(pos) * cost.fp
        if a >= n:
            break
        width = b - a + 1
        seg = slice(a, b + 1)
        pos = -(b - idx[seg] + 1.0) / width
        gain[seg] = _scaled_sigmoid_array(pos) * cost.tp / max_tp
        group[seg] = wid
        prev_end, prev_width, cursor = b, width, b + 1
    p = probation_length(n, probation)
    group[:p] = PROBATION
    scored = group[group >= 0]
    return Sweep(gain, group, int(np.unique(scored).size), cost)
