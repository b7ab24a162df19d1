"""Run a detector over a corpus in NAB's layout and score it (offline tooling).

This module and :mod:`detectors.corpus` (the corpus and results files in NAB's layout) are the
ones in :mod:`detectors` that touch files. Only files listed in the labels are scored (as NAB
does); :func:`run_corpus` runs a fresh detector per file, :func:`evaluate` scores the results
on every profile of the corpus and :func:`plot_report` draws them.

>>> import tempfile, json, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "data" / "toy").mkdir(parents=True); (root / "labels").mkdir()
>>> rows = [f"2020-01-01 00:{m:02d}:00,{10.0 if m != 42 else 99.0}" for m in range(60)]
>>> _ = (root / "data/toy/a.csv").write_text("timestamp,value\\n" + "\\n".join(rows) + "\\n")
>>> _ = (root / "labels/combined_windows.json").write_text(json.dumps(
...     {"toy/a.csv": [["2020-01-01 00:42:00.000000", "2020-01-01 00:48:00.000000"]]}))
>>> corpus = load_corpus(root)
>>> spike = np.zeros(60); spike[42] = 1.0  # at the first row of the window
>>> report = evaluate(corpus, {"toy/a.csv": spike})
>>> round(report.profiles["standard"].normalised, 1)
100.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors import nab
from detectors.base import Detector, WindowStats
from detectors.corpus import (
    Corpus,
    FloatArray,
    Series,
    default_nab_dir,
    load_corpus,
    load_results,
    read_series,
    write_results,
)

# loading corpora and the results files live in corpus.py; importable from here as before
__all__ = [
    "Corpus",
    "ProfileResult",
    "Report",
    "Series",
    "default_nab_dir",
    "evaluate",
    "load_corpus",
    "load_results",
    "plot_report",
    "read_series",
    "run_corpus",
    "run_series",
    "write_results",
]

DetectorFactory = Callable[[], Detector]


# --- running detectors ------------------------------------------------------------------


def run_series(detector: Detector, series: Series) -> FloatArray:
    """Feed a series to a fresh detector row by row (score, then learn); the scores.

    Window-native detectors (``input == "window"``) get each row as a one-reading window
    that closes at the row's time.
    """
    out = np.empty(len(series), dtype=np.float64)
    rows = zip(series.values.tolist(), series.epoch.tolist(), strict=True)
    if detector.input == "window":
        prev = math.nan
        for i, (x, t) in enumerate(rows):
            start = prev if prev < t else t
            w = (
                WindowStats(start, t, 1, x, x, x, x, 0.0)
                if math.isfinite(x)
                else (WindowStats.empty(start, t))
            )
            out[i] = detector.update_window(w)
            prev = t
    else:
        update = detector.update
        for i, (x, t) in enumerate(rows):
            out[i] = update(x, t)
    if out.size and not (np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0):
        raise ValueError(f"{detector.name}: scores outside [0, 1] on {series.name}")
    return out


def _run_one(args: tuple[DetectorFactory, Series]) -> tuple[str, FloatArray]:
    factory, series = args
    return series.name, run_series(factory(), series)


def run_corpus(
    factory: DetectorFactory,
    corpus: Corpus,
    *,
    jobs: int = 1,
    on_file: Callable[[str, int], None] | None = None,
) -> dict[str, FloatArray]:
    """Scores of a fresh detector per file; ``on_file(name, rows)`` after each file.

    ``jobs > 1`` runs files in worker processes (``factory`` must then be picklable: a
    class, or a ``functools.partial`` of one).
    """
    todo = [(factory, corpus.series[n]) for n in corpus.names]
    # longest files first so parallel workers finish together
    todo.sort(key=lambda a: -len(a[1]))
    out: dict[str, FloatArray] = {}
    if jobs <= 1:
        for item in todo:
            name, scores = _run_one(item)
            out[name] = scores
            if on_file:
                on_file(name, len(item[1]))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for name, scores in pool.map(_run_one, todo):
                out[name] = scores
                if on_file:
                    on_file(name, len(corpus.series[name]))
    return out


# --- scoring ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileResult:
    """One profile's outcome: the threshold, raw and normalised totals, per-file scores."""

    profile: str
    threshold: float
    raw: float
    normalised: float
    null: float
    perfect: float
    files: dict[str, nab.FileScore] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Report:
    """The scores of one detector on a corpus, one :class:`ProfileResult` per profile."""

    detector: str
    profiles: dict[str, ProfileResult]

    def summary(self) -> dict[str, float]:
        """``{profile: normalised score}`` (what ``--json`` prints)."""
        return {p: r.normalised for p, r in self.profiles.items()}

    def to_json(self) -> dict[str, Any]:
        """Everything, JSON-able."""
        return {
            "detector": self.detector,
            "profiles": {
                p: {
                    "threshold": r.threshold,
                    "raw": r.raw,
                    "normalised": r.normalised,
                    "null": r.null,
                    "perfect": r.perfect,
                    "files": {
                        f: {"score": s.score, "tp": s.tp, "tn": s.tn, "fp": s.fp, "fn": s.fn}
                        for f, s in r.files.items()
                    },
                }
                for p, r in self.profiles.items()
            },
        }


def evaluate(
    corpus: Corpus,
    results: Mapping[str, npt.ArrayLike],
    *,
    detector: str = "detector",
    thresholds: Mapping[str, float] | None = None,
) -> Report:
    """Score per-file anomaly scores on every profile of the corpus.

    The threshold of each profile is optimised over the whole corpus unless ``thresholds``
    fixes it (as when re-scoring NAB's published results at its published thresholds).
    """
    names = corpus.names
    missing = [n for n in names if n not in results]
    if missing:
        raise ValueError(f"no scores for {len(missing)} file(s), e.g. {missing[0]}")
    arrays = [np.asarray(results[n], dtype=np.float64) for n in names]
    for n, a in zip(names, arrays, strict=True):
        if a.shape != (len(corpus.series[n]),):
            raise ValueError(f"{n}: {a.size} scores for {len(corpus.series[n])} rows")
    out: dict[str, ProfileResult] = {}
    for pname, cost in corpus.profiles.items():
        sweeps = [nab.sweep(corpus.labelled[n], cost) for n in names]
        if thresholds is not None and pname in thresholds:
            thr = float(thresholds[pname])
        else:
            thr = nab.best_threshold(nab.score_curve(arrays, sweeps)).threshold
        files = {
            n: nab.file_score(a, sw, thr) for n, a, sw in zip(names, arrays, sweeps, strict=True)
        }
        raw = math.fsum(f.score for f in files.values())
        null = nab.null_score(sweeps)
        perfect = cost.tp * corpus.windows
        norm = nab.normalise(raw, null=null, perfect=perfect)
        out[pname] = ProfileResult(pname, thr, raw, norm, null, perfect, files)
    return Report(detector, out)


# --- a picture ----------------------------------------------------------------------------


def plot_report(
    corpus: Corpus, results: Mapping[str, npt.ArrayLike], report: Report, path: Path | str
) -> Path:
    """Write a PNG: each profile's normalised score against the threshold (the chosen one
    marked) and each category's total at the standard threshold. Needs matplotlib (the
    ``plot`` extra); raises ``ImportError`` without it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = corpus.names
    arrays = [np.asarray(results[n], dtype=np.float64) for n in names]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for pname, res in report.profiles.items():
        sweeps = [nab.sweep(corpus.labelled[n], corpus.profiles[pname]) for n in names]
        curve = nab.score_curve(arrays, sweeps)
        keep = curve.thresholds <= 1.0
        norm = 100.0 * (curve.scores[keep] - res.null) / (res.perfect - res.null)
        (line,) = ax1.plot(curve.thresholds[keep], norm, lw=1.0, label=f"{pname}")
        ax1.plot([res.threshold], [res.normalised], "o", color=line.get_color())
        ax1.annotate(
            f"{res.normalised:.1f}",
            (res.threshold, res.normalised),
            fontsize=8,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax1.set_xlabel("threshold (score >= threshold is a detection)")
    ax1.set_ylabel("normalised NAB score")
    ax1.set_ylim(-100.0, 100.0)
    ax1.axhline(0.0, color="grey", lw=0.5)
    ax1.legend(fontsize=8)
    ax1.set_title(f"{report.detector}: score against threshold", fontsize=10)
    first = next(iter(report.profiles.values()))
    cats: dict[str, float] = {}
    for n, fs in first.files.items():
        cat = n.split("/")[0] if "/" in n else "(top)"
        cats[cat] = cats.get(cat, 0.0) + fs.score
    ax2.barh(
        list(cats),
        list(cats.values()),
        color=["tab:green" if v >= 0 else "tab:red" for v in cats.values()],
    )
    ax2.axvline(0.0, color="grey", lw=0.5)
    ax2.set_xlabel(f"raw NAB total per category ({first.profile}, threshold {first.threshold:.4g})")
    ax2.tick_params(labelsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
