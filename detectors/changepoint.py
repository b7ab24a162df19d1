"""Change detectors for level shifts (EWMA chart) and slow drifts (two-sided CUSUM).

Both standardise each value against a slowly adapting baseline: an exponentially weighted mean
and variance with weight ``max(slow, 1 / n)``, so the first values give the exact running mean
and the baseline then forgets with a time constant of ``1 / slow`` updates. Both keep a handful
of floats per instance (no buffers).

- :class:`EWMAShift` compares a fast EWMA of the values with that baseline (Roberts' EWMA
  control chart): ``raw = |fast - mean| / (sigma * sqrt(l / (2 - l)))`` for a fast weight
  ``l``; a sudden level shift of a few sigmas crosses ``threshold`` within a few updates.
- :class:`CUSUM` accumulates standardised excesses beyond a slack ``k`` (Page's CUSUM):
  ``S+ = max(0, S+ + z - k)``, ``S- = max(0, S- - z - k)``, ``raw = max(S+, S-)``; a drift of
  one sigma crosses ``threshold = 5`` after about ten updates.

Scores are :func:`~detectors.base.squash_at` of ``raw``: 0.9 at ``raw == threshold``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detectors.base import Detector, is_finite, squash_at
from detectors.columns import ArrayColumns, WindowColumns, squash_at_many
from detectors.masks import every, some, where

__all__ = ["CUSUM", "CUSUMColumns", "EWMAColumns", "EWMAShift"]


class _SlowBaseline(Detector):
    """The shared slow mean/variance (a base for the two charts, not registered)."""

    rhythm_aware = True

    __slots__ = ("_mean", "_n", "_var", "min_samples", "slow", "threshold")

    def __init__(self, *, slow: float, threshold: float, min_samples: int) -> None:
        if not 0.0 < slow < 1.0:
            raise ValueError(f"{self.name}: slow must be in (0, 1), got {slow!r}")
        if not threshold > 0:
            raise ValueError(f"{self.name}: threshold must be > 0, got {threshold!r}")
        if min_samples < 2:
            raise ValueError(f"{self.name}: min_samples must be >= 2, got {min_samples!r}")
        super().__init__()
        self.slow = float(slow)
        self.threshold = float(threshold)
        self.min_samples = int(min_samples)
        self._n = 0
        self._mean = 0.0
        self._var = 0.0

    def _sigma(self) -> float:
        # a floor relative to the level keeps a constant series from dividing by zero
        return math.sqrt(self._var) or max(abs(self._mean) * 1e-6, 1e-12)

    def _learn_baseline(self, x: float) -> None:
        self._n += 1
        a = max(self.slow, 1.0 / self._n)
        d = x - self._mean
        self._mean += a * d
        self._var = (1.0 - a) * (self._var + a * d * d)

    def detail(self) -> dict[str, float | str]:
        return {"sigma": math.sqrt(self._var), "samples": float(self._n)}


class EWMAShift(_SlowBaseline):
    """EWMA control chart for level shifts.

    ``fast`` is the weight of the newest value in the fast average (0.3: reacts within 2-3
    updates), ``slow`` the baseline's (0.02: forgets over about 50 updates), ``threshold`` the
    chart statistic (in standard errors of the fast average) scoring 0.9.

    >>> d = EWMAShift()
    >>> scores = [d.update(10.0 + 0.1 * ((-1) ** t), ts=t) for t in range(40)]
    >>> max(scores[20:]) < 0.1
    True
    >>> [round(d.update(10.3, ts=40 + t), 2) for t in range(3)]  # +3 sigma
    [0.28, 0.9, 0.99]
    """

    name = "ewma"
    version = "1"
    state_attrs = ("_n", "_mean", "_var", "_fast")
    __slots__ = ("_fast", "fast")

    def __init__(
        self,
        *,
        fast: float = 0.3,
        slow: float = 0.02,
        threshold: float = 3.0,
        min_samples: int = 8,
    ) -> None:
        if not 0.0 < fast <= 1.0:
            raise ValueError(f"ewma: fast must be in (0, 1], got {fast!r}")
        super().__init__(slow=slow, threshold=threshold, min_samples=min_samples)
        self.fast = float(fast)
        self._fast = math.nan

    def score_one(self, x: float, ts: float) -> float:
        if self._n < self.min_samples or not is_finite(x):
            return self._scored(0.0, raw=0.0, baseline=self._mean if self._n else math.nan)
        f = self.fast
        fast = f * x + (1.0 - f) * self._fast
        se = self._sigma() * math.sqrt(f / (2.0 - f))
        raw = abs(fast - self._mean) / se
        return self._scored(squash_at(raw, self.threshold), raw=raw, baseline=self._mean)

    def learn_one(self, x: float, ts: float) -> None:
        if not is_finite(x):
            return
        self._fast = x if self._fast != self._fast else self.fast * x + (1 - self.fast) * self._fast
        self._learn_baseline(x)

    def recent(self) -> tuple[float, ...]:
        return (self._fast,) if self._fast == self._fast else ()

    def columns(self) -> EWMAColumns:
        return EWMAColumns(self)

    def detail(self) -> dict[str, float | str]:
        return {**super().detail(), "fast_mean": self._fast}


class CUSUM(_SlowBaseline):
    """Two-sided CUSUM for drifts: small, sustained departures from the baseline.

    ``k`` is the slack in sigmas (half the smallest shift worth detecting), ``threshold`` the
    decision interval ``h`` scoring 0.9; the sums are capped at ``2 * threshold`` so an alert
    clears within a few updates once the series returns to the baseline. A new level that
    persists is absorbed by the baseline after about ``1 / slow`` updates (then it clears).

    >>> d = CUSUM()
    >>> _ = [d.update(5.0 + 0.2 * ((-1) ** t), ts=t) for t in range(60)]
    >>> drift = [d.update(5.0 + 0.05 * t, ts=60 + t) for t in range(16)]
    >>> [round(s, 2) for s in drift[6:14]]
    [0.01, 0.04, 0.14, 0.36, 0.68, 0.92, 0.99, 1.0]
    >>> d.explain().detail["direction"]
    'up'
    """

    name = "cusum"
    version = "1"
    state_attrs = ("_n", "_mean", "_var", "_pos", "_neg")
    __slots__ = ("_neg", "_pos", "k")

    def __init__(
        self,
        *,
        k: float = 0.5,
        threshold: float = 10.0,
        slow: float = 0.01,
        min_samples: int = 16,
    ) -> None:
        if not k >= 0:
            raise ValueError(f"cusum: k must be >= 0, got {k!r}")
        super().__init__(slow=slow, threshold=threshold, min_samples=min_samples)
        self.k = float(k)
        self._pos = 0.0
        self._neg = 0.0

    def _sums(self, x: float) -> tuple[float, float]:
        z = (x - self._mean) / self._sigma()
        cap = 2.0 * self.threshold
        return (
            min(cap, max(0.0, self._pos + z - self.k)),
            min(cap, max(0.0, self._neg - z - self.k)),
        )

    def score_one(self, x: float, ts: float) -> float:
        if self._n < self.min_samples or not is_finite(x):
            return self._scored(0.0, raw=0.0, baseline=self._mean if self._n else math.nan)
        pos, neg = self._sums(x)
        raw = max(pos, neg)
        return self._scored(squash_at(raw, self.threshold), raw=raw, baseline=self._mean)

    def learn_one(self, x: float, ts: float) -> None:
        if not is_finite(x):
            return
        if self._n >= self.min_samples:
            self._pos, self._neg = self._sums(x)
        self._learn_baseline(x)

    def columns(self) -> CUSUMColumns:
        return CUSUMColumns(self)

    def detail(self) -> dict[str, float | str]:
        return {
            **super().detail(),
            "cusum_up": self._pos,
            "cusum_down": self._neg,
            "direction": "up" if self._pos >= self._neg else "down",
        }


# --- batch forms --------------------------------------------------------------------------------
class _SlowColumns(ArrayColumns):
    """The slow baseline of many rows (``n``, ``mean``, ``var`` columns)."""

    __slots__ = ()
    detector: _SlowBaseline
    extra: tuple[str, ...] = ()

    def _spec(self) -> dict[str, tuple[Any, Any, int]]:
        return {"n": (np.int64, 0, 0), "mean": (np.float64, 0.0, 0),
                "var": (np.float64, 0.0, 0)} | self._extra_spec()

    def _extra_spec(self) -> dict[str, tuple[Any, Any, int]]:
        return {}

    def _export(self, row: int, det: Any) -> None:
        t = self.t
        det._n = int(t["n"][row])
        for a in ("mean", "var", *self.extra):
            setattr(det, "_" + a, float(t[a][row]))

    def _import(self, row: int, det: Any) -> None:
        t = self.t
        t["n"][row] = det._n
        for a in ("mean", "var", *self.extra):
            t[a][row] = getattr(det, "_" + a)

    def _sigma(self, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        sq = np.sqrt(var)
        zero = sq == 0.0
        if some(zero):  # a floor relative to the level, as the one-series ``_sigma``
            sq[zero] = np.maximum(np.abs(mean[zero]) * 1e-6, 1e-12)
        return sq

    def _learn_baseline(self, sel: np.ndarray, x: np.ndarray) -> None:
        t, slow = self.t, self.detector.slow
        n = t["n"][sel] + 1
        inv = 1.0 / n
        a = np.where(inv > slow, inv, slow)
        mean = t["mean"][sel]
        d = x - mean
        t["n"][sel] = n
        t["mean"][sel] = mean + a * d
        t["var"][sel] = (1.0 - a) * (t["var"][sel] + a * d * d)

    def _raw(self, sel: np.ndarray, x: np.ndarray,
             mean: np.ndarray) -> tuple[np.ndarray, Any]:
        """The raw statistic of rows ``sel`` (all past warm-up, baseline means ``mean``) at
        values ``x``, and what ``learn_many`` of those rows needs again (or None)."""
        raise NotImplementedError

    def score_many(self, rows: np.ndarray, w: WindowColumns) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.intp)
        d, t = self.detector, self.t
        live, x, r = self._value_inputs(w)
        n, mean = t["n"][rows], t["mean"][rows]
        ok = live & (n >= d.min_samples) & np.isfinite(x)
        raw = np.zeros(len(rows))
        js = where(ok)
        with np.errstate(over="ignore", invalid="ignore"):
            if len(js) == len(rows):  # every row scores: no gathers
                raw, work = self._raw(rows, x, mean)
            else:
                raw[js], work = self._raw(rows[js], x[js], mean[js])
        if work is not None:
            self._hold(rows, w, work)
        out = squash_at_many(raw, d.threshold)  # 0 where raw is 0
        base = np.where(n > 0, mean, math.nan)
        if r != 1.0:
            base *= r
        self._scored_live(rows, live, out, raw, base)
        return out


class EWMAColumns(_SlowColumns):
    """The batch form of :class:`EWMAShift`."""

    __slots__ = ()
    detector: EWMAShift
    extra = ("fast",)

    def _extra_spec(self) -> dict[str, tuple[Any, Any, int]]:
        return {"fast": (np.float64, math.nan, 0)}

    def _raw(self, sel: np.ndarray, x: np.ndarray,
             mean: np.ndarray) -> tuple[np.ndarray, Any]:
        t, f = self.t, self.detector.fast
        fast = f * x + (1.0 - f) * t["fast"][sel]
        se = self._sigma(mean, t["var"][sel]) * math.sqrt(f / (2.0 - f))
        return np.abs(fast - mean) / se, None

    def learn_many(self, rows: np.ndarray, w: WindowColumns) -> None:
        rows = np.asarray(rows, dtype=np.intp)
        live, x, _ = self._value_inputs(w)
        ok = live & np.isfinite(x)
        if not every(ok):
            rows, x = rows[ok], x[ok]
        f, prev = self.detector.fast, self.t["fast"][rows]
        with np.errstate(over="ignore", invalid="ignore"):
            self.t["fast"][rows] = np.where(prev != prev, x, f * x + (1 - f) * prev)
            self._learn_baseline(rows, x)


class CUSUMColumns(_SlowColumns):
    """The batch form of :class:`CUSUM` (``score_many`` hands its sums to ``learn_many``)."""

    __slots__ = ()
    detector: CUSUM
    extra = ("pos", "neg")

    def _extra_spec(self) -> dict[str, tuple[Any, Any, int]]:
        return {"pos": (np.float64, 0.0, 0), "neg": (np.float64, 0.0, 0)}

    def _sums(self, sel: np.ndarray, x: np.ndarray,
              mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t, d = self.t, self.detector
        z = (x - mean) / self._sigma(mean, t["var"][sel])
        cap = 2.0 * d.threshold
        up = t["pos"][sel] + z - d.k
        down = t["neg"][sel] - z - d.k
        up = np.where(up > 0.0, up, 0.0)
        down = np.where(down > 0.0, down, 0.0)
        return np.where(up < cap, up, cap), np.where(down < cap, down, cap)

    def _raw(self, sel: np.ndarray, x: np.ndarray,
             mean: np.ndarray) -> tuple[np.ndarray, Any]:
        # the rows that score are the rows whose sums learn_many updates, in that order
        pos, neg = self._sums(sel, x, mean)
        return np.where(neg > pos, neg, pos), (pos, neg)

    def learn_many(self, rows: np.ndarray, w: WindowColumns) -> None:
        rows = np.asarray(rows, dtype=np.intp)
        held = self._held(rows, w)
        live, x, _ = self._value_inputs(w)
        ok = live & np.isfinite(x)
        if not every(ok):
            rows, x = rows[ok], x[ok]
        t = self.t
        warm = t["n"][rows] >= self.detector.min_samples
        whole = every(warm)
        sel = rows if whole else rows[warm]
        with np.errstate(over="ignore", invalid="ignore"):
            if held is not None:  # the sums score_many worked out (None: not these rows or window)
                pos, neg = held
            else:
                pos, neg = self._sums(sel, x if whole else x[warm], t["mean"][sel])
            t["pos"][sel] = pos
            t["neg"][sel] = neg
            self._learn_baseline(rows, x)
