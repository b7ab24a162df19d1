"""Robust z-score: distance from the rolling median in units of the rolling MAD.

The baseline is the last ``window`` finite values, kept in a fixed-size ``array('f')`` ring of
single-precision floats (bounded memory: ``4 * window`` bytes plus a small header; a worker
keeps one per tracked series). The raw statistic is

    z = |x - median| / scale,   scale = 1.4826 * MAD

(the MAD of normally distributed data times 1.4826 estimates the standard deviation). When
more than half the window is identical the MAD is 0; the scale then falls back to 1.2533 times
the mean absolute deviation from the median, and finally to ``min_scale``. The scale is never
below a millionth of the median's magnitude: single precision keeps about 7 digits, so a
narrower spread would be rounding noise (it bounds the rounding's effect on z to about 0.1).
The score is :func:`~detectors.base.squash_at` of ``z``: 0.9 at ``z == threshold``.
"""

from __future__ import annotations

import array
import math
from typing import Any

import numpy as np

from detectors.base import Detector, is_finite, squash_at
from detectors.columns import ArrayColumns, WindowColumns, squash_at_many
from detectors.masks import every, some, where

__all__ = ["RobustZColumns", "RobustZScore"]

_MAD_TO_SIGMA = 1.4826
_MEANAD_TO_SIGMA = 1.2533
_PRECISION = 1e-6  # the smallest scale relative to the median (single-precision ring)
_CHUNK = 1024  # rows whose rings the batch form sorts together


def _kth_deviation(s: list[float], med: float, k: int) -> float:
    """The ``k``-th smallest ``|v - med|`` over the sorted values ``s`` (``med`` within them).

    The ``k`` values nearest to ``med`` are a run ``s[lo:lo + k]``; a binary search finds the
    run, and its farther end is the answer (no second sort of the deviations).

    >>> _kth_deviation([1.0, 2.0, 4.0, 7.0, 20.0], 4.0, 2)  # deviations 0, 2, 3, 3, 16
    2.0
    """
    lo, hi = 0, len(s) - k
    while lo < hi:
        mid = (lo + hi) >> 1
        if med - s[mid] > s[mid + k] - med:
            lo = mid + 1
        else:
            hi = mid
    below, above = med - s[lo], s[lo + k - 1] - med
    return below if below > above else above


def _kth_deviations(dev: np.ndarray, k: int) -> np.ndarray:
    """Per column, the ``k``-th smallest of ``dev``: the deviations ``|s - med|`` of a
    series' values ``s`` sorted down the column (they fall, then rise).

    Any run of ``k`` sorted values has its largest deviation at an end, and the ``k`` values
    nearest ``med`` form such a run, so the answer is the least of the runs' larger ends: no
    sort of the deviations (as :func:`_kth_deviation`'s binary search, for all series at once).

    >>> _kth_deviations(np.array([[3.0], [2.0], [0.0], [3.0], [16.0]]), 2).tolist()
    [2.0]
    """
    n = dev.shape[0]
    return np.maximum(dev[: n - k + 1], dev[k - 1:]).min(axis=0)


class RobustZScore(Detector):
    """Median/MAD z-score over a rolling window of recent values.

    Parameters: ``window`` values in the baseline (64 by default: one value per closed window,
    an hour of one-minute windows; a shorter window's MAD is too noisy a scale); ``threshold``
    the |z| that scores 0.9;
    ``min_samples`` values needed before anything scores above 0; ``min_scale`` the smallest
    scale used when the window is (nearly) constant.

    >>> d = RobustZScore(window=16, threshold=4.0)
    >>> for t in range(16):
    ...     _ = d.update(20.0 + (t % 4) * 0.5, ts=60.0 * t)
    >>> round(d.score_one(21.0, ts=960.0), 3), round(d.score_one(35.0, ts=960.0), 3)
    (0.0, 1.0)
    >>> e = d.explain(); e.baseline, round(e.raw, 1), e.threshold
    (20.75, 19.2, 4.0)
    """

    name = "robust_z"
    rhythm_aware = True
    version = "2"  # 2: single-precision ring
    state_attrs = ("_ring", "_pos")
    __slots__ = ("_pos", "_ring", "min_samples", "min_scale", "threshold", "window")

    def __init__(
        self,
        *,
        window: int = 64,
        threshold: float = 6.0,
        min_samples: int = 16,
        min_scale: float = 1e-9,
    ) -> None:
        if window < 3:
            raise ValueError(f"robust_z: window must be >= 3, got {window!r}")
        if not threshold > 0:
            raise ValueError(f"robust_z: threshold must be > 0, got {threshold!r}")
        if min_samples < 1:
            raise ValueError("robust_z: min_samples must be at least 1")
        if not min_scale > 0:
            raise ValueError("robust_z: min_scale must be > 0")
        super().__init__()
        self.window = int(window)
        self.threshold = float(threshold)
        self.min_samples = min(int(min_samples), self.window)
        self.min_scale = float(min_scale)
        self._ring = array.array("f")  # grows to `window`, then overwritten at `_pos`
        self._pos = 0

    def _median_scale(self) -> tuple[float, float]:
        s = sorted(self._ring)
        n = len(s)
        h = n >> 1
        if n & 1:
            med = s[h]
            mad = _kth_deviation(s, med, h + 1)
        else:
            med = 0.5 * (s[h - 1] + s[h])
            mad = 0.5 * (_kth_deviation(s, med, h) + _kth_deviation(s, med, h + 1))
        scale = _MAD_TO_SIGMA * mad
        floor = max(self.min_scale, _PRECISION * abs(med))
        if scale < floor:
            mean_ad = math.fsum([abs(v - med) for v in s]) / n
            scale = max(_MEANAD_TO_SIGMA * mean_ad, floor)
        return med, scale

    def score_one(self, x: float, ts: float) -> float:
        if len(self._ring) < self.min_samples or not (
            is_finite(x)
        ):
            return self._scored(0.0, raw=0.0, baseline=math.nan)
        med, scale = self._median_scale()
        z = abs(x - med) / scale
        return self._scored(squash_at(z, self.threshold), raw=z, baseline=med)

    def learn_one(self, x: float, ts: float) -> None:
        if not (is_finite(x)):
            return
        ring = self._ring
        if len(ring) < self.window:
            ring.append(x)
        else:
            ring[self._pos] = x
            self._pos = (self._pos + 1) % self.window

    def recent(self) -> tuple[float, ...]:
        r = self._ring
        return tuple(r[self._pos :]) + tuple(r[: self._pos])

    def detail(self) -> dict[str, float | str]:
        return {"samples": float(len(self._ring))}

    def columns(self) -> RobustZColumns:
        return RobustZColumns(self)


class RobustZColumns(ArrayColumns):
    """The batch form of :class:`RobustZScore`: the rings as one ``rows x window`` float32
    array; medians and MADs of the rows that score are taken together (rows grouped by how
    full their ring is), the mean-deviation fallback per row (``math.fsum``, as one series).
    """

    __slots__ = ()
    detector: RobustZScore

    def _spec(self) -> dict[str, tuple[Any, Any, int]]:
        return {"ring": (np.float32, 0.0, self.detector.window), "len": (np.int32, 0, 0),
                "pos": (np.int32, 0, 0)}

    def _export(self, row: int, det: Any) -> None:
        t = self.t
        det._ring = array.array("f", t["ring"][row, : t["len"][row]].tobytes())
        det._pos = int(t["pos"][row])

    def _state_column(self, attr: str, rows: np.ndarray) -> list[Any]:
        if attr != "_ring":
            return super()._state_column(attr, rows)
        ring, length = self.t["ring"], self.t["len"]
        return [ring[r, :n].tobytes() for r, n in zip(rows.tolist(), length[rows].tolist(),
                                                       strict=True)]

    def _import(self, row: int, det: Any) -> None:
        ring, pos, t = det._ring, det._pos, self.t
        window = self.detector.window
        if len(ring) > window or not 0 <= pos < window:
            raise ValueError(f"robust_z: state does not fit window={window}")
        t["ring"][row, : len(ring)] = np.frombuffer(ring, dtype=np.float32)
        t["len"][row], t["pos"][row] = len(ring), pos

    def score_many(self, rows: np.ndarray, w: WindowColumns) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.intp)
        d, t = self.detector, self.t
        live, x, r = self._value_inputs(w)
        out = np.zeros(len(rows))
        raw = np.zeros(len(rows))
        med = np.full(len(rows), math.nan)
        length = t["len"][rows]
        ok = live & (length >= d.min_samples) & np.isfinite(x)
        scored = where(ok)
        lens = length[scored]
        slow: list[int] = []
        if len(lens) and every(lens == lens[0]):  # the steady state: one ring length
            groups = [(int(lens[0]), scored)]
        else:  # filling up: the lengths present (at most `window` of them)
            groups = [(n, scored[lens == n]) for n in where(np.bincount(lens)).tolist()]
        ring, window = t["ring"], d.window
        # a few thousand rows at a time keep the temporaries in cache
        chunks = [(n, js[i:i + _CHUNK]) for n, js in groups for i in range(0, len(js), _CHUNK)]
        for n, js in chunks:
            sel = rows[js]
            # sorting single precision gives the order of the widened values
            s = np.sort(ring[sel] if n == window else ring[sel, :n], axis=1)
            good = np.isfinite(s[:, 0]) & np.isfinite(s[:, -1])  # NaN sorts last
            if not every(good):
                slow += js[~good].tolist()
                js, s = js[good], s[good]
            m, scale = self._median_scale(s)
            z = np.abs(x[js] - m) / scale
            raw[js], med[js] = z, m
            out[js] = squash_at_many(z, d.threshold)
        if r != 1.0:
            med *= r
        self._scored_live(rows, live, out, raw, med)
        if slow:
            self._score_one(rows, w, slow, out)
        return out

    def _median_scale(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Median and scale per row of sorted single-precision values ``s``, in double
        precision (as ``RobustZScore._median_scale`` on its ring's Python floats)."""
        d = self.detector
        n = s.shape[1]
        h = n >> 1
        f8 = np.float64
        med = s[:, h].astype(f8) if n & 1 else 0.5 * (s[:, h - 1].astype(f8) + s[:, h])
        # the deviations in double precision, one row per rank: the runs' ends are then
        # whole rows, compared across all series at once
        dev = s.T.astype(f8, order="C")
        np.subtract(dev, med, out=dev)
        np.abs(dev, out=dev)
        if n & 1:
            mad = _kth_deviations(dev, h + 1)
        else:
            mad = 0.5 * (_kth_deviations(dev, h) + _kth_deviations(dev, h + 1))
        scale = _MAD_TO_SIGMA * mad
        floor = np.maximum(_PRECISION * np.abs(med), d.min_scale)
        for i in where(scale < floor).tolist():
            devs = dev[:, i]  # math.fsum is exact, so the order does not matter
            mean_ad = math.fsum(devs.tolist()) / n if devs.any() else 0.0
            v = _MEANAD_TO_SIGMA * mean_ad
            scale[i] = floor[i] if floor[i] > v else v
        return med, scale

    def learn_many(self, rows: np.ndarray, w: WindowColumns) -> None:
        rows = np.asarray(rows, dtype=np.intp)
        live, x, _ = self._value_inputs(w)
        ok = live & np.isfinite(x)
        whole = every(ok)
        sel = rows if whole else rows[ok]
        with np.errstate(over="ignore"):
            xs = (x if whole else x[ok]).astype(np.float32)
        t, window = self.t, self.detector.window
        length, pos = t["len"][sel], t["pos"][sel]
        grow = length < window
        if some(grow):
            t["ring"][sel[grow], length[grow]] = xs[grow]
            t["len"][sel[grow]] += 1
            full = ~grow
            sel, pos, xs = sel[full], pos[full], xs[full]
        t["ring"][sel, pos] = xs
        pos += 1
        pos[pos == window] = 0
        t["pos"][sel] = pos
