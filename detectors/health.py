"""Sensor-health detectors: a stuck (flatlined) value and a silent source.

Both are ``health = True``: their alerts say a sensor or feed is broken and go to engineers,
not to operators. Both prefer closed windows (``input = "window"``) and also work on single
readings.

- :class:`StuckValue`: ``raw`` is the number of consecutive identical readings (within
  ``tolerance``). A window extends the run when all its readings are equal (``max - min <=
  tolerance``) and equal to the run's value; a window with spread restarts it.
- :class:`Silence`: ``raw`` is the surprise of the silence, ``-log10 P(nothing arrives)``
  under the learned arrival rate: ``k`` empty windows at ``rate`` readings per window have
  probability ``exp(-rate * k)``; a gap of ``g`` seconds between readings at a mean interval
  ``m`` has probability ``exp(-g / m)``. So a 10-second sensor alerts after about three
  empty one-minute windows, while a feed that is sparse at night waits proportionally longer.
  The worker must feed empty windows (``count == 0``) for keys that went quiet.

Scores are :func:`~detectors.base.squash_at` of ``raw``: 0.9 at ``threshold``.
"""

from __future__ import annotations

import math

from detectors.base import Detector, WindowStats, is_finite, squash_at
from detectors.health_columns import LN10 as _LN10
from detectors.health_columns import SilenceColumns, StuckColumns

__all__ = ["Silence", "SilenceColumns", "StuckColumns", "StuckValue"]


class StuckValue(Detector):
    """Flatline: the same value reported again and again.

    ``threshold`` is the run of identical readings that scores 0.9 (20: over three minutes at
    a ten-second cadence); ``tolerance`` the difference still counted as identical; ``ignore``
    values that are legitimately constant (``0.0`` for a dry flood-depth tower).

    >>> d = StuckValue(threshold=10)
    >>> [round(d.update(x, ts=t), 3) for t, x in enumerate([7.1, 7.2, 7.2])]
    [0.0, 0.0, 0.0]
    >>> flat = WindowStats(start=60, end=120, count=8, mean=7.2, min=7.2, max=7.2, last=7.2, std=0)
    >>> round(d.update_window(flat), 2), d.explain().raw
    (0.9, 10.0)
    >>> live = WindowStats(start=120, end=180, count=6, mean=7.2, min=7, max=7.4, last=7.3, std=.1)
    >>> d.update_window(live)
    0.0
    """

    name = "stuck"
    version = "1"
    input = "window"
    health = True
    state_attrs = ("_value", "_run")
    __slots__ = ("_run", "_value", "ignore", "threshold", "tolerance")

    def __init__(
        self,
        *,
        threshold: float = 20.0,
        tolerance: float = 0.0,
        ignore: tuple[float, ...] = (),
    ) -> None:
        if not threshold >= 2:
            raise ValueError(f"stuck: threshold must be >= 2 readings, got {threshold!r}")
        if not tolerance >= 0:
            raise ValueError(f"stuck: tolerance must be >= 0, got {tolerance!r}")
        super().__init__()
        self.threshold = float(threshold)
        self.tolerance = float(tolerance)
        self.ignore = tuple(float(v) for v in ignore)
        self._value = math.nan  # the value of the current run
        self._run = 0  # readings in the current run

    def _next(self, n: int, lo: float, hi: float, last: float) -> tuple[float, int]:
        """(value, run) after ``n`` readings spanning ``[lo, hi]`` ending with ``last``."""
        tol = self.tolerance
        if hi - lo <= tol:
            if self._run and abs(lo - self._value) <= tol:
                return self._value, self._run + n
            return lo, n
        return last, 1

    def _ignored(self, v: float) -> bool:
        if not self.ignore:  # the usual case: no generator to build
            return False
        return any(abs(v - i) <= self.tolerance for i in self.ignore)

    def _score_run(self, value: float, run: int) -> float:
        raw = 0.0 if self._ignored(value) else float(run)
        return self._scored(squash_at(raw - 1.0, self.threshold - 1.0), raw=raw, baseline=value)

    def score_one(self, x: float, ts: float) -> float:
        if not is_finite(x):
            return self._scored(0.0, raw=0.0, baseline=self._value)
        return self._score_run(*self._next(1, x, x, x))

    def learn_one(self, x: float, ts: float) -> None:
        if is_finite(x):
            self._value, self._run = self._next(1, x, x, x)

    def _window_ok(self, w: WindowStats) -> bool:
        return w.kind == "measure" and w.count > 0 and is_finite(w.min) and is_finite(w.max)

    def score_window(self, w: WindowStats) -> float:
        if not self._window_ok(w):
            return self._scored(0.0, raw=0.0, baseline=self._value)
        last = w.last if is_finite(w.last) else w.max
        return self._score_run(*self._next(w.count, w.min, w.max, last))

    def learn_window(self, w: WindowStats) -> None:
        if self._window_ok(w):
            last = w.last if is_finite(w.last) else w.max
            self._value, self._run = self._next(w.count, w.min, w.max, last)

    def detail(self) -> dict[str, float | str]:
        return {"value": self._value, "repeats": float(self._run)}

    def columns(self) -> StuckColumns:
        return StuckColumns(self)


class Silence(Detector):
    """A source that stops reporting, judged against its own arrival rate.

    ``threshold`` is the surprise (``-log10`` probability) that scores 0.9 (6: a one-in-a-
    million silence); ``alpha`` the weight of the newest window in the learned rate;
    ``min_windows`` the fewest consecutive empty windows that can score at all, so a single
    late window never alerts.

    >>> d = Silence()
    >>> busy = WindowStats(start=0, end=60, count=6, mean=1, min=1, max=1, last=1, std=0)
    >>> for i in range(30):
    ...     _ = d.update_window(busy)
    >>> [round(d.update_window(WindowStats.empty(60.0 * i, 60.0 * (i + 1))), 2) for i in range(4)]
    [0.0, 0.73, 1.0, 1.0]
    >>> d.explain().detail["empty_windows"]
    4.0
    """

    name = "silence"
    version = "2"
    rhythm_aware = True
    input = "window"
    health = True
    state_attrs = ("_rate", "_n", "_empty", "_missing", "_interval", "_last_ts")
    __slots__ = (
        "_empty",
        "_interval",
        "_last_ts",
        "_missing",
        "_n",
        "_rate",
        "alpha",
        "min_samples",
        "min_windows",
        "threshold",
    )

    def __init__(
        self,
        *,
        threshold: float = 6.0,
        alpha: float = 0.01,
        min_windows: int = 2,
        min_samples: int = 5,
    ) -> None:
        if not threshold > 0:
            raise ValueError(f"silence: threshold must be > 0, got {threshold!r}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"silence: alpha must be in (0, 1), got {alpha!r}")
        if min_windows < 1 or min_samples < 1:
            raise ValueError("silence: min_windows and min_samples must be >= 1")
        super().__init__()
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.min_windows = int(min_windows)
        self.min_samples = int(min_samples)
        self._rate = 0.0  # readings per window (windows with readings and without)
        self._n = 0  # windows (or inter-arrival gaps) learned
        self._empty = 0  # consecutive empty windows so far
        self._missing = 0.0  # readings expected over those empty windows (rate x rhythm)
        self._interval = 0.0  # mean seconds between readings (single-reading path)
        self._last_ts = math.nan

    # --- windows: the preferred path -----------------------------------------------------
    def score_window(self, w: WindowStats) -> float:
        r = w.rhythm_factor
        if w.count > 0 or self._n < self.min_samples:
            return self._scored(0.0, raw=0.0, baseline=self._rate * r)
        k = self._empty + 1
        # readings expected over the empty stretch, at the hours it spans (rate x rhythm)
        missing = self._missing + self._rate * r
        raw = missing / _LN10 if k >= self.min_windows else 0.0
        return self._scored(squash_at(raw, self.threshold), raw=raw, baseline=self._rate * r)

    def learn_window(self, w: WindowStats) -> None:
        count = max(0, int(w.count))
        r = w.rhythm_factor
        if count == 0:
            # The rate is held while a stretch of empty windows lasts (so a real outage keeps
            # getting more surprising) and learned when the stretch ends, unless it was a
            # surprising silence: that must not teach that silence is normal.
            self._empty += 1
            self._missing += self._rate * r
            return
        if self._empty:
            # learn the empty windows, but of a surprising stretch only the part before it
            # became surprising (the rest was an outage, not the source's normal quiet)
            surprise = self._missing / _LN10
            quiet = self._empty if surprise < self.threshold else int(
                self._empty * self.threshold / surprise)
            for _ in range(quiet):
                self._n += 1
                self._rate *= 1.0 - max(self.alpha, 1.0 / self._n)
        self._empty = 0
        self._missing = 0.0
        self._n += 1
        a = max(self.alpha, 1.0 / self._n)
        self._rate += a * (count / r - self._rate)

    # --- single readings: gaps between arrival times --------------------------------------
    def score_one(self, x: float, ts: float) -> float:
        if not is_finite(ts) or self._n < self.min_samples or self._interval <= 0.0:
            return self._scored(0.0, raw=0.0, baseline=self._interval)
        gap = ts - self._last_ts
        raw = gap / self._interval / _LN10 if gap > 0 else 0.0
        return self._scored(squash_at(raw, self.threshold), raw=raw, baseline=self._interval)

    def learn_one(self, x: float, ts: float) -> None:
        """Learn the inter-arrival time (``x`` is ignored: a NaN reading still arrived)."""
        if not is_finite(ts):
            return
        last, self._last_ts = self._last_ts, float(ts)
        gap = ts - last
        if not gap > 0:
            return  # first reading, or out of order
        if self._n >= self.min_samples and self._interval > 0 and gap / self._interval > 4:
            return  # an outage is not a new normal
        self._n += 1
        a = max(self.alpha, 1.0 / self._n)
        self._interval += a * (gap - self._interval)

    def detail(self) -> dict[str, float | str]:
        return {"empty_windows": float(self._empty), "rate_per_window": self._rate}

    def columns(self) -> SilenceColumns:
        return SilenceColumns(self)
