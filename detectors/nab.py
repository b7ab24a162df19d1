"""NAB's scoring rules as pure array math (no files, no detectors).

The Numenta Anomaly Benchmark scores a detector's per-row anomaly scores against labelled
*anomaly windows*:

* the first 15 % of each file (at most 750 rows) is a **probationary period** and is ignored;
* a window counts once: its first detection earns ``tpWeight * σ(position) / σ(-1)`` where
  ``σ(p) = 2 / (1 + e^{5p}) - 1`` is the **scaled sigmoid** and ``position`` runs from
  ``-1`` (left edge) to ``0`` (right edge), so early detections earn close to the full weight;
  a window with no detection costs ``fnWeight``;
* every detection outside a window costs ``fpWeight * σ(distance)`` where ``distance`` is the
  gap to the end of the previous window in window widths (``fpWeight`` if there is none), so
  late detections just after a window are cheap and distant ones cost the full weight;
* a **profile** (standard, reward low FP rate, reward low FN rate) sets the weights;
* one **threshold per profile** turns scores into detections (``score >= threshold``) for the
  whole corpus, chosen to maximise the corpus total;
* totals are **normalised** so that the null detector scores 0 and a perfect one 100.

This module is our own implementation of those rules (validated against NAB's published
results in ``tests/detectors/test_nab_validation.py``). One deliberate difference: NAB picks
the threshold with a local hill climb from 0.5; :func:`best_threshold` sweeps every distinct
score and returns the global optimum, which is never worse.

>>> import numpy as np
>>> series = Labelled("toy.csv", n=100, windows=((60, 69),))
>>> sw = sweep(series, STANDARD)
>>> scores = np.zeros(100); scores[61] = 0.9     # one early detection, no false alarm
>>> round(file_score(scores, sw, threshold=0.5).score, 3)
0.991
>>> scores[90] = 0.8                               # plus a false alarm long after the window
>>> round(file_score(scores, sw, threshold=0.5).score, 3)
0.881
>>> curve = score_curve([scores], [sw])
>>> best_threshold(curve).threshold                # 0.9 catches the window, skips the alarm
0.9
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "LOW_FN",
    "LOW_FP",
    "NAB_PROFILES",
    "NO_DETECTION",
    "PROBATION_PERCENT",
    "STANDARD",
    "CostMatrix",
    "Curve",
    "FileScore",
    "Labelled",
    "Sweep",
    "ThresholdScore",
    "best_threshold",
    "file_score",
    "normalise",
    "null_score",
    "probation_length",
    "profiles_from_json",
    "scaled_sigmoid",
    "score_at",
    "score_curve",
    "sweep",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: share of each file NAB ignores at the start (capped at 5000 rows' worth)
PROBATION_PERCENT = 0.15
#: a threshold above every score in [0, 1]: nothing is detected
NO_DETECTION = 1.1

# group codes of a point in a :class:`Sweep` (window ids are 0, 1, ...)
_OUTSIDE = -1
_PROBATION = -2


@dataclass(frozen=True, slots=True)
class CostMatrix:
    """The weights of one NAB profile (``tnWeight`` plays no part in the score).

    >>> CostMatrix.from_json({"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11})
    CostMatrix(tp=1.0, fp=0.11, fn=2.0)
    """

    tp: float = 1.0
    fp: float = 0.11
    fn: float = 1.0

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> CostMatrix:
        """Read NAB's ``{"tpWeight": .., "fpWeight": .., "fnWeight": ..}``."""
        vals = []
        for key in ("tpWeight", "fpWeight", "fnWeight"):
            v = obj.get(key)
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
                raise ValueError(f"cost matrix needs a finite number for {key!r}, got {v!r}")
            vals.append(float(v))
        return cls(tp=vals[0], fp=vals[1], fn=vals[2])


STANDARD = CostMatrix(tp=1.0, fp=0.11, fn=1.0)
LOW_FP = CostMatrix(tp=1.0, fp=0.22, fn=1.0)
LOW_FN = CostMatrix(tp=1.0, fp=0.11, fn=2.0)
#: NAB's three application profiles, as in its ``config/profiles.json``
NAB_PROFILES: dict[str, CostMatrix] = {
    "standard": STANDARD,
    "reward_low_FP_rate": LOW_FP,
    "reward_low_FN_rate": LOW_FN,
}


def profiles_from_json(obj: Mapping[str, object]) -> dict[str, CostMatrix]:
    """Profiles from the parsed ``config/profiles.json`` (``{name: {"CostMatrix": {..}}}``).

    >>> profiles_from_json({"standard": {"CostMatrix": {"tpWeight": 1, "fpWeight": 0.11,
    ...                                                 "fnWeight": 1}}})
    {'standard': CostMatrix(tp=1.0, fp=0.11, fn=1.0)}
    """
    out: dict[str, CostMatrix] = {}
    for name, prof in obj.items():
        if not isinstance(prof, Mapping) or not isinstance(prof.get("CostMatrix"), Mapping):
            raise ValueError(f"profile {name!r} has no CostMatrix object")
        try:
            out[name] = CostMatrix.from_json(prof["CostMatrix"])
        except ValueError as exc:
            raise ValueError(f"profile {name!r}: {exc}") from None
    if not out:
        raise ValueError("no profiles defined")
    return out


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
    group = np.full(n, _OUTSIDE, dtype=np.int64)
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
    group[:p] = _PROBATION
    scored = group[group >= 0]
    return Sweep(gain, group, int(np.unique(scored).size), cost)


@dataclass(frozen=True, slots=True)
class FileScore:
    """A file's NAB score at one threshold, with NAB's row counts (probation excluded)."""

    score: float
    tp: int
    tn: int
    fp: int
    fn: int


def file_score(scores: npt.ArrayLike, sw: Sweep, threshold: float) -> FileScore:
    """Score one file directly: detections are rows with ``score >= threshold``."""
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != sw.gain.shape:
        raise ValueError(f"{s.size} scores for a file of {sw.gain.size} rows")
    live = sw.group != _PROBATION
    det = (s >= threshold) & live
    inside = sw.group >= 0
    total = float(sw.gain[det & ~inside].sum())
    for wid in np.unique(sw.group[inside]):
        hit = det & (sw.group == wid)
        total += float(sw.gain[hit].max()) if hit.any() else -sw.cost.fn
    tp = int((det & inside).sum())
    fp = int((det & ~inside).sum())
    fn = int((live & inside).sum()) - tp
    tn = int((live & ~inside).sum()) - fp
    return FileScore(total, tp, tn, fp, fn)


@dataclass(frozen=True, slots=True)
class ThresholdScore:
    """The corpus total at one threshold."""

    threshold: float
    score: float


@dataclass(frozen=True, slots=True)
class Curve:
    """Corpus totals for every distinct threshold, highest threshold first.

    ``scores[k]`` is the total when rows with ``score >= thresholds[k]`` are detections; the
    first entry (:data:`NO_DETECTION`) detects nothing.
    """

    thresholds: FloatArray
    scores: FloatArray

    def at(self, threshold: float) -> float:
        """The total at an arbitrary threshold (the entry with the lowest ``t >= threshold``)."""
        k = int(np.searchsorted(-self.thresholds, -threshold, side="right")) - 1
        return float(self.scores[max(k, 0)])


def score_curve(scores: Sequence[npt.ArrayLike], sweeps: Sequence[Sweep]) -> Curve:
    """Sweep every threshold over a corpus at once (``O(N log N)`` in the total rows).

    Totals are the sum over files of :func:`file_score` at each threshold.
    """
    if len(scores) != len(sweeps):
        raise ValueError("one score array per sweep")
    if not sweeps:
        return Curve(np.array([NO_DETECTION]), np.array([0.0]))
    cost = sweeps[0].cost
    parts_s, parts_g, parts_w = [], [], []
    offset = 0
    base = 0.0
    for s, sw in zip(scores, sweeps, strict=True):
        arr = np.asarray(s, dtype=np.float64)
        if arr.shape != sw.gain.shape:
            raise ValueError(f"{arr.size} scores for a file of {sw.gain.size} rows")
        if sw.cost != cost:
            raise ValueError("all sweeps of a curve must share one cost matrix")
        live = sw.group != _PROBATION
        grp = sw.group[live]
        parts_s.append(arr[live])
        parts_g.append(sw.gain[live])
        parts_w.append(np.where(grp >= 0, grp + offset, _OUTSIDE))
        offset += int(sw.group.max()) + 1 if sw.group.size else 0
        base -= cost.fn * sw.windows
    s_all = np.concatenate(parts_s)
    order = np.argsort(-s_all, kind="stable")
    s_sorted = s_all[order]
    gain = np.concatenate(parts_g)[order]
    grp = np.concatenate(parts_w)[order]

    delta = np.where(grp == _OUTSIDE, gain, 0.0)
    in_pos = np.flatnonzero(grp >= 0)
    if in_pos.size:
        # a window is worth the best gain among its detected rows (or -fn when none):
        # walk each window's rows in descending score order and book the running max's steps
        o2 = np.argsort(grp[in_pos], kind="stable")
        pos2 = in_pos[o2]
        g2 = grp[pos2]
        v2 = gain[pos2]
        big = 4.0 * (abs(cost.tp) + abs(cost.fn) + 1.0)
        rank = np.cumsum(np.r_[0, np.diff(g2) != 0])  # dense group index, ascending
        run = np.maximum.accumulate(v2 + rank * big) - rank * big
        run = np.maximum(run, -cost.fn)
        prev = np.r_[-cost.fn, run[:-1]]
        starts = np.r_[True, g2[1:] != g2[:-1]]
        prev[starts] = -cost.fn
        delta[pos2] = run - prev
    total = base + np.cumsum(delta)
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True] if s_sorted.size else np.array([], bool)
    thresholds = np.r_[NO_DETECTION, s_sorted[last]]
    totals = np.r_[base, total[last]]
    return Curve(thresholds.astype(np.float64), totals.astype(np.float64))


def best_threshold(curve: Curve) -> ThresholdScore:
    """The threshold with the highest corpus total (the highest such threshold on ties)."""
    k = int(np.argmax(curve.scores))
    return ThresholdScore(float(curve.thresholds[k]), float(curve.scores[k]))


def score_at(scores: Sequence[npt.ArrayLike], sweeps: Sequence[Sweep], threshold: float) -> float:
    """The corpus total at a fixed threshold (sum of :func:`file_score`)."""
    return math.fsum(
        file_score(s, sw, threshold).score for s, sw in zip(scores, sweeps, strict=True)
    )


def null_score(sweeps: Sequence[Sweep]) -> float:
    """The optimised total of NAB's null detector (a constant score on every row)."""
    const = [np.full(sw.gain.shape, 0.5) for sw in sweeps]
    return best_threshold(score_curve(const, sweeps)).score


def normalise(raw: float, *, null: float, perfect: float) -> float:
    """Map a raw total so that the null detector is 0 and a perfect detector 100.

    ``perfect`` is ``tpWeight`` times the number of labelled windows in the corpus.

    >>> round(normalise(46.63445, null=-116.0, perfect=116.0), 4)  # NAB numenta, standard
    70.1011
    """
    if perfect == null:
        raise ValueError("perfect and null totals coincide: nothing to normalise")
    return 100.0 * (raw - null) / (perfect - null)
