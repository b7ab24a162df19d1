"""Poisson-aware surge detector for counted service events (tickets, cases, faults).

Counts of rare events are not Gaussian: 3 lost-person reports in a window where 0.01 are
expected is alarming, 30 hotline tickets where 25 are expected is not, and a z-score cannot
tell those apart. :class:`CountSurge` learns the expected count per window ``lam`` (an
exponentially weighted mean) and the dispersion ``phi``, the mean Pearson chi-square
``(x - lam)^2 / lam`` per window, at least 1 (real counts are
burstier than Poisson), and scores the upper tail:

    raw = -log10 P(X >= x),  X ~ Poisson(lam / phi), evaluated at x / phi

(the quasi-Poisson scaling). ``raw`` is the surprise in powers of ten: 5 means "one window in
100,000"; the score is :func:`~detectors.base.squash_at` of ``raw`` (0.9 at ``threshold``).
Only surges score; a feed that stops is :class:`~detectors.health.Silence`'s job. Counts are
clipped at ``lam + 4 sqrt(phi lam) + 1`` before learning so one surge does not become the
new normal at once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detectors.base import Detector, WindowStats, is_finite, squash_at
from detectors.columns import ArrayColumns, WindowColumns, squash_at_many

__all__ = ["CountSurge", "CountSurgeColumns", "poisson_log10_sf"]

_LN10 = math.log(10.0)


def _log_lower_gamma_p(a: float, x: float) -> float:
    """ln P(a, x), the regularised lower incomplete gamma function, for a > 0, x >= 0."""
    if x <= 0.0:
        return -math.inf
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:  # power series: P = front * sum_n x^n / (a (a+1) ... (a+n))
        term = total = 1.0 / a
        ap = a
        for _ in range(500):
            ap += 1.0
            term *= x / ap
            total += term
            if term < total * 1e-15:
                break
        return log_front + math.log(total)
    # continued fraction for Q = 1 - P (modified Lentz)
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 500):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    q = math.exp(log_front) * h
    return math.log1p(-q) if q < 1.0 else -math.inf


def poisson_log10_sf(x: float, lam: float) -> float:
    """``log10 P(X >= x)`` for ``X ~ Poisson(lam)``, with ``x`` allowed to be fractional.

    Uses ``P(X >= k) = P(k, lam)`` (the regularised lower incomplete gamma function), which
    interpolates smoothly between integers.

    >>> round(10 ** poisson_log10_sf(1, 0.5), 4)  # 1 - exp(-0.5)
    0.3935
    >>> round(poisson_log10_sf(3, 0.01), 2)  # three events where 0.01 are expected
    -6.78
    >>> poisson_log10_sf(0, 4.0)
    0.0
    """
    if x <= 0.0:
        return 0.0
    if lam <= 0.0:
        return -math.inf
    return min(0.0, _log_lower_gamma_p(x, lam) / _LN10)


class CountSurge(Detector):
    """Surge of counted events against a learned, over-dispersion-aware Poisson rate.

    ``threshold`` is the surprise (``-log10`` tail probability) that scores 0.9; ``alpha``
    the weight of the newest window in the rate; ``min_rate`` a floor on the expected count
    so a never-seen event type is not infinitely surprising; ``min_samples`` windows learned
    before scoring.

    >>> d = CountSurge()
    >>> for i in range(200):
    ...     _ = d.update([2.0, 3.0, 1.0, 4.0, 2.0][i % 5], ts=60.0 * i)
    >>> round(d.score_one(5, ts=12000.0), 2), round(d.score_one(14, ts=12000.0), 2)
    (0.0, 1.0)
    >>> e = d.explain(); round(e.baseline, 1), round(e.raw, 1)
    (2.4, 6.6)
    """

    name = "count_surge"
    version = "2"
    rhythm_aware = True
    state_attrs = ("_n", "_mean", "_var")
    __slots__ = ("_mean", "_n", "_var", "alpha", "min_rate", "min_samples", "threshold")

    def __init__(
        self,
        *,
        threshold: float = 5.0,
        alpha: float = 0.02,
        min_rate: float = 0.01,
        min_samples: int = 10,
    ) -> None:
        if not threshold > 0:
            raise ValueError(f"count_surge: threshold must be > 0, got {threshold!r}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"count_surge: alpha must be in (0, 1), got {alpha!r}")
        if not min_rate > 0:
            raise ValueError(f"count_surge: min_rate must be > 0, got {min_rate!r}")
        super().__init__()
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.min_rate = float(min_rate)
        self.min_samples = int(min_samples)
        self._n = 0
        self._mean = 0.0
        self._var = 1.0  # mean Pearson chi-square per window (1 for a Poisson feed)

    def _phi(self) -> float:
        """The over-dispersion: the learned mean Pearson chi-square per window, at least 1."""
        return max(1.0, self._var)

    def score_one(self, x: float, ts: float) -> float:
        if self._n < self.min_samples or not is_finite(x):
            return self._scored(0.0, raw=0.0, baseline=self._mean)
        lam = max(self._mean, self.min_rate)
        if x <= lam:
            return self._scored(0.0, raw=0.0, baseline=self._mean)
        phi = self._phi()
        raw = -poisson_log10_sf(x / phi, lam / phi)
        return self._scored(squash_at(raw, self.threshold), raw=raw, baseline=self._mean)

    # --- windows: the expected count follows the city's rhythm ------------------------------
    def score_window(self, w: WindowStats) -> float:
        """Score the window's count against the learned rate at this hour (rate x rhythm)."""
        r = w.rhythm_factor
        x = float(w.count) if w.kind == "count" else w.mean
        if self._n < self.min_samples or not is_finite(x):
            return self._scored(0.0, raw=0.0, baseline=self._mean * r)
        lam = max(self._mean * r, self.min_rate)
        if x <= lam:
            return self._scored(0.0, raw=0.0, baseline=self._mean * r)
        phi = self._phi()
        raw = -poisson_log10_sf(x / phi, lam / phi)
        return self._scored(squash_at(raw, self.threshold), raw=raw, baseline=self._mean * r)

    def learn_window(self, w: WindowStats) -> None:
        """Learn the rate with the rhythm taken out (count / rhythm)."""
        x = float(w.count) if w.kind == "count" else w.mean
        if is_finite(x):
            self._learn(x, w.rhythm_factor)

    def learn_one(self, x: float, ts: float) -> None:
        if is_finite(x):
            self._learn(x, 1.0)

    def _learn(self, x: float, r: float) -> None:
        if x < 0:
            return
        lam = max(self._mean * r, self.min_rate)
        if self._n >= self.min_samples:
            x = min(x, lam + 4.0 * math.sqrt(self._phi() * lam) + 1.0)
        self._n += 1
        a = max(self.alpha, 1.0 / self._n)
        if self._n > 1:  # dispersion: Pearson chi-square of the count at this hour's rate
            d = x - lam  # squared by a product (as the batch form does: bit for bit)
            self._var += a * (d * d / lam - self._var)
        self._mean += a * (x / r - self._mean)

    def detail(self) -> dict[str, float | str]:
        return {"dispersion": self._phi(), "expected": max(self._mean, self.min_rate)}

    def columns(self) -> CountSurgeColumns:
        return CountSurgeColumns(self)


class CountSurgeColumns(ArrayColumns):
    """The batch form of :class:`CountSurge` (windows only). Learning and the cheap part of
    scoring are vectorised; the Poisson tail of rows above their expected count is taken per
    row (``math.lgamma`` and the series have no exact numpy twin)."""

    __slots__ = ()
    detector: CountSurge

    def _spec(self) -> dict[str, tuple[Any, Any, int]]:
        return {"n": (np.int64, 0, 0), "mean": (np.float64, 0.0, 0),
                "var": (np.float64, 1.0, 0)}

    def _export(self, row: int, det: Any) -> None:
        t = self.t
        det._n, det._mean, det._var = int(t["n"][row]), float(t["mean"][row]), float(
            t["var"][row])

    def _import(self, row: int, det: Any) -> None:
        t = self.t
        t["n"][row], t["mean"][row], t["var"][row] = det._n, det._mean, det._var

    def _lam(self, expected: np.ndarray) -> np.ndarray:
        m = self.detector.min_rate
        return np.where(m > expected, m, expected)

    def score_many(self, rows: np.ndarray, w: WindowColumns) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.intp)
        d, t = self.detector, self.t
        x = w.value
        expected = t["mean"][rows] * w.rhythm_factor
        lam = self._lam(expected)
        with np.errstate(invalid="ignore"):
            js = np.flatnonzero((t["n"][rows] >= d.min_samples) & np.isfinite(x) & (x > lam))
        var = t["var"][rows[js]]
        phi = np.where(var > 1.0, var, 1.0)
        raw = np.zeros(len(rows))
        raw[js] = [-poisson_log10_sf(a / p, b / p)
                   for a, b, p in zip(x[js].tolist(), lam[js].tolist(), phi.tolist(), strict=True)]
        out = np.zeros(len(rows))
        out[js] = squash_at_many(raw[js], d.threshold)
        self._scored(rows, out, raw, expected)
        return out

    def learn_many(self, rows: np.ndarray, w: WindowColumns) -> None:
        rows = np.asarray(rows, dtype=np.intp)
        d, t = self.detector, self.t
        r = w.rhythm_factor
        with np.errstate(invalid="ignore"):
            js = np.flatnonzero(np.isfinite(w.value) & (w.value >= 0))
        sel, x = rows[js], w.value[js]
        mean, var, n = t["mean"][sel], t["var"][sel], t["n"][sel]
        lam = self._lam(mean * r)
        phi = np.where(var > 1.0, var, 1.0)
        cap = lam + 4.0 * np.sqrt(phi * lam) + 1.0
        x = np.where((n >= d.min_samples) & (cap < x), cap, x)
        n = n + 1
        inv = 1.0 / n
        a = np.where(inv > d.alpha, inv, d.alpha)
        dev = x - lam
        t["var"][sel] = np.where(n > 1, var + a * (dev * dev / lam - var), var)
        t["mean"][sel] = mean + a * (x / r - mean)
        t["n"][sel] = n
