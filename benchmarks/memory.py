"""Worker memory per tracked (source, metric) series, at 100,000 series with the default
detectors.

The stream: synthetic copies of the catalog's sources (``<prefix>-M00000`` ...), every source
kind of every group in proportion to the catalog, each reporting each of its metrics once per
window (counted metrics: one event per window) for ``--windows`` windows (70 by default:
enough to fill the largest detector buffer, robust_z's 64 window values), in packs of up to
500 readings per message, each gateway (group and partition) sending what it holds at the end
of every minute. One ``ioc worker`` process reads it all.

It runs in two phases in one worker process: first a fifth of the sources, then all of them
(the first fifth goes on, the rest are new), each phase ``--windows`` windows long. Reported:
the worker's resident set (VmRSS) at the end of each phase, read once the backlog is consumed
and the idle worker has trimmed its freed heap (so read-ahead buffers of the backlog are not
counted), and ``bytes_per_series`` = (RSS after phase 2 - RSS after phase 1) / (series
added): what each tracked series costs, everything included (live detector and policy state,
open windows, alert lanes, interpreter and allocator overhead). ``rss_growth_per_series`` is
(RSS after phase 2 - RSS of the ready worker) / series, a cross-check;
``rss_per_series_all_included`` divides the final RSS by the series count.
Target: under 2 KB (2048 bytes) per series.

``--multivariate`` sets the worker's ``IOC_MULTIVARIATE`` (unset: the worker's default,
``indicators``); ``all`` or ``sources`` add one model per multi-metric source (about one
source in five of the mix), whose fits run in the worker's background thread: each phase
ends only once the count of fitted models has stopped growing, so their models are counted.

An in-process breakdown (``tracemalloc`` on the pipeline alone, for the same mix) is printed
too: live state per series and checkpoint bytes per series.

Run: ``.venv/bin/python benchmarks/memory.py [--bootstrap HOST:PORT] [--series N]
[--windows W]``; without ``--bootstrap`` (or ``IOC_KAFKA_BOOTSTRAP``) the embedded broker is
started. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import msgspec
from _worker import BenchWorker, broker_with_topics
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from ioc import catalog
from streams.ticker import TRIM_EVERY_S
from streams.topics import TopicNames

T0 = 1_795_366_800.0  # local midnight
TARGET = 2048


@dataclass(frozen=True)
class Src:
    group: str
    id: str
    district: str
    metrics: tuple[catalog.MetricSpec, ...]


def sources(n_series: int) -> list[Src]:
    """Synthetic sources, the catalog's source kinds in proportion, ~``n_series`` series."""
    kinds = [(g.slug, k) for g in catalog.CATALOG for k in g.source_kinds]
    per_round = sum(len(k.metrics) * k.per_district * len(k.districts) for _, k in kinds)
    rounds = max(1, round(n_series / per_round))
    out: list[Src] = []
    n = 0
    for r in range(rounds):
        for slug, k in kinds:
            for d in k.districts:
                for _ in range(k.per_district):
                    out.append(Src(slug, f"{k.prefix}-M{r:03d}{n:06d}", d, k.metrics))
                    n += 1
    return out


def stream(srcs: list[Src], windows: range, partitions: int, pack: int
           ) -> Iterator[tuple[str, int, bytes, int]]:
    """(group, partition, pack bytes, readings) in event-time order, one reading per series
    per window (3 % Gaussian noise around the catalog's level)."""
    part = DefaultPartitioner()
    parts = list(range(partitions))
    where = [int(part(s.id.encode(), parts, parts)) for s in srcs]
    enc = msgspec.json.Encoder()
    rng = random.Random(windows.start)
    buffers: dict[tuple[str, int], list[dict[str, object]]] = {}
    for w in windows:
        for i, s in enumerate(srcs):
            width = catalog.group(s.group).window_s
            if (w * 60) % width:  # a five-minute group reports every fifth minute
                continue
            ts = T0 + w * 60 + 1 + i % 50
            key = (s.group, where[i])
            buf = buffers.setdefault(key, [])
            for m in s.metrics:
                r: dict[str, object] = {"group": s.group, "source": s.id, "metric": m.name,
                                        "ts": ts, "district": s.district}
                if m.counted:
                    r["kind"] = m.event_kinds[0]
                else:
                    lo, hi = m.physical
                    r["value"] = round(min(max(m.expected(ts) * (1 + 0.03 * rng.gauss(0, 1)),
                                               lo), hi), 3)
                buf.append(r)
            if len(buf) >= pack:
                yield s.group, where[i], enc.encode(buf), len(buf)
                buf.clear()
        # a gateway sends what it holds every minute: a sparse group's readings must not
        # wait behind a later window's (the idle rule would close their window first)
        for (g, p), buf in buffers.items():
            if buf:
                yield g, p, enc.encode(buf), len(buf)
                buf.clear()


async def produce(bootstrap: str, names: TopicNames, srcs: list[Src], windows: range,
                  args: argparse.Namespace) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all",
                                max_batch_size=1_048_576, max_request_size=4_194_304)
    await producer.start()
    n = 0
    try:
        pending = []
        for group, p, value, count in stream(srcs, windows, args.partitions, args.pack):
            pending.append(await producer.send(names.events(group), value, partition=p,
                                               key=f"gw-{group}-{p}".encode()))
            n += count
            if len(pending) >= 200:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return n


def fits_settled(w: BenchWorker, every_s: float = 10.0) -> None:
    """Wait until the worker's count of fitted multivariate models stops growing."""
    last = -1.0
    while (n := w.metrics().get("ioc_worker_multivariate_fits_total", 0.0)) != last:
        last = n
        time.sleep(every_s)


async def dead_letters(bootstrap: str, topic: str, n: int = 5) -> list[str]:
    """The reasons of the first ``n`` dead letters on ``topic``."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        got = await consumer.getmany(timeout_ms=5000, max_records=n)
        return [msgspec.json.decode(r.value).get("reason", "?")[:300]
                for records in got.values() for r in records][:n]
    finally:
        await consumer.stop()


def in_process(srcs: list[Src], windows: int, mode: str | None) -> dict[str, float]:
    """tracemalloc of the pipeline alone: live state and checkpoint bytes per series."""
    from ioc.events import decode_readings
    from streams.lifecycle import AlertBook
    from streams.mvconfig import MultivariateConfig
    from streams.pipeline import Pipeline
    from streams.runtime import DetectorRuntime
    from streams.silences import SilenceBook


    runtime = DetectorRuntime.build()
    sample = srcs[: max(1, len(srcs) // 10)]  # a tenth of the mix is enough
    packs = list(stream(sample, range(windows), 1, 500))
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    mv = MultivariateConfig.build(mode) if mode else None
    p = Pipeline(runtime, AlertBook({}), SilenceBook({}), lateness=0.0, multivariate=mv)
    for group, _part, value, _n in packs:
        p.ingest(group, 0, decode_readings(value))
        p.take_output()
    gc.collect()
    live = tracemalloc.get_traced_memory()[0] - base
    blobs = [b for _, _, b in p.checkpoint() if b]
    tracemalloc.stop()
    n = sum(len(st.series) for st in p.parts.values())
    return {"series": n, "live_bytes_per_series": live / n,
            "checkpoint_bytes_per_series": sum(len(b) for b in blobs) / max(len(blobs), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default=os.environ.get("IOC_KAFKA_BOOTSTRAP"))
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--windows", type=int, default=70)
    ap.add_argument("--pack", type=int, default=500)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--multivariate", choices=("all", "sources", "indicators", "off"))
    args = ap.parse_args()
    srcs = sources(args.series)
    n_series = sum(len(s.metrics) for s in srcs)
    prefix = f"mem{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        bootstrap, names = broker_with_topics(stack, args.bootstrap, prefix, args.partitions)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ioc-mem-")))
        w = stack.enter_context(BenchWorker(bootstrap, prefix, workdir, args.partitions,
                                            app_id=f"mem-{prefix}",
                                            env={"IOC_ALLOWED_LATENESS_S": "0",
                                                 # synthetic ids share one prefix: lift the
                                                 # bounds on sources outside the catalog
                                                 "IOC_MAX_UNREGISTERED_SERIES": "1000000",
                                                 "IOC_MAX_SERIES_PER_PREFIX": "1000000",
                                                 "IOC_MAX_NEW_SERIES_PER_MESSAGE": "100000",
                                                 **({"IOC_MULTIVARIATE": args.multivariate}
                                                    if args.multivariate else {})}))
        time.sleep(3)
        ready = w.rss_bytes()
        first = srcs[: len(srcs) // 5]
        phases = [(first, range(0, args.windows)),
                  (srcs, range(args.windows, 2 * args.windows))]
        points = []
        total = 0
        for phase_srcs, windows in phases:
            t = time.perf_counter()
            total += asyncio.run(produce(bootstrap, names, phase_srcs, windows, args))
            print(f"phase: {len(phase_srcs):,} sources, windows {windows.start}-"
                  f"{windows.stop - 1}, {total:,} readings in all, produced in "
                  f"{time.perf_counter() - t:.0f} s", file=sys.stderr)
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline:
                m = w.metrics()
                if os.environ.get("IOC_BENCH_TRACE"):
                    print(f"  {m.get('ioc_worker_readings_total', 0):>10,.0f} readings "
                          f"{m.get('ioc_worker_tracked_series', 0):>8,.0f} series "
                          f"RSS {w.rss_bytes() / 2**20:.0f} MB", file=sys.stderr)
                if m.get("ioc_worker_readings_total", 0) + m.get(
                        "ioc_worker_dropped_readings_total", 0) >= total:
                    break
                if m.get("ioc_worker_deadletter_total", 0):
                    reasons = {k: v for k, v in m.items() if k.startswith("ioc_worker_dead")}
                    sys.exit("the worker dead-lettered readings: " + ", ".join(
                        f"{k} {v:,.0f}" for k, v in reasons.items()) + "; the first: "
                        + "; ".join(asyncio.run(dead_letters(bootstrap, names.deadletter))))
                time.sleep(1)
            # the last windows close on the idle timer and their checkpoints are written;
            # then the worker trims its freed heap (every TRIM_EVERY_S while idle), so
            # the read-ahead buffers of the backlog are not counted as series state
            fits_settled(w)
            time.sleep(TRIM_EVERY_S + 5)
            m = w.metrics()
            points.append((int(m["ioc_worker_tracked_series"]), w.rss_bytes()))
            print(f"  {points[-1][0]:,} series tracked, RSS {points[-1][1] / 2**20:.0f} MB",
                  file=sys.stderr)
    (n1, rss1), (tracked, after) = points
    per = (after - rss1) / max(tracked - n1, 1)
    growth = (after - ready) / max(tracked, 1)
    overall = after / max(tracked, 1)
    before = ready
    print(f"worker RSS {before / 2**20:.0f} MB ready, {rss1 / 2**20:.0f} MB with {n1:,} series, "
          f"{after / 2**20:.0f} MB with {tracked:,}: {per:,.0f} bytes per added series "
          f"(target < {TARGET}); {growth:,.0f} bytes per series over the ready worker; "
          f"{overall:,.0f} bytes per series all included", file=sys.stderr)
    breakdown = in_process(srcs, 2 * args.windows, args.multivariate)
    print(f"in-process: {breakdown['live_bytes_per_series']:,.0f} bytes of live state and "
          f"{breakdown['checkpoint_bytes_per_series']:,.0f} bytes of checkpoint per series",
          file=sys.stderr)
    print(json.dumps({
        "benchmark": "memory", "multivariate": args.multivariate or "default",
        "series": tracked, "series_planned": n_series,
        "windows": args.windows, "readings": total, "rss_ready_mb": round(before / 2**20, 1),
        "series_phase1": n1, "rss_phase1_mb": round(rss1 / 2**20, 1),
        "rss_loaded_mb": round(after / 2**20, 1), "bytes_per_series": round(per),
        "rss_growth_per_series": round(growth), "rss_per_series_all_included": round(overall),
        "target_bytes": TARGET, "alerts_total": int(m.get("ioc_worker_alerts_total", 0)),
        "multivariate_fits": int(m.get("ioc_worker_multivariate_fits_total", 0)),
        "in_process_live_bytes_per_series": round(breakdown["live_bytes_per_series"]),
        "checkpoint_bytes_per_series": round(breakdown["checkpoint_bytes_per_series"])}))


if __name__ == "__main__":
    main()
