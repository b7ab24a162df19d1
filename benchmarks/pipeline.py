"""The worker's own work in process, against the bare decode loop: no broker, no Faust.

The stream is ``benchmarks/throughput.py``'s (``--sources`` traffic segments, speed and volume
every ``--cadence`` seconds, packs of ``--pack`` readings, one gateway per partition). Both
sides get every pack as bytes, already in memory:

(a) **bare**: :func:`ioc.reading_columns.decode_columns` on every pack (the decoder the
    throughput benchmark's bare loop runs); the best of ``--repeat`` runs counts.
(b) **pipeline**: what a worker's events agent does with the same packs, in the same order:
    :func:`streams.ingest.decode_message`, :meth:`streams.pipeline.Pipeline.fold` and
    :meth:`~streams.pipeline.Pipeline.settle` per pack, the settled windows closed together
    after every 128 packs (the agent's batch: detectors, decisions, alert lanes, summaries,
    district roll-ups; :meth:`~streams.pipeline.Pipeline.flush`), each batch's output
    encoded as the worker publishes it, and a checkpoint of the
    series' state every 2,048 packs (about a million readings: what a worker reads between
    two checkpoints, every 2 s, at half a million readings a second).

It prints CPU seconds per phase (decode, fold, close, publish, checkpoint) and the ratio bare
/ pipeline: the share of the throughput benchmark's per-CPU-second ratio that the worker's
code decides (Faust's and the Kafka client's costs are in neither), steadier than a run on a
shared broker. Targets as in ``throughput.py``: 0.7 dense, 0.5 at ``--cadence 10``.

Run: ``.venv/bin/python benchmarks/pipeline.py [--readings N] [--sources N] [--cadence S]
[--pack N] [--partitions N] [--repeat N]``; the last line is JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time

from throughput import packs, target

from ioc.events import encode
from ioc.reading_columns import decode_columns
from ioc.settings import Settings
from streams.ingest import decode_message
from streams.lifecycle import AlertBook
from streams.pipeline import Pipeline
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook
from streams.worker import tune_gc

BATCH = 128             # packs per agent batch (streams.agents: batch_messages)
CHECKPOINT_EVERY = 2048  # packs between two checkpoints (~1M readings: a worker's 2 s)
PHASES = ("decode", "fold", "close", "publish", "checkpoint")


def bare(messages: list[tuple[int, bytes, int]]) -> float:
    """CPU seconds to decode every pack."""
    t = time.process_time()
    for _, raw, _ in messages:
        decode_columns(raw)
    return time.process_time() - t


def pipeline(messages: list[tuple[int, bytes, int]]) -> dict[str, float]:
    """CPU seconds per phase of a fresh pipeline taking every pack."""
    p = Pipeline(DetectorRuntime.from_settings(Settings()), AlertBook({}), SilenceBook({}),
                 lateness=0.0)
    now = time.time() + 10 * 365 * 86400.0  # no reading is ahead of this clock
    spent = dict.fromkeys(PHASES, 0.0)
    clock = time.process_time
    for i, (partition, raw, _) in enumerate(messages):
        t0 = clock()
        decoded = decode_message(raw, group="traffic", topic="traffic", partition=partition,
                                 offset=i, now=now)
        t1 = clock()
        p.fold("traffic", partition, decoded.readings, offset=i, now=now)
        t2 = clock()
        p.settle("traffic", partition)
        last = i % BATCH == BATCH - 1 or i == len(messages) - 1
        if last:
            for _ in p.flush():
                pass
        t3 = clock()
        spent["decode"] += t1 - t0
        spent["fold"] += t2 - t1
        spent["close"] += t3 - t2
        if last:  # the agent publishes after each batch
            out = p.take_output()
            for alert in out.alerts:
                encode(alert)
            for summaries in out.summaries.values():
                for pack in summaries.packs:
                    encode(pack)
            for part in out.parts:
                encode(part)
            t4 = clock()
            spent["publish"] += t4 - t3
            if i % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
                p.checkpoint()
                spent["checkpoint"] += clock() - t4
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=1_000_000)
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--cadence", type=float, default=1.0)
    ap.add_argument("--pack", type=int, default=500)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.readings < 1 or args.sources < 1 or args.pack < 1 or args.partitions < 1 or \
            args.cadence <= 0 or args.repeat < 1:
        raise SystemExit("--readings, --sources, --pack, --partitions and --repeat must be "
                         "at least 1, --cadence above 0")
    messages = list(packs(args.readings, args.sources, args.cadence, args.pack,
                          args.partitions))
    tune_gc()  # as a worker starts
    bare_s = min(bare(messages) for _ in range(args.repeat))
    spent = pipeline(messages)
    total = sum(spent.values())
    gc.collect()
    n = sum(m[2] for m in messages)
    print(f"{n:,} readings in {len(messages):,} packs, cadence {args.cadence:g} s",
          file=sys.stderr)
    print(f"bare decode: {bare_s:.3f} CPU s ({n / bare_s:,.0f} readings per CPU second)",
          file=sys.stderr)
    print(f"pipeline:    {total:.3f} CPU s ({n / total:,.0f} readings per CPU second): "
          + ", ".join(f"{k} {v:.3f}" for k, v in spent.items()), file=sys.stderr)
    print(f"ratio bare / pipeline: {bare_s / total:.3f}", file=sys.stderr)
    print(json.dumps({"benchmark": "pipeline", "readings": n, "cadence_s": args.cadence,
                      "sources": args.sources, "pack_size": args.pack,
                      "partitions": args.partitions, "bare_cpu_s": round(bare_s, 4),
                      "pipeline_cpu_s": round(total, 4),
                      **{f"{k}_cpu_s": round(v, 4) for k, v in spent.items()},
                      "ratio": round(bare_s / total, 3),
                      "target": target(args.cadence)}))


if __name__ == "__main__":
    main()
