"""The batch forms of the sensor-health detectors (:mod:`detectors.health`): the state of many
series as columns, scored and learned together, equal to the one-series forms."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from detectors.columns import ArrayColumns, WindowColumns, squash_at_many
from detectors.masks import every, some, where

if TYPE_CHECKING:
    from detectors.health import Silence, StuckValue

__all__ = ["LN10", "SilenceColumns", "StuckColumns"]

LN10 = math.log(10.0)

_MAX_QUIET = 256  # the longest quiet stretch the batch form decays in numpy steps


class StuckColumns(ArrayColumns):
    """The batch form of :class:`StuckValue` (windows only: each row's run value and length)."""

    __slots__ = ()
    detector: StuckValue

    def _spec(self) -> dict[str, tuple[Any, Any, int]]:
        return {"value": (np.float64, math.nan, 0), "run": (np.int64, 0, 0)}

    def _export(self, row: int, det: Any) -> None:
        det._value, det._run = float(self.t["value"][row]), int(self.t["run"][row])

    def _import(self, row: int, det: Any) -> None:
        self.t["value"][row], self.t["run"][row] = det._value, det._run

    def _next(self, rows: np.ndarray, w: WindowColumns) -> tuple[np.ndarray, ...]:
        """(window rows that count, their rows, next run value, next run length)."""
        if w.kind != "measure":
            js = np.zeros(0, dtype=np.intp)
            return js, js, np.zeros(0), np.zeros(0, dtype=np.int64)
        lo, hi, n, last = w.min, w.max, w.count, w.last
        counts = (n > 0) & np.isfinite(lo) & np.isfinite(hi)
        if every(counts):  # every window counts: no gathers
            js, sel = np.arange(len(rows)), rows
        else:
            js = where(counts)
            sel = rows[js]
            lo, hi, n, last = lo[js], hi[js], n[js], last[js]
        last = np.where(np.isfinite(last), last, hi)
        tol = self.detector.tolerance
        value, run = self.t["value"][sel], self.t["run"][sel]
        with np.errstate(invalid="ignore", over="ignore"):
            flat = hi - lo <= tol
            same = flat & (run != 0) & (np.abs(lo - value) <= tol)
        nv = np.where(same, value, np.where(flat, lo, last))
        nr = np.where(same, run + n, np.where(flat, n, 1))
        return js, sel, nv, nr

    def score_many(self, rows: np.ndarray, w: WindowColumns) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.intp)
        d = self.detector
        raw = np.zeros(len(rows))
        base = self.t["value"][rows]
        nxt = js, _, value, run = self._next(rows, w)
        self._hold(rows, w, nxt)  # learn_many stores the same next runs
        r = run.astype(np.float64)
        with np.errstate(invalid="ignore"):
            for v in d.ignore:
                r[np.abs(value - v) <= d.tolerance] = 0.0
        raw[js], base[js] = r, value
        out = squash_at_many(raw - 1.0, d.threshold - 1.0)  # raw 0 or 1 squashes to 0
        self._scored(rows, out, raw, base)
        return out

    def learn_many(self, rows: np.ndarray, w: WindowColumns) -> None:
        rows = np.asarray(rows, dtype=np.intp)
        nxt = self._held(rows, w)
        _, sel, value, run = self._next(rows, w) if nxt is None else nxt
        self.t["value"][sel], self.t["run"][sel] = value, run


class SilenceColumns(ArrayColumns):
    """The batch form of :class:`Silence` (windows only). The end of an empty stretch, where
    the rate decays once per quiet window, takes the one-series path."""

    __slots__ = ()
    detector: Silence
    _FLOATS = ("rate", "missing", "interval", "last_ts")

    def _spec(self) -> dict[str, tuple[Any, Any, int]]:
        f, i = np.float64, np.int64
        return {"rate": (f, 0.0, 0), "n": (i, 0, 0), "empty": (i, 0, 0),
                "missing": (f, 0.0, 0), "interval": (f, 0.0, 0), "last_ts": (f, math.nan, 0)}

    def _export(self, row: int, det: Any) -> None:
        t = self.t
        for a in self._FLOATS:
            setattr(det, "_" + a, float(t[a][row]))
        det._n, det._empty = int(t["n"][row]), int(t["empty"][row])

    def _import(self, row: int, det: Any) -> None:
        t = self.t
        for a in (*self._FLOATS, "n", "empty"):
            t[a][row] = getattr(det, "_" + a)

    def score_many(self, rows: np.ndarray, w: WindowColumns) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.intp)
        d, t = self.detector, self.t
        r = w.rhythm_factor
        expected = t["rate"][rows] * r
        out = np.zeros(len(rows))
        raw = np.zeros(len(rows))
        quiet = w.count <= 0
        if some(quiet):  # only an empty window scores
            js = where(quiet & (t["n"][rows] >= d.min_samples))
            sel = rows[js]
            k = t["empty"][sel] + 1
            missing = t["missing"][sel] + expected[js]
            raw[js] = np.where(k >= d.min_windows, missing / LN10, 0.0)
            out[js] = squash_at_many(raw[js], d.threshold)
        self._scored(rows, out, raw, expected)
        return out

    def learn_many(self, rows: np.ndarray, w: WindowColumns) -> None:
        rows = np.asarray(rows, dtype=np.intp)
        t, alpha = self.t, self.detector.alpha
        r = w.rhythm_factor
        quiet = w.count <= 0
        some_quiet = some(quiet)
        if some_quiet:
            sel = rows[quiet]
            t["empty"][sel] += 1
            t["missing"][sel] = t["missing"][sel] + t["rate"][sel] * r
            ends = ~quiet & (t["empty"][rows] > 0)
        else:
            ends = t["empty"][rows] > 0
        if some(ends):
            self._end_stretches(rows, w, where(ends))
        if some_quiet:
            js = where(~quiet)
            sel, count = rows[js], w.count[js]
        else:
            sel, count = rows, w.count
        n = t["n"][sel] + 1
        inv = 1.0 / n
        a = np.where(inv > alpha, inv, alpha)
        rate = t["rate"][sel]
        t["n"][sel] = n
        t["rate"][sel] = rate + a * (count / r - rate)
        t["missing"][sel] = 0.0
        t["empty"][sel] = 0

    def _end_stretches(self, rows: np.ndarray, w: WindowColumns, js: np.ndarray) -> None:
        """Learn the quiet windows of the empty stretches that end now (the rate decays once
        per window, at most ``_MAX_QUIET`` together; longer stretches take the one-series
        path)."""
        d, t = self.detector, self.t
        sel = rows[js]
        empty = t["empty"][sel]
        surprise = t["missing"][sel] / LN10
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            part = empty * d.threshold / surprise
        calm = surprise < d.threshold
        odd = ~calm & ~np.isfinite(part)
        quiet = np.where(calm, empty, np.where(calm | odd, 0, part).astype(np.int64))
        slow = odd | (quiet > _MAX_QUIET)
        if some(slow):
            self._learn_one(rows, w, js[slow])
            sel, quiet = sel[~slow], quiet[~slow]
        for k in range(int(quiet.max(initial=0))):
            sub = sel[quiet > k]
            n = t["n"][sub] + 1
            inv = 1.0 / n
            t["n"][sub] = n
            t["rate"][sub] = t["rate"][sub] * (1.0 - np.where(inv > d.alpha, inv, d.alpha))
