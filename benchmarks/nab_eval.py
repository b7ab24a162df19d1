"""NAB scores of every registered detector, three ways, as a Markdown table (last line: JSON).

    .venv/bin/python benchmarks/nab_eval.py [--dataset DIR] [--detector NAME ...] [--folds K]
                                            [--jobs N] [--out FILE]

For each detector, over the whole corpus (``$IOC_NAB_DIR`` or ``../shared/data/nab``):

* **optimised**: default parameters, one threshold per profile optimised over the corpus (what
  NAB's scoreboard reports);
* **fixed 0.9**: default parameters at the product's alert threshold 0.9;
* **cross-validated**: the categories split into K folds (3 by default); on each fold the
  parameters are chosen from the detector's grid (:data:`detectors.crossval.GRIDS`) on the
  other folds at threshold 0.9 and scored on the held-out one; the mean of the held-out scores.

Scores are normalised (null detector 0, perfect 100), each cell reads "standard / reward low
FP / reward low FN". The baseline measured in the same run is a random detector (uniform
scores, seed 0); published reference points are quoted for context. Each (detector,
candidate) runs once over the corpus in a worker process (``--jobs``); nothing is cached.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from detectors.corpus import Corpus, FloatArray
from detectors.crossval import GRIDS, candidate_label, cross_validate, expand_grid
from detectors.evaluation import default_nab_dir, evaluate, load_corpus, run_corpus
from detectors.registry import PluginWarning, load_all

PUBLISHED = [
    ("ARTime (best published)", 74.9),
    ("Numenta HTM", 70.1),
    ("KNN CAD", 58.0),
    ("Random Cut Forest", 51.7),
    ("Twitter ADVec", 47.1),
    ("windowed Gaussian", 39.6),
]
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
FIXED = 0.9


def _run(task: tuple[str, dict[str, Any], Path]) -> tuple[str, str, dict[str, FloatArray],
                                                          float]:
    """(detector, candidate label, per-file scores, CPU seconds) of one candidate."""
    name, params, root = task
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        reg = load_all(require=False)
    corpus = _corpus(root)
    cpu = time.process_time()
    res = run_corpus(functools.partial(reg.get(name), **params), corpus)
    return name, candidate_label(params), res, time.process_time() - cpu


@functools.lru_cache(maxsize=1)
def _corpus(root: Path) -> Corpus:
    return load_corpus(root)


def _cells(corpus: Corpus, runs: Mapping[str, Mapping[str, FloatArray]],
           folds: int) -> dict[str, dict[str, float]]:
    """{column: {profile: score}} for one detector's candidate runs (defaults first)."""
    default = runs["defaults"]
    opt = evaluate(corpus, default).summary()
    fix = evaluate(corpus, default, thresholds=dict.fromkeys(corpus.profiles, FIXED)).summary()
    cv = {p: cross_validate(corpus, runs, k=folds, threshold=FIXED, profile=p) for p in PROFILES}
    return {"optimised": opt, "fixed": fix, "cv": {p: c.mean for p, c in cv.items()},
            "pooled": {p: c.pooled for p, c in cv.items()},
            "folds": {"standard": cv["standard"].to_json()}}  # type: ignore[dict-item]


def _fmt(scores: Mapping[str, float]) -> str:
    return " / ".join(f"{scores[p]:.1f}" for p in PROFILES)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=default_nab_dir())
    ap.add_argument("--detector", action="append", default=None)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = ap.parse_args()
    corpus = _corpus(args.dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        names = args.detector or load_all(require=False).names()
    tasks: list[tuple[str, dict[str, Any], Path]] = []
    for name in names:
        grid = expand_grid(GRIDS.get(name, {}))
        # the defaults are part of every grid (an empty dict labels them); run them once
        tasks.append((name, {}, args.dataset))
        tasks += [(name, c, args.dataset) for c in grid if c and not _is_default(name, c)]
    tasks.sort(key=lambda t: t[0] != "isolation_forest")  # the slowest first
    runs: dict[str, dict[str, dict[str, FloatArray]]] = {n: {} for n in names}
    cpu: dict[str, float] = dict.fromkeys(names, 0.0)
    wall = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        for name, label, res, secs in pool.map(_run, tasks):
            runs[name][label] = res
            cpu[name] += secs
    wall = time.perf_counter() - wall
    rng = np.random.default_rng(0)
    rand = {"defaults": {n: rng.random(len(s)) for n, s in corpus.series.items()}}
    rows = [("random (uniform, seed 0)", _cells(corpus, rand, args.folds), 0.0)]
    for name in names:
        rows.append((name, _cells(corpus, runs[name], args.folds), cpu[name]))
        print(f"{name}: {_fmt(rows[-1][1]['optimised'])} | {_fmt(rows[-1][1]['fixed'])} | "
              f"{_fmt(rows[-1][1]['cv'])}", flush=True)
    rows.sort(key=lambda r: -r[1]["optimised"]["standard"])
    print(_table(corpus, rows, args.folds, wall))
    if args.out:
        args.out.write_text(_table(corpus, rows, args.folds, wall) + "\n")
    best = rows[0]
    print(json.dumps({
        "best": best[0],
        "optimised": round(best[1]["optimised"]["standard"], 2),
        "fixed_0.9": round(best[1]["fixed"]["standard"], 2),
        "cross_validated": round(best[1]["cv"]["standard"], 2),
        "pooled": round(best[1]["pooled"]["standard"], 2),
        "folds": best[1]["folds"]["standard"],
        "scores": {n: {k: round(c[k]["standard"], 2) for k in ("optimised", "fixed", "cv")}
                   for n, c, _ in rows},
    }))


def _is_default(name: str, params: Mapping[str, Any]) -> bool:
    """Whether ``params`` are the detector's defaults (then the 'defaults' run covers them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        reg = load_all(require=False)
    defaults = reg.plugin(name).describe()["params"]
    return all(defaults.get(k) == v for k, v in params.items())


def _table(corpus: Corpus, rows: list[tuple[str, dict[str, Any], float]], folds: int,
           wall: float) -> str:
    lines = [
        f"NAB v1.0 corpus: {len(corpus.series)} files, {corpus.rows:,} rows, "
        f"{corpus.windows} windows; null detector = 0, perfect = 100; each cell: standard / "
        f"reward low FP / reward low FN; cross-validated = mean held-out score over {folds} "
        f"folds of categories, parameters chosen on the other folds at threshold {FIXED}.",
        "",
        "| detector | optimised threshold | fixed 0.9 | cross-validated | CPU (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, c, secs in rows:
        lines.append(f"| {name} | {_fmt(c['optimised'])} | {_fmt(c['fixed'])} | "
                     f"{_fmt(c['cv'])} | {secs:.0f} |")
    lines += [
        "",
        f"Wall time of all runs {wall:.0f} s. Published (NAB scoreboard, standard profile, "
        "optimised threshold): " + ", ".join(f"{n} {v}" for n, v in PUBLISHED) + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
