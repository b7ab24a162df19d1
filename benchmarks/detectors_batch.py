"""Batch scoring benchmark: one detector call per batch of series vs one call per series.

The catalog's default detectors of one metric (``--metric``, ``flooding/flood_depth``:
robust_z, physical_range, stuck, threshold, cusum, silence, each under ``Threshold(0.9)``;
``traffic/speed`` runs the same six, ``traffic/volume`` robust_z, physical_range and stuck)
score ``--series`` series (20,000) over ``--windows`` closed windows (20), after ``--warmup``
windows (40, not timed) that fill the rolling buffers. The series have their own levels and
noise, some flat, some with spikes, a fraction ``--empty`` of empty windows (0.05). The
worker of ``benchmarks/throughput.py --cadence 10`` (1,000 traffic sources over 4 partitions)
closes blocks of 250 series per metric and partition, every one reporting; the nearest run
here is ``--series 250 --windows 400 --metric traffic/speed --empty 0``.

(a) ``one-series`` (the baseline): per window, per series, per detector ``score_window`` then
    ``learn_window`` and the policy's ``decide``, as the worker did;
(b) ``batch``: per window, per detector ``columns().update_many`` over all rows, then
    :func:`detectors.decision.decide_many` (policies and the health rule).

Window statistics are prepared beforehand for both (``WindowStats`` per series, or
``WindowColumns``), so only detector and policy work is timed. Both paths' scores are checked
equal. Prints windows/s and series-windows/s per path (the batch path's also per CPU second of
the process, steadier on a shared machine), the speed-up, the batch state bytes per series,
and a last line of JSON. Run: ``.venv/bin/python benchmarks/detectors_batch.py
[--series N] [--windows W] [--warmup W] [--metric GROUP/METRIC] [--empty F]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from detectors.base import Detector, WindowStats
from detectors.columns import WindowColumns
from detectors.decision import decide_many
from detectors.policies import Threshold
from detectors.registry import load_all
from ioc import catalog
from ioc.catalog import MetricSpec

METRIC = "flooding/flood_depth"
START = 1795410000.0
SIZE = 60.0


def make_windows(series: int, windows: int, seed: int, *, metric: str = METRIC,
                 empty: float = 0.05) -> list[WindowColumns]:
    """Random windows of ``series`` series (levels, noise, flat series, spikes, gaps), scaled
    by ``metric``'s base level relative to flood_depth's (whose windows are as they were)."""
    rng = np.random.default_rng(seed)
    scale = _spec(metric).base / _spec(METRIC).base
    level = scale * (rng.choice([0.0, 0.05, 0.3, 1.2], size=series) + rng.random(series))
    noise = scale * rng.choice([0.0, 0.005, 0.02, 0.1], size=series)
    out = []
    for k in range(windows):
        count = rng.integers(1, 7, size=series)
        count[rng.random(series) < empty] = 0
        mean = level + rng.normal(0.0, 1.0, series) * noise
        spikes = rng.random(series) < 0.002
        mean[spikes] += 5.0 * scale
        spread = np.abs(rng.normal(0.0, 1.0, series)) * noise
        rhythm = 1.0 + 0.2 * np.sin(k / 30.0)
        out.append(WindowColumns(
            start=START + SIZE * k, end=START + SIZE * (k + 1), count=count, mean=mean,
            min=mean - spread, max=mean + spread, last=mean + 0.5 * spread, std=spread,
            rhythm=rhythm))
    return out


def _spec(metric: str) -> MetricSpec:
    group, name = metric.split("/")
    return catalog.group(group).metric(name)


def detectors(metric: str = METRIC) -> dict[str, Detector]:
    return load_all(require=True).for_metric(_spec(metric))


def run_one_series(wins: list[list[WindowStats]], warmup: int,
                   metric: str = METRIC) -> tuple[float, np.ndarray]:
    protos = list(detectors(metric).values())
    n = len(wins[0])
    dets = [[p.clone() for p in protos] for _ in range(n)]
    pols = [[Threshold(0.9) for _ in protos] for _ in range(n)]
    last = np.zeros((n, len(protos)))
    start = 0.0
    for k, ws in enumerate(wins):
        if k == warmup:
            start = time.perf_counter()
        for i, w in enumerate(ws):
            row_d, row_p = dets[i], pols[i]
            for j, d in enumerate(row_d):
                s = d.score_window(w)
                d.learn_window(w)
                row_p[j].decide(s, w.end)
                last[i, j] = s
    return time.perf_counter() - start, last


def run_batch(cols_wins: list[WindowColumns], warmup: int,
              metric: str = METRIC) -> tuple[float, float, np.ndarray, int]:
    """Wall and CPU seconds of the timed windows, the last scores, state bytes per row."""
    protos = list(detectors(metric).values())
    n = len(cols_wins[0])
    cols = [p.columns() for p in protos]
    pols = [Threshold(0.9).columns() for _ in protos]
    for c, p in zip(cols, pols, strict=True):
        c.add(n)
        p.add(n)
    health = [p.health for p in protos]
    rows = np.arange(n)
    scores: list[np.ndarray] = []
    start = cpu = 0.0
    for k, w in enumerate(cols_wins):
        if k == warmup:
            start, cpu = time.perf_counter(), time.process_time()
        scores = [c.update_many(rows, w) for c in cols]
        decide_many(rows, w.end, scores, pols, health)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, cpu, np.stack(scores, axis=1), sum(c.row_bytes() for c in cols)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=20_000)
    ap.add_argument("--windows", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--metric", default=METRIC, help="GROUP/METRIC of the catalog")
    ap.add_argument("--empty", type=float, default=0.05, help="fraction of empty windows")
    a = ap.parse_args()
    cols_wins = make_windows(a.series, a.warmup + a.windows, a.seed, metric=a.metric,
                             empty=a.empty)
    stats_wins = [[w.row(i) for i in range(len(w))] for w in cols_wins]
    names = list(detectors(a.metric))
    print(f"{a.metric}: {', '.join(names)}; {a.series:,} series x {a.windows} windows "
          f"(after {a.warmup} warm-up windows, {a.empty:.0%} empty)")
    t_one, s_one = run_one_series(stats_wins, a.warmup, a.metric)
    t_batch, cpu_batch, s_batch, row_bytes = run_batch(cols_wins, a.warmup, a.metric)
    same = bool(np.array_equal(s_one, s_batch))
    sw = a.series * a.windows
    print(f"  one-series loop: {t_one:8.3f} s  {sw / t_one:12,.0f} series-windows/s")
    print(f"  batch columns  : {t_batch:8.3f} s  {sw / t_batch:12,.0f} series-windows/s  "
          f"({cpu_batch:.3f} CPU s, {sw / cpu_batch:,.0f} per CPU second)")
    print(f"  speed-up       : {t_one / t_batch:8.1f}x   (last scores identical: {same}; "
          f"batch state {row_bytes} B per series)")
    print(json.dumps({"series": a.series, "windows": a.windows, "metric": a.metric,
                      "empty": a.empty, "detectors": names,
                      "one_series_s": round(t_one, 4), "batch_s": round(t_batch, 4),
                      "batch_cpu_s": round(cpu_batch, 4),
                      "speedup": round(t_one / t_batch, 2), "identical": same,
                      "batch_bytes_per_series": row_bytes}))
    if not same:
        raise SystemExit("batch and one-series scores differ")


if __name__ == "__main__":
    main()
