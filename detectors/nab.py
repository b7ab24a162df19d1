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
score and returns the global optimum, which is never worse. The rules live in three rooms:
the profiles in :mod:`detectors.nab_profiles`, the windows and each row's worth in
:mod:`detectors.nab_windows`, and here the scores of files and corpora, the threshold and the
normalisation (this module re-exports the other two's names).

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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.nab_profiles import (
    LOW_FN,
    LOW_FP,
    NAB_PROFILES,
    STANDARD,
    CostMatrix,
    profiles_from_json,
)
from detectors.nab_windows import (
    OUTSIDE,
    PROBATION,
    PROBATION_PERCENT,
    FloatArray,
    Labelled,
    Sweep,
    probation_length,
    scaled_sigmoid,
    sweep,
)

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

#: a threshold above every score in [0, 1]: nothing is detected
NO_DETECTION = 1.1


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
    live = sw.group != PROBATION
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
        live = sw.group != PROBATION
        grp = sw.group[live]
        parts_s.append(arr[live])
        parts_g.append(sw.gain[live])
        parts_w.append(np.where(grp >= 0, grp + offset, OUTSIDE))
        offset += int(sw.group.max()) + 1 if sw.group.size else 0
        base -= cost.fn * sw.windows
    s_all = np.concatenate(parts_s)
    order = np.argsort(-s_all, kind="stable")
    s_sorted = s_all[order]
    gain = np.concatenate(parts_g)[order]
    grp = np.concatenate(parts_w)[order]

    delta = np.where(grp == OUTSIDE, gain, 0.0)
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
