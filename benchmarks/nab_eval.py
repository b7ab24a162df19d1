"""NAB scores of every registered detector, as a Markdown table (last line: JSON).

    .venv/bin/python benchmarks/nab_eval.py [--dataset DIR] [--detector NAME ...] [--out FILE]

Each detector runs with its default parameters over the whole corpus (``$IOC_NAB_DIR`` or
``../shared/data/nab``); thresholds are optimised per profile over the corpus and scores
normalised (null detector 0, perfect 100), exactly as ``ioc detectors evaluate`` does. The
baseline measured in the same run is the null detector (0 by construction) and a random one
(uniform scores, seed 0); published reference points are quoted for context.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=default_nab_dir())
    ap.add_argument("--detector", action="append", default=None)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = ap.parse_args()
    corpus = load_corpus(args.dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        reg = load_all(require=False)
    names = args.detector or reg.names()
    rows: list[tuple[str, dict[str, float], float]] = []
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    rand = {n: rng.random(len(s)) for n, s in corpus.series.items()}
    rows.append(
        ("random (uniform, seed 0)", evaluate(corpus, rand).summary(), time.perf_counter() - t)
    )
    for name in names:
        t = time.perf_counter()
        results = run_corpus(reg.get(name), corpus)
        elapsed = time.perf_counter() - t
        rows.append((name, evaluate(corpus, results, detector=name).summary(), elapsed))
        print(f"{name}: {rows[-1][1]} in {elapsed:.1f} s", flush=True)
    rows.sort(key=lambda r: -r[1]["standard"])
    lines = [
        f"NAB v1.0 corpus: {len(corpus.series)} files, {corpus.rows:,} rows, "
        f"{corpus.windows} windows; default parameters; one threshold per profile optimised "
        "over the corpus; null detector = 0, perfect = 100.",
        "",
        "| detector | standard | reward low FP | reward low FN | run time (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s, el in rows:
        lines.append(
            f"| {name} | {s['standard']:.1f} | {s['reward_low_FP_rate']:.1f} | "
            f"{s['reward_low_FN_rate']:.1f} | {el:.1f} |"
        )
    lines += [
        "",
        "Published (NAB scoreboard, standard profile): "
        + ", ".join(f"{n} {v}" for n, v in PUBLISHED)
        + ".",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    best = rows[0]
    print(
        json.dumps(
            {
                "best": best[0],
                "standard": round(best[1]["standard"], 2),
                "vs_numenta_htm": round(best[1]["standard"] / 70.1, 3),
                "scores": {n: round(s["standard"], 2) for n, s, _ in rows},
            }
        )
    )


if __name__ == "__main__":
    main()
