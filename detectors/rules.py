"""Rules that need no learning: a static breach threshold and a sensor's physical range.

Both come straight from the catalog (:meth:`StaticThreshold.from_spec`,
:meth:`PhysicalRange.from_spec`).

- :class:`StaticThreshold` scores 0 inside the limits and at least 0.9 beyond them:
  ``0.9 + 0.1 * (1 - exp(-excess / margin))``, so the default policy ``Threshold(0.9)`` fires
  on every breach and a larger breach ranks higher. ``raw`` is the excess in the metric's unit.
  Windows are judged on their value (the mean), like the catalog's breach indicators.
- :class:`PhysicalRange` (``health = True``) scores 1 when a reading is outside what a healthy
  sensor can report (a negative rainfall, a pH of 15): the sensor is broken, not the city.
  Windows are judged on their min and max, so one impossible reading is enough.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from detectors.base import Detector, WindowStats, is_finite
from detectors.columns import ArrayColumns, WindowColumns
from detectors.masks import every, where

if TYPE_CHECKING:
    from ioc.catalog import MetricSpec

__all__ = ["PhysicalRange", "PhysicalRangeColumns", "StaticThreshold", "StaticThresholdColumns"]


def _limit(v: float | None, what: str) -> float | None:
    if v is None:
        return None
    if not is_finite(v):
        raise ValueError(f"{what} must be a finite number or None, got {v!r}")
    return float(v)


class StaticThreshold(Detector):
    """A fixed breach threshold: above ``above`` or below ``below`` (either may be None).

    ``margin`` sets how fast the score climbs from 0.9 to 1 beyond the limit (default: 10% of
    the limit's magnitude, or 1 for a limit of 0).

    >>> d = StaticThreshold(above=55.0)  # PM2.5 in µg/m³
    >>> d.update(40.0, ts=0), round(d.update(60.0, ts=60), 3), round(d.update(110.0, ts=120), 3)
    (0.0, 0.96, 1.0)
    >>> e = d.explain(); e.raw, e.baseline, e.detail["side"]
    (55.0, 55.0, 'above')
    """

    name = "threshold"
    version = "1"
    __slots__ = ("_side", "above", "below", "margin")

    def __init__(
        self,
        *,
        above: float | None = None,
        below: float | None = None,
        margin: float | None = None,
    ) -> None:
        self.above = _limit(above, "threshold: above")
        self.below = _limit(below, "threshold: below")
        self.margin = _limit(margin, "threshold: margin")
        if self.margin is not None and self.margin <= 0:
            raise ValueError(f"threshold: margin must be > 0, got {margin!r}")
        if self.above is not None and self.below is not None and self.below > self.above:
            raise ValueError(f"threshold: below ({below}) is greater than above ({above})")
        super().__init__()
        self._side = ""

    @classmethod
    def from_spec(cls, spec: MetricSpec, **overrides: Any) -> StaticThreshold:
        """The breach limits of a catalog metric (``breach_above``/``breach_below``)."""
        kw: dict[str, Any] = {"above": spec.breach_above, "below": spec.breach_below}
        return cls(**(kw | overrides))

    def _margin(self, limit: float) -> float:
        return self.margin or (0.1 * abs(limit) or 1.0)

    def score_one(self, x: float, ts: float) -> float:
        if not is_finite(x):
            return self._scored(0.0, raw=0.0, baseline=math.nan)
        if self.above is not None and x > self.above:
            self._side, limit, excess = "above", self.above, x - self.above
        elif self.below is not None and x < self.below:
            self._side, limit, excess = "below", self.below, self.below - x
        else:
            self._side = ""
            base = self.above if self.above is not None else self.below
            return self._scored(0.0, raw=0.0, baseline=math.nan if base is None else base)
        score = 0.9 + 0.1 * (1.0 - math.exp(-excess / self._margin(limit)))
        return self._scored(score, raw=excess, baseline=limit)

    def learn_one(self, x: float, ts: float) -> None:
        """Nothing to learn: the limits are fixed."""

    def raw_threshold(self) -> float | None:
        return 0.0

    def detail(self) -> dict[str, float | str]:
        return {"side": self._side} if self._side else {}

    def columns(self) -> StaticThresholdColumns:
        return StaticThresholdColumns(self)


class PhysicalRange(Detector):
    """A reading outside ``[low, high]``, what the sensor can physically report.

    >>> d = PhysicalRange(low=0.0, high=14.0)  # pH
    >>> d.update(7.2, ts=0), d.update(15.3, ts=10)
    (0.0, 1.0)
    >>> w = WindowStats(start=0, end=60, count=6, mean=6.0, min=-1.0, max=7.5, last=7.1, std=3)
    >>> d.update_window(w), d.explain().raw
    (1.0, 1.0)
    """

    name = "physical_range"
    version = "1"
    health = True
    __slots__ = ("high", "low")

    def __init__(self, *, low: float | None = None, high: float | None = None) -> None:
        self.low = _limit(low, "physical_range: low")
        self.high = _limit(high, "physical_range: high")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"physical_range: low ({low}) is greater than high ({high})")
        super().__init__()

    @classmethod
    def from_spec(cls, spec: MetricSpec, **overrides: Any) -> PhysicalRange:
        """The physical range of a catalog metric."""
        low, high = spec.physical
        return cls(**({"low": low, "high": high} | overrides))

    def _outside(self, lo: float, hi: float) -> float:
        """How far ``[lo, hi]`` reaches outside the range (0 inside)."""
        out = 0.0
        if self.low is not None and lo < self.low:
            out = self.low - lo
        if self.high is not None and hi > self.high:
            out = max(out, hi - self.high)
        return out

    def _score(self, lo: float, hi: float) -> float:
        out = self._outside(lo, hi)
        return self._scored(1.0 if out > 0 else 0.0, raw=out, baseline=self._mid())

    def _mid(self) -> float:
        if self.low is None or self.high is None:
            return math.nan
        return 0.5 * (self.low + self.high)

    def score_one(self, x: float, ts: float) -> float:
        if not is_finite(x):
            return self._scored(0.0, raw=0.0, baseline=self._mid())
        return self._score(x, x)

    def learn_one(self, x: float, ts: float) -> None:
        """Nothing to learn: the range is fixed."""

    def score_window(self, w: WindowStats) -> float:
        if w.count <= 0 or w.kind == "count":
            return self._scored(0.0, raw=0.0, baseline=self._mid())
        lo = w.min if is_finite(w.min) else w.value
        hi = w.max if is_finite(w.max) else w.value
        if not (is_finite(lo) and is_finite(hi)):
            return self._scored(0.0, raw=0.0, baseline=self._mid())
        return self._score(lo, hi)

    def learn_window(self, w: WindowStats) -> None:
        """Nothing to learn."""

    def raw_threshold(self) -> float | None:
        return 0.0

    def columns(self) -> PhysicalRangeColumns:
        return PhysicalRangeColumns(self)

    def detail(self) -> dict[str, float | str]:
        return {
            "low": math.nan if self.low is None else self.low,
            "high": math.nan if self.high is None else self.high,
        }


# --- batch forms --------------------------------------------------------------------------------
_SIDES = ("", "above", "below")


class StaticThresholdColumns(ArrayColumns):
    """The batch form of :class:`StaticThreshold` (per row only the side of the last breach,
    for :meth:`explain`); the exponential of a breach's score is taken per breaching row."""

    __slots__ = ()
    detector: StaticThreshold

    def _spec(self) -> dict[str, tuple[Any, Any, int]]:
        return {"side": (np.int8, 0, 0)}

    def _export(self, row: int, det: Any) -> None:
        det._side = _SIDES[int(self.t["side"][row])]

    def _import(self, row: int, det: Any) -> None:
        self.t["side"][row] = _SIDES.index(det._side)

    def score_many(self, rows: np.ndarray, w: WindowColumns) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.intp)
        d, t = self.detector, self.t
        live = (w.count > 0) if w.kind == "measure" else np.ones(len(w), dtype=bool)
        x = w.value
        ok = live & np.isfinite(x)
        out = np.zeros(len(rows))
        raw = np.zeros(len(rows))
        limit = d.above if d.above is not None else d.below
        base = np.full(len(rows), math.nan if limit is None else limit)
        side = np.zeros(len(rows), dtype=np.int8)
        taken: np.ndarray | None = None
        for code, lim in ((1, d.above), (2, d.below)):
            if lim is None:
                continue
            hit = ok & ((x > lim) if code == 1 else (x < lim))
            if taken is not None:
                hit &= ~taken
            taken = hit
            js = where(hit)
            if not len(js):  # the usual block: no breach
                continue
            side[js] = code
            excess = (x[js] - lim) if code == 1 else (lim - x[js])
            m = d._margin(lim)
            raw[js], base[js] = excess, lim
            out[js] = [0.9 + 0.1 * (1.0 - math.exp(-e / m)) for e in excess.tolist()]
            np.minimum(out, 1.0, out=out)  # clamp01 (never below 0 here)
        if every(ok):  # the usual block: every window has a value
            self._scored(rows, out, raw, base)
            t["side"][rows] = side
            return out
        base[live & ~ok] = math.nan
        self._scored(rows[live], out[live], raw[live], base[live])
        t["side"][rows[ok]] = side[ok]
        self._scored_empty(rows[~live])
        return out

    def learn_many(self, rows: np.ndarray, w: WindowColumns) -> None:
        """Nothing to learn."""


class PhysicalRangeColumns(ArrayColumns):
    """The batch form of :class:`PhysicalRange` (no state but the last score)."""

    __slots__ = ()
    detector: PhysicalRange

    def _spec(self) -> dict[str, tuple[Any, Any, int]]:
        return {}

    def _export(self, row: int, det: Any) -> None:
        pass

    def _import(self, row: int, det: Any) -> None:
        pass

    def score_many(self, rows: np.ndarray, w: WindowColumns) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.intp)
        d = self.detector
        n = len(rows)
        if w.kind == "measure" and self._reaches_out(w):
            lo = np.where(np.isfinite(w.min), w.min, w.value)
            hi = np.where(np.isfinite(w.max), w.max, w.value)
            ok = (w.count > 0) & np.isfinite(lo) & np.isfinite(hi)
            raw = np.zeros(n)
            with np.errstate(invalid="ignore"):
                if d.low is not None:
                    raw = np.where(ok & (lo < d.low), d.low - lo, 0.0)
                if d.high is not None:
                    v = np.where(ok & (hi > d.high), hi - d.high, 0.0)
                    raw = np.where(v > raw, v, raw)
            out = np.where(raw > 0, 1.0, 0.0)
            self._scored(rows, out, raw, d._mid())
            return out
        self._scored(rows, 0.0, 0.0, d._mid())  # the usual block: every window in range
        return np.zeros(n)

    def _reaches_out(self, w: WindowColumns) -> bool:
        """Whether any window may reach outside the range (a cheap superset: NaN min or max
        stand in for the value, as in ``score_window``; NaN compares false)."""
        d = self.detector
        if d.low is not None and (np.fmin(w.min, w.value) < d.low).any():
            return True
        return d.high is not None and bool((np.fmax(w.max, w.value) > d.high).any())

    def learn_many(self, rows: np.ndarray, w: WindowColumns) -> None:
        """Nothing to learn."""
