"""Cross-validation over a NAB-layout corpus: choose on some categories, score on the others.

A NAB score whose threshold and parameters were picked on the whole corpus says how well the
detector *can* do; an operator sees how it does on data nobody tuned it for. Here the corpus's
categories (``realTweets``, ``realKnownCause``, ...) are split into ``k`` folds
(:func:`category_folds`, balanced by labelled windows); for each fold, every candidate
parameter set is scored on the *other* folds, the best one (and, unless the threshold is
fixed, its best threshold) is kept, and that choice alone is scored on the held-out fold.

:func:`cross_validate` takes the candidates' per-file scores (a file's scores do not depend on
other files, so each candidate runs once over the corpus) and returns each fold's choice and
held-out score, their mean, and the *pooled* held-out score: every file scored with the
choice made without its category, normalised over the whole corpus like an ordinary score.

>>> import numpy as np
>>> from pathlib import Path
>>> from detectors.corpus import Corpus, Series
>>> t = np.arange(200).astype("datetime64[m]")
>>> names = ["a/x.csv", "b/y.csv", "c/z.csv"]
>>> series = {n: Series(n, t, np.zeros(200)) for n in names}
>>> labelled = {n: nab.Labelled(n, 200, ((150, 159),)) for n in names}
>>> corpus = Corpus(Path("."), series, labelled, {"standard": nab.STANDARD})
>>> hit, miss = np.zeros(200), np.zeros(200)
>>> hit[151] = 0.95                                # an early detection in every window
>>> cv = cross_validate(corpus, {"good": dict.fromkeys(names, hit),
...                              "bad": dict.fromkeys(names, miss)}, k=3, threshold=0.9)
>>> [(f.held_out, f.chosen) for f in cv.folds]
[(('a',), 'good'), (('b',), 'good'), (('c',), 'good')]
>>> round(cv.mean, 1), round(cv.pooled, 1)
(99.6, 99.6)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors import nab
from detectors.corpus import Corpus

__all__ = [
    "GRIDS",
    "CrossValidation",
    "Fold",
    "candidate_label",
    "category_folds",
    "cross_validate",
    "expand_grid",
]

Results = Mapping[str, Mapping[str, npt.ArrayLike]]

#: the candidate parameters cross-validation chooses among for each built-in (each value
#: list includes the default); detectors not listed are scored with their defaults only
GRIDS: dict[str, dict[str, list[Any]]] = {
    "adaptive": {"quiet_rows": [72, 144, 288], "rarity": [0.01, 0.02, 0.05]},
    "ewma": {"threshold": [3.0, 4.5, 6.0]},
    "cusum": {"threshold": [5.0, 10.0, 20.0]},
    "robust_z": {"threshold": [4.0, 6.0, 9.0]},
    "seasonal": {"threshold": [4.0, 6.0, 9.0]},
    "count_surge": {"threshold": [3.0, 5.0, 8.0]},
    "threshold": {},
    "physical_range": {},
    "stuck": {},
    "silence": {},
    "isolation_forest": {},
}


def category_of(name: str) -> str:
    """The category (first directory) of a corpus file name.

    >>> category_of("realTweets/Twitter_volume_AAPL.csv"), category_of("top.csv")
    ('realTweets', '(top)')
    """
    return name.split("/", 1)[0] if "/" in name else "(top)"


def category_folds(corpus: Corpus, k: int) -> list[tuple[str, ...]]:
    """Split the corpus's categories into ``k`` folds with about as many windows each.

    Categories are placed largest first into the fold with the fewest windows so far; a
    category without windows joins the fold with the fewest categories. Every fold holds at
    least one window (a fold without windows has no NAB score), so ``k`` is at most the
    number of categories with windows.
    """
    windows: dict[str, int] = {}
    for n in corpus.names:
        cat = category_of(n)
        windows[cat] = windows.get(cat, 0) + len(corpus.labelled[n].windows)
    scored = sorted((c for c in windows if windows[c]), key=lambda c: (-windows[c], c))
    if not 2 <= k <= len(scored):
        raise ValueError(
            f"--folds must be in [2, {len(scored)}] (categories with labelled windows), got {k}"
        )
    folds: list[list[str]] = [[] for _ in range(k)]
    load = [0] * k
    for cat in scored:
        i = min(range(k), key=lambda j: (load[j], j))
        folds[i].append(cat)
        load[i] += windows[cat]
    for cat in sorted(c for c in windows if not windows[c]):
        min(folds, key=len).append(cat)
    return [tuple(sorted(f)) for f in folds]


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in order (one empty dict for an empty grid).

    >>> expand_grid({"quiet_rows": [72, 144], "threshold": [0.01]})
    [{'quiet_rows': 72, 'threshold': 0.01}, {'quiet_rows': 144, 'threshold': 0.01}]
    """
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def candidate_label(params: Mapping[str, Any]) -> str:
    """A short label for a parameter set (``defaults`` for none).

    >>> candidate_label({}), candidate_label({"quiet_rows": 72, "threshold": 0.01})
    ('defaults', 'quiet_rows=72 threshold=0.01')
    """
    return " ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"


@dataclass(frozen=True, slots=True)
class Fold:
    """One fold: the held-out categories, the choice made on the others, and its scores."""

    held_out: tuple[str, ...]
    chosen: str
    threshold: float
    train: float  # normalised score of the choice on the training categories
    held_out_score: float  # normalised score of the choice on the held-out categories


@dataclass(frozen=True, slots=True)
class CrossValidation:
    """Each fold, the mean of the held-out scores, and the pooled held-out score."""

    profile: str
    fixed_threshold: float | None
    folds: tuple[Fold, ...]
    pooled: float

    @property
    def mean(self) -> float:
        """Mean of the folds' held-out normalised scores."""
        return math.fsum(f.held_out_score for f in self.folds) / len(self.folds)

    def to_json(self) -> dict[str, Any]:
        """Everything, JSON-able."""
        return {
            "profile": self.profile,
            "fixed_threshold": self.fixed_threshold,
            "mean": self.mean,
            "pooled": self.pooled,
            "folds": [
                {"held_out": list(f.held_out), "chosen": f.chosen, "threshold": f.threshold,
                 "train": f.train, "held_out_score": f.held_out_score}
                for f in self.folds
            ],
        }


class _Scorer:
    """Sweeps and null scores of subsets of the corpus under one profile (cached per file)."""

    def __init__(self, corpus: Corpus, cost: nab.CostMatrix) -> None:
        self.corpus = corpus
        self.cost = cost
        self.sweeps = {n: nab.sweep(corpus.labelled[n], cost) for n in corpus.names}

    def bounds(self, names: Sequence[str]) -> tuple[float, float]:
        """(null, perfect) raw totals of a subset."""
        sweeps = [self.sweeps[n] for n in names]
        windows = sum(len(self.corpus.labelled[n].windows) for n in names)
        return nab.null_score(sweeps), self.cost.tp * windows

    def best(self, results: Mapping[str, npt.ArrayLike], names: Sequence[str],
             threshold: float | None) -> tuple[float, float]:
        """(threshold, raw total) on a subset: at ``threshold``, or the best one if None."""
        arrays = [np.asarray(results[n], dtype=np.float64) for n in names]
        sweeps = [self.sweeps[n] for n in names]
        if threshold is not None:
            return threshold, nab.score_at(arrays, sweeps, threshold)
        best = nab.best_threshold(nab.score_curve(arrays, sweeps))
        return best.threshold, best.score


def cross_validate(corpus: Corpus, results: Results, *, k: int, threshold: float | None = None,
                   profile: str = "standard") -> CrossValidation:
    """Choose a candidate (and a threshold unless fixed) on ``k - 1`` folds, score it on the
    held-out one, for each fold (module docstring). ``results`` maps a candidate's label to
    its per-file scores; ties go to the first candidate."""
    if not results:
        raise ValueError("no candidates to choose from")
    cost = corpus.profiles[profile]
    scorer = _Scorer(corpus, cost)
    folds: list[Fold] = []
    pooled_raw = 0.0
    for held in category_folds(corpus, k):
        test = [n for n in corpus.names if category_of(n) in held]
        train = [n for n in corpus.names if category_of(n) not in held]
        best: tuple[float, float, str] | None = None
        for label, res in results.items():
            thr, raw = scorer.best(res, train, threshold)
            if best is None or raw > best[1]:
                best = (thr, raw, label)
        assert best is not None
        thr, raw, label = best
        null, perfect = scorer.bounds(train)
        train_score = nab.normalise(raw, null=null, perfect=perfect)
        _, test_raw = scorer.best(results[label], test, thr)
        null, perfect = scorer.bounds(test)
        folds.append(Fold(held, label, thr, train_score,
                          nab.normalise(test_raw, null=null, perfect=perfect)))
        pooled_raw += test_raw
    null, perfect = scorer.bounds(corpus.names)
    pooled = nab.normalise(pooled_raw, null=null, perfect=perfect)
    return CrossValidation(profile, threshold, tuple(folds), pooled)
