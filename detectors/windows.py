"""What a detector sees: the statistics of closed windows, one series or many at once.

A stream worker cuts each (source, metric) series into tumbling windows. :class:`WindowStats`
is one closed window of one series (what the one-series verbs ``score_window`` and
``learn_window`` take); :class:`WindowColumns` holds the windows of many series that closed
together, one row per series (what the batch verbs ``update_many`` take), and
:meth:`WindowColumns.row` gives back each row's :class:`WindowStats`.

>>> w = WindowStats.of([1.0, 2.0, 3.0], 0.0, 60.0)
>>> batch = WindowColumns.of([w, WindowStats.empty(0.0, 60.0)])
>>> batch.value.tolist()[0], batch.row(0) == w
(2.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import numpy as np

from detectors.squash import is_finite

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Kind", "WindowColumns", "WindowStats"]

Kind = Literal["measure", "count"]
_NAN = float("nan")


class WindowStats(msgspec.Struct, frozen=True, gc=False):
    """The summary of one closed window of one (source, metric) key (immutable; a msgspec
    struct because the worker makes one per series and window).

    ``kind`` is ``"measure"`` for sampled metrics (``value`` is the mean) and ``"count"`` for
    counted service events (``value`` is the count). ``count == 0`` means no reading arrived;
    then ``mean/min/max/last/std`` are NaN. ``rhythm`` is the city's known rhythm at this
    window: the level the catalog expects now relative to the metric's base level (0.3 at
    night for office-hours tickets, 1.7 in the morning rush for traffic volume; 1.0 when
    unknown). Rhythm-aware detectors compare ``value / rhythm``, so a daily shape the city
    always has is not an anomaly, while an unusual level at that hour still is.

    >>> w = WindowStats(start=0.0, end=60.0, count=3, mean=2.0, min=1.0, max=3.0, last=3.0, std=1.0)
    >>> w.value, w.is_count, w.is_empty
    (2.0, False, False)
    >>> WindowStats.empty(0.0, 60.0, kind="count").value
    0.0
    """

    start: float
    end: float
    count: int
    mean: float
    min: float
    max: float
    last: float
    std: float
    kind: Literal["measure", "count"] = "measure"
    rhythm: float = 1.0

    @property
    def value(self) -> float:
        """The number a value detector sees: the count for counted events, else the mean."""
        return float(self.count) if self.kind == "count" else self.mean

    @property
    def is_count(self) -> bool:
        return self.kind == "count"

    @property
    def is_empty(self) -> bool:
        return self.count <= 0

    @classmethod
    def empty(
        cls, start: float, end: float, *, kind: Literal["measure", "count"] = "measure",
        rhythm: float = 1.0,
    ) -> WindowStats:
        """A window in which nothing arrived."""
        nan = math.nan
        return cls(start, end, 0, nan, nan, nan, nan, nan, kind, rhythm)

    @property
    def rhythm_factor(self) -> float:
        """``rhythm`` when it is usable (finite and above 1e-6), else 1.0."""
        r = self.rhythm
        return r if 1e-6 < r < 1e6 else 1.0  # NaN fails the comparison

    @classmethod
    def of(
        cls,
        values: Sequence[float],
        start: float,
        end: float,
        *,
        kind: Literal["measure", "count"] = "measure",
    ) -> WindowStats:
        """Summarise raw values (a helper for tests and replays; streams keep running sums).

        >>> WindowStats.of([1.0, 2.0, 3.0], 0, 60).std
        1.0
        """
        vals = [float(v) for v in values if is_finite(v)]
        if not vals:
            return cls.empty(start, end, kind=kind)
        n = len(vals)
        mean = math.fsum(vals) / n
        var = math.fsum((v - mean) ** 2 for v in vals) / (n - 1) if n > 1 else 0.0
        return cls(start, end, n, mean, min(vals), max(vals), vals[-1], math.sqrt(var), kind)


class WindowColumns:
    """Statistics of many series' windows that closed together (one row per series).

    ``count`` (int64) and ``mean``, ``min``, ``max``, ``last``, ``std`` (float64) are per row;
    missing statistics default to ``mean``; rows with ``count == 0`` hold NaN statistics
    (as :meth:`WindowStats.empty`). ``value`` is the count for counted events, else the mean.

    >>> w = WindowColumns.of([WindowStats(0, 60, 2, 1.5, 1.0, 2.0, 2.0, 0.7),
    ...                       WindowStats.empty(0, 60)])
    >>> len(w), w.value.tolist()[0], w.row(1) == WindowStats.empty(0.0, 60.0)
    (2, 1.5, True)
    """

    __slots__ = ("count", "end", "kind", "last", "max", "mean", "min", "rhythm", "start", "std",
                 "value")

    def __init__(
        self, *, start: float, end: float, count: Any, mean: Any, min: Any = None,
        max: Any = None, last: Any = None, std: Any = None,
        kind: Kind = "measure", rhythm: float = 1.0,
    ) -> None:
        self.start = float(start)
        self.end = float(end)
        self.kind: Kind = kind
        self.rhythm = float(rhythm)
        self.count: NDArray[np.int64] = np.asarray(count, dtype=np.int64)
        n = len(self.count)
        empty = self.count == 0
        has_empty = bool(empty.any())

        def col(v: Any, default: NDArray[np.float64] | None) -> NDArray[np.float64]:
            a = np.asarray(v, dtype=np.float64) if v is not None else default
            if a is None:
                a = np.zeros(n)
            if a.shape != (n,):
                raise ValueError(f"WindowColumns: a column has shape {a.shape}, expected ({n},)")
            return np.where(empty, _NAN, a) if has_empty else a

        self.mean = col(mean, None)
        self.min = col(min, self.mean)
        self.max = col(max, self.mean)
        self.last = col(last, self.mean)
        self.std = col(std, np.zeros(n))
        self.value: NDArray[np.float64] = (
            self.count.astype(np.float64) if kind == "count" else self.mean)

    def __len__(self) -> int:
        return len(self.count)

    @property
    def is_count(self) -> bool:
        return self.kind == "count"

    @property
    def rhythm_factor(self) -> float:
        """``rhythm`` when usable (finite, within (1e-6, 1e6)), else 1.0 (as WindowStats)."""
        r = self.rhythm
        return r if 1e-6 < r < 1e6 else 1.0

    def row(self, i: int) -> WindowStats:
        """The :class:`WindowStats` of row ``i`` (what the one-series path gets)."""
        c = int(self.count[i])
        if c == 0:
            return WindowStats.empty(self.start, self.end, kind=self.kind, rhythm=self.rhythm)
        return WindowStats(self.start, self.end, c, float(self.mean[i]), float(self.min[i]),
                           float(self.max[i]), float(self.last[i]), float(self.std[i]),
                           self.kind, self.rhythm)

    def take(self, js: NDArray[np.intp]) -> WindowColumns:
        """The windows of rows ``js`` (in that order)."""
        return WindowColumns(start=self.start, end=self.end, count=self.count[js],
                             mean=self.mean[js], min=self.min[js], max=self.max[js],
                             last=self.last[js], std=self.std[js], kind=self.kind,
                             rhythm=self.rhythm)

    @classmethod
    def of(cls, stats: Sequence[WindowStats]) -> WindowColumns:
        """Columns of one-series windows that share start, end, kind and rhythm."""
        if not stats:
            raise ValueError("WindowColumns.of: no windows")
        w0 = stats[0]
        for w in stats:
            if (w.start, w.end, w.kind) != (w0.start, w0.end, w0.kind) or not (
                    w.rhythm == w0.rhythm or (w.rhythm != w.rhythm and w0.rhythm != w0.rhythm)):
                raise ValueError("WindowColumns.of: windows differ in start, end, kind or rhythm")
        return cls(start=w0.start, end=w0.end, kind=w0.kind, rhythm=w0.rhythm,
                   count=[w.count for w in stats], mean=[w.mean for w in stats],
                   min=[w.min for w in stats], max=[w.max for w in stats],
                   last=[w.last for w in stats], std=[w.std for w in stats])
