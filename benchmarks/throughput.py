"""Worker throughput against a bare consumer, on the same broker and topic in the same run.

The stream: ``--sources`` synthetic traffic segments (``trf-B00000``, ...) spread over the
mainland districts, each reporting ``speed`` and ``volume`` every ``--cadence`` seconds of
event time (catalog daily shape, 8 % noise), sent by gateways as packs of ``--pack``
readings: one gateway per partition of ``<prefix>.traffic.events``, each pack in event-time
order. The traffic group runs the heaviest default detectors of the catalog (speed: robust_z,
physical_range, stuck, cusum, threshold, silence; volume: robust_z, physical_range, stuck).

(a) **bare loop**: one aiokafka consumer, ``getmany()`` and
    :func:`ioc.reading_columns.decode_columns` on every message, nothing else (the decoder is
    the same one the worker uses, so decoding costs both sides the same). Runs ``--repeat``
    times; the median counts. After each, the same loop with librdkafka (confluent-kafka's
    ``consume()``), the client of the worker's events reader: the ``bare (librdkafka)`` row
    and the ``*_rdkafka*`` figures give the worker against it too, so a ratio cannot come from
    the worker merely using a faster client than its baseline.
(b) **worker**: one ``ioc worker`` process on the same topic doing the whole job: decode,
    dead-letter check, window per (source, metric), close windows, score every detector,
    alert decisions, publish window summaries, indicator parts and alerts, checkpoint state.
    Its rate is readings counted by ``ioc_worker_readings_total`` (polled on ``/metrics``)
    over the time from the first reading to the end of the job: the last reading, and the
    merge of the indicator parts sent by then (``ioc_worker_indicator_parts_total``: the
    indicators agent may run behind the events, and work left for after the clock stops
    would flatter the rate). A stream the worker reads between two polls cannot be timed:
    the benchmark says so and exits with an error instead of printing a rate of 0.
(c) **peer**: the same windowing (60 s tumbling event-time window per source and metric:
    count, mean, min, max, std) written with Quix Streams, what a Python team would most
    likely pick instead (``benchmarks/peer_quix.py``, the ``bench`` extra): its own consumer
    group from the beginning, Quix's JSON parse (no contract validation), packs expanded,
    re-keyed by series through a repartition topic, windows on the reading's ``ts`` in
    RocksDB state (changelog on). Only the windowing: no detectors, alerts or publishing,
    so it does less than the worker. Its rate counts the readings its windows took, first
    to last (CPU seconds: its whole process, librdkafka's threads included); it stops at
    the produced count, and its closed windows should equal the worker's. Without Quix
    Streams, or when it fails on this broker, the row says ``skipped`` with the reason
    (``--no-peer`` leaves it out).

A table gives the three rows side by side: readings per second and the ratio to bare. The
last line printed is JSON: ``bare_rate``, ``worker_rate`` (readings per wall-clock second)
and ``ratio`` = worker / bare (``target``: 0.5 at the catalog's cadence, ``--cadence 10``
or slower, 0.7 denser), ``peer_rate`` and ``peer_ratio`` (or ``peer_skipped``), with the
stream's parameters. With ``--worker-runs N`` the worker runs N times, each after one more
bare run, and the JSON adds each run's ratio to the bare run just before it (``ratio_pairs``,
``ratio_cpu_pairs``) and their medians: the shared machine's load drifts between runs, so a
pair is steadier than a run against the bare median (``worker_rate`` is then the median
run's). If the worker fails, the bare and peer rows are still printed, ``worker_error`` says
why and the exit status is 1. On a shared machine wall-clock rates swing with the
neighbours' load, so the same figures per CPU second of the measured process are printed too
(``bare_cpu_rate``, ``worker_cpu_rate``, ``ratio_cpu``), and the worker's CPU seconds on its
main thread and on its other threads (Faust's consumer thread parses fetched records there).
When the wall-clock ratio falls well below the CPU ratio, the worker was waiting, not working.

The cadence sets what dominates: at ``--cadence 1`` (the default: 60 readings per series and
window) reading and windowing; at ``--cadence 10`` (the catalog's traffic cadence: 6) the
window closes, i.e. the detectors, which cost the same per window however many readings it
holds.

Run: ``.venv/bin/python benchmarks/throughput.py [--bootstrap HOST:PORT] [--readings N]
[--sources N] [--cadence S] [--pack N] [--worker-runs N] [--no-peer] [--spy FILE]``; without
``--bootstrap`` (or ``IOC_KAFKA_BOOTSTRAP``) the embedded broker is started. ``--spy``
samples the worker with py-spy (when installed) into collapsed stacks; ``--profile`` runs it
under cProfile (the first worker run only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from _worker import BenchWorker, broker_with_topics
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from peer_quix import run_peer

from ioc import catalog
from ioc.reading_columns import decode_columns

T0 = 1_795_410_000.0  # 2026-11-23 05:00 UTC, noon in Da Nang


def target(cadence: float) -> float:
    """The ratio worker / bare the issue sets: 0.5 at the catalog's 10 s cadence (or
    slower), 0.7 for denser streams.

    >>> target(10.0), target(1.0)
    (0.5, 0.7)
    """
    return 0.5 if cadence >= 10 else 0.7

def packs(readings: int, sources: int, cadence: float, pack: int, partitions: int,
          seed: int = 1) -> Iterator[tuple[int, bytes, int]]:
    """(partition, pack bytes, readings in it) for a stream of ``readings`` readings."""
    g = catalog.group("traffic")
    speed, volume = g.metric("speed"), g.metric("volume")
    districts = catalog.MAINLAND
    ids = [f"trf-B{i:05d}" for i in range(sources)]
    dist = [districts[i % len(districts)] for i in range(sources)]
    phase = (np.arange(sources) % 10 * (cadence / 10.0)).tolist()
    rng = np.random.default_rng(seed)
    offset = (1.0 + 0.05 * rng.standard_normal(sources)).tolist()
    buffers: list[list[dict[str, object]]] = [[] for _ in range(partitions)]
    enc = msgspec.json.Encoder()
    sent = 0
    step = 0
    while sent < readings:
        t = T0 + step * cadence
        step += 1
        noise = rng.standard_normal((2, sources)).tolist()
        s_level, v_level = speed.expected(t), volume.expected(t)
        for i in range(sources):
            if sent >= readings:
                break
            ts = float(t + phase[i])
            buf = buffers[i % partitions]
            buf.append({"group": "traffic", "source": ids[i], "metric": "speed",
                        "value": round(s_level * offset[i] * (1 + 0.08 * noise[0][i]), 2),
                        "ts": ts, "district": dist[i]})
            buf.append({"group": "traffic", "source": ids[i], "metric": "volume",
                        "value": round(v_level * offset[i] * (1 + 0.08 * noise[1][i]), 1),
                        "ts": ts, "district": dist[i]})
            sent += 2
            if len(buf) >= pack:
                yield i % partitions, enc.encode(buf), len(buf)
                buf.clear()
    for p, buf in enumerate(buffers):
        if buf:
            yield p, enc.encode(buf), len(buf)


async def produce(bootstrap: str, topic: str, args: argparse.Namespace) -> tuple[int, int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all",
                                max_batch_size=1_048_576, max_request_size=4_194_304)
    await producer.start()
    n = nbytes = 0
    try:
        pending = []
        for p, value, count in packs(args.readings, args.sources, args.cadence, args.pack,
                                     args.partitions):
            pending.append(await producer.send(topic, value, key=f"gw-{p:02d}".encode(),
                                               partition=p))
            n += count
            nbytes += len(value)
            if len(pending) >= 200:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return n, nbytes


async def bare_loop(bootstrap: str, topic: str, total: int) -> tuple[float, float]:
    """Readings per second of getmany() + decode over the whole topic: (per wall-clock
    second, per CPU second of this process)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_bytes=52_428_800,
                                max_partition_fetch_bytes=4_194_304)
    await consumer.start()
    try:
        await consumer._client._wait_on_metadata(topic)  # aiokafka has no public way
        parts = [TopicPartition(topic, p)
                 for p in sorted(consumer._client.cluster.partitions_for_topic(topic) or ())]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        n = 0
        started = time.perf_counter()
        cpu = time.process_time()
        while n < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            for msgs in batch.values():
                for m in msgs:
                    n += len(decode_columns(m.value))
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"bare loop stalled at {n} of {total} readings")
        return (n / (time.perf_counter() - started), n / (time.process_time() - cpu))
    finally:
        await consumer.stop()


def bare_rdkafka_loop(bootstrap: str, topic: str, total: int) -> tuple[float, float]:
    """:func:`bare_loop` with librdkafka (the worker's events reader's client): batches of
    ``consume()`` + decode; CPU seconds of the whole process (librdkafka's threads too)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer
    from confluent_kafka import TopicPartition as RdTopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bare-{uuid.uuid4()}",
                         "enable.auto.commit": False, "fetch.queue.backoff.ms": 10,
                         "max.partition.fetch.bytes": 4_194_304})
    try:
        meta = consumer.list_topics(topic, timeout=30).topics[topic]
        consumer.assign([RdTopicPartition(topic, p, OFFSET_BEGINNING)
                         for p in sorted(meta.partitions)])
        n = 0
        started = time.perf_counter()
        cpu = time.process_time()
        while n < total:
            # consume() waits out its timeout unless the batch fills: take what is there,
            # and wait only for a first message when nothing is (as the worker's reader)
            msgs = consumer.consume(2000, 0)
            if not msgs:
                first = consumer.poll(1.0)
                msgs = [] if first is None else [first]
            for m in msgs:
                if m.error() is None:
                    n += len(decode_columns(m.value()))
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"bare librdkafka loop stalled at {n} of {total} readings")
        return (n / (time.perf_counter() - started), n / (time.process_time() - cpu))
    finally:
        consumer.close()


PARTS_SENT = 'ioc_worker_indicator_parts_total{stage="sent"}'
PARTS_MERGED = 'ioc_worker_indicator_parts_total{stage="merged"}'


def worker_run(bootstrap: str, prefix: str, total: int, args: argparse.Namespace,
               workdir: Path, run: int = 0) -> dict[str, Any]:
    """One worker from the beginning of the topic (run ``run``: its own consumer group and
    tables; only the first run is profiled)."""
    launcher: tuple[str, ...] = ()
    python_args: tuple[str, ...] = ()
    if args.profile and not run:
        python_args = ("-m", "cProfile", "-o", str(args.profile))
    if args.spy and not run:
        spy = Path(sys.executable).with_name("py-spy")
        if not spy.exists():
            raise SystemExit(f"--spy needs py-spy next to {sys.executable} "
                             "(pip install py-spy)")
        launcher = (str(spy), "record", "--format", "raw", "--threads", "--nonblocking",
                    "--rate", "500", *(("--idle",) if args.spy_idle else ()),
                    "-o", str(args.spy), "--")
    rundir = workdir / f"run{run}"
    rundir.mkdir(exist_ok=True)
    with BenchWorker(bootstrap, prefix, rundir, args.partitions,
                     app_id=f"bench-{prefix}" + (f"-{run}" if run else ""),
                     env={"IOC_MULTIVARIATE": args.multivariate} if args.multivariate else None,
                     launcher=launcher, python_args=python_args,
                     # py-spy writes its file on SIGINT
                     stop_signal=signal.SIGINT if args.spy and not run else signal.SIGTERM
                     ) as w:
        first: tuple[float, float, float] | None = None
        last = (time.perf_counter(), 0.0, 0.0)
        deadline = time.monotonic() + 900
        parts_due = None  # the indicator parts sent when the last reading was taken in
        reading = 0  # looks that found the worker part of the way through
        while time.monotonic() < deadline:
            now = time.perf_counter()
            n = w.metrics().get("ioc_worker_readings_total", 0.0)
            used = w.cpu_s()
            if n > 0 and first is None:
                first = (now, n, used)
            reading += 0 < n < total
            last = (now, n, used)
            if n >= total:
                # the whole job: also the indicator parts of the windows closed by then
                parts = w.samples("ioc_worker_indicator_parts_total")
                if parts_due is None:
                    parts_due = parts.get(PARTS_SENT, 0.0)
                if parts.get(PARTS_MERGED, 0.0) >= parts_due:
                    break
            # each /metrics page costs the worker ~2 ms of its main thread: poll 4 times a
            # second, 20 near the end (where the last reading's time is taken)
            time.sleep(0.05 if n >= 0.95 * total else 0.25)
        else:
            raise RuntimeError(f"worker stalled at {last[1]:.0f} of {total} readings")
        m = w.metrics()
        assert first is not None
        if reading < 2:  # read between two looks at its metrics: nothing to time
            raise SystemExit(
                f"throughput.py: the worker read the {total:,} readings between two polls of "
                "its metrics, so its rate cannot be timed; give more readings (--readings, "
                "default 2,000,000)")
        rate = (last[1] - first[1]) / max(last[0] - first[0], 1e-9)
        cpu_rate = (last[1] - first[1]) / max(last[2] - first[2], 1e-9)
        return {"rate": rate, "cpu_rate": cpu_rate,
                "windows_closed": m.get("ioc_worker_windows_closed_total", 0.0),
                "alerts": m.get("ioc_worker_alerts_total", 0.0),
                "deadletter": m.get("ioc_worker_deadletter_total", 0.0),
                "dropped": m.get("ioc_worker_dropped_readings_total", 0.0),
                "rss_mb": w.rss_bytes() / 2**20, "threads": w.thread_cpu_s(),
                # live multivariate models (one vector per segment and window): their cost
                "mv_vectors": m.get("ioc_worker_multivariate_vectors_total", 0.0),
                "mv_seconds": m.get("ioc_worker_multivariate_seconds_total", 0.0)}


def side_by_side(bare: tuple[float, float], worker: dict[str, Any] | None,
                 peer: dict[str, Any], bare_rd: tuple[float, float]) -> None:
    """The rows: readings per second (wall clock, CPU) and the ratios to bare (aiokafka)."""
    rows: list[tuple[str, str]] = []
    for name, row in (("bare", {"rate": bare[0], "cpu_rate": bare[1]}),
                      ("bare (librdkafka)", {"rate": bare_rd[0], "cpu_rate": bare_rd[1]}),
                      ("worker", worker), ("peer (Quix Streams)", peer)):
        if row is None or "skipped" in row or "error" in row:
            why = "failed" if row is None else row.get("skipped") or row.get("error")
            rows.append((name, f"skipped: {why}"))
            continue
        rows.append((name, f"{row['rate']:>10,.0f}/s  {row['rate'] / bare[0]:5.2f}x   "
                           f"{row['cpu_rate']:>10,.0f}/CPU s  {row['cpu_rate'] / bare[1]:5.2f}x"))
    print(f"{'':<20}{'readings/s':>12}  {'/bare':>5}   {'per CPU s':>15}  {'/bare':>5}",
          file=sys.stderr)
    for name, cells in rows:
        print(f"{name:<20}{cells}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default=os.environ.get("IOC_KAFKA_BOOTSTRAP"))
    ap.add_argument("--readings", type=int, default=2_000_000)
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--cadence", type=float, default=1.0,
                    help="event-time seconds between two readings of a source's metric")
    ap.add_argument("--pack", type=int, default=500)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--worker-runs", type=int, default=1, metavar="N",
                    help="run the worker N times, each after one more bare run (the shared "
                         "machine's load drifts: the JSON gives each worker run's ratio to the "
                         "bare run just before it, and their median)")
    ap.add_argument("--multivariate", choices=("all", "sources", "indicators", "off"),
                    help="the worker's IOC_MULTIVARIATE (default: the product's, indicators)")
    ap.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True,
                    help="measure the Quix Streams peer row (default: yes)")
    ap.add_argument("--profile", type=Path, default=None,
                    help="run the worker under cProfile, writing stats to this file")
    ap.add_argument("--spy", type=Path, default=None,
                    help="run the worker under py-spy (if installed), writing collapsed stacks "
                         "to this file")
    ap.add_argument("--spy-idle", action="store_true",
                    help="with --spy: sample idle threads too (where the worker waits)")
    args = ap.parse_args()
    if args.repeat < 1 or args.worker_runs < 1:
        raise SystemExit("--repeat and --worker-runs must be at least 1")
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    worker: dict[str, Any] | None = None
    worker_error = ""
    with ExitStack() as stack:
        bootstrap, names = broker_with_topics(stack, args.bootstrap, prefix, args.partitions)
        topic = names.events("traffic")
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ioc-bench-")))
        t = time.perf_counter()
        total, nbytes = asyncio.run(produce(bootstrap, topic, args))
        print(f"produced {total:,} readings in {nbytes / 1e6:.0f} MB ({total // args.pack} "
              f"packs of {args.pack}) in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        bare, bare_cpu = [], []
        rd: list[tuple[float, float]] = []  # the librdkafka bare loop, after each aiokafka one

        def bare_rd() -> None:
            rd.append(bare_rdkafka_loop(bootstrap, topic, total))
            print(f"bare librdkafka loop run {len(rd)}: {rd[-1][0]:,.0f} readings/s "
                  f"({rd[-1][1]:,.0f} per CPU second)", file=sys.stderr)
        for i in range(args.repeat):
            wall, cpu = asyncio.run(bare_loop(bootstrap, topic, total))
            bare.append(wall)
            bare_cpu.append(cpu)
            print(f"bare loop run {i + 1}: {wall:,.0f} readings/s ({cpu:,.0f} per CPU second)",
                  file=sys.stderr)
            bare_rd()
        runs: list[dict[str, Any]] = []
        rd_pairs: list[tuple[float, float]] = []  # the same against the librdkafka loop
        pairs: list[tuple[float, float]] = []  # (wall, CPU) ratio of each worker run to the
        for k in range(args.worker_runs):      # bare run just before it
            if k:
                wall, cpu = asyncio.run(bare_loop(bootstrap, topic, total))
                bare.append(wall)
                bare_cpu.append(cpu)
                print(f"bare loop run {len(bare)}: {wall:,.0f} readings/s ({cpu:,.0f} per "
                      "CPU second)", file=sys.stderr)
                bare_rd()
            try:
                got = worker_run(bootstrap, prefix, total, args, workdir, run=k)
            except Exception as exc:  # the other rows are still worth printing
                worker_error = f"{type(exc).__name__}: {exc}"
                print(f"worker: failed: {worker_error}", file=sys.stderr)
                break
            runs.append(got)
            pairs.append((got["rate"] / bare[-1], got["cpu_rate"] / bare_cpu[-1]))
            rd_pairs.append((got["rate"] / rd[-1][0], got["cpu_rate"] / rd[-1][1]))
            if args.worker_runs > 1:
                print(f"worker run {k + 1}: {got['rate']:,.0f} readings/s ({got['cpu_rate']:,.0f}"
                      f" per CPU second): {pairs[-1][0]:.2f}x the bare run before it "
                      f"({pairs[-1][1]:.2f}x per CPU second)", file=sys.stderr)
        if runs and len(runs) == args.worker_runs:
            worker = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]  # the median run
            print(f"worker: {worker['rate']:,.0f} readings/s ({worker['cpu_rate']:,.0f} per "
                  f"CPU second), {worker['windows_closed']:,.0f} windows closed, "
                  f"{worker['alerts']:.0f} alert records, RSS {worker['rss_mb']:.0f} MB",
                  file=sys.stderr)
            print("worker CPU seconds per thread (whole life, start-up included): " + ", ".join(
                f"{k} {v:.2f}" for k, v in worker["threads"].items()), file=sys.stderr)
        peer: dict[str, Any] = (run_peer(bootstrap, topic, total, workdir=workdir)
                                if args.peer else {"skipped": "--no-peer"})
        if "skipped" not in peer:
            print(f"peer (Quix Streams): {peer['rate']:,.0f} readings/s ({peer['cpu_rate']:,.0f}"
                  f" per CPU second), {peer['aggregated']:,} readings aggregated, "
                  f"{peer['late']:,} late, {peer['windows_closed']:,} windows closed",
                  file=sys.stderr)
    bare_rate = statistics.median(bare)
    bare_cpu_rate = statistics.median(bare_cpu)
    rd_rate = statistics.median(w for w, _ in rd)
    rd_cpu_rate = statistics.median(c for _, c in rd)
    side_by_side((bare_rate, bare_cpu_rate), worker, peer, (rd_rate, rd_cpu_rate))
    out: dict[str, Any] = {
        "benchmark": "throughput", "readings": total, "bytes": nbytes,
        "pack_size": args.pack, "sources": args.sources, "series": 2 * args.sources,
        "cadence_s": args.cadence, "window_s": catalog.group("traffic").window_s,
        "partitions": args.partitions, "bare_rate": round(bare_rate),
        "bare_runs": [round(b) for b in bare], "bare_cpu_rate": round(bare_cpu_rate),
        "bare_rdkafka_rate": round(rd_rate), "bare_rdkafka_runs": [round(w) for w, _ in rd],
        "bare_rdkafka_cpu_rate": round(rd_cpu_rate), "target": target(args.cadence)}
    if worker is not None:
        if args.worker_runs > 1:
            out.update({"worker_runs": [round(r["rate"]) for r in runs],
                        "ratio_pairs": [round(w, 3) for w, _ in pairs],
                        "ratio_cpu_pairs": [round(c, 3) for _, c in pairs],
                        "ratio_pairs_median": round(statistics.median(w for w, _ in pairs), 3),
                        "ratio_cpu_pairs_median": round(
                            statistics.median(c for _, c in pairs), 3),
                        "ratio_rdkafka_pairs": [round(w, 3) for w, _ in rd_pairs],
                        "ratio_rdkafka_cpu_pairs": [round(c, 3) for _, c in rd_pairs]})
        out.update({
            "worker_rate": round(worker["rate"]), "ratio": round(worker["rate"] / bare_rate, 3),
            "worker_cpu_rate": round(worker["cpu_rate"]),
            "ratio_cpu": round(worker["cpu_rate"] / bare_cpu_rate, 3),
            "ratio_rdkafka": round(worker["rate"] / rd_rate, 3),
            "ratio_rdkafka_cpu": round(worker["cpu_rate"] / rd_cpu_rate, 3),
            "worker_cpu_main_s": round(worker["threads"]["main"], 2),
            "worker_cpu_other_threads_s": round(worker["threads"]["others"], 2),
            "windows_closed": int(worker["windows_closed"]),
            "alert_records": int(worker["alerts"]), "deadletter": int(worker["deadletter"]),
            "dropped": int(worker["dropped"]), "worker_rss_mb": round(worker["rss_mb"], 1),
            "multivariate_vectors": int(worker["mv_vectors"]),
            "multivariate_us_per_vector": round(
                1e6 * worker["mv_seconds"] / max(worker["mv_vectors"], 1), 1)})
        print(f"multivariate: {worker['mv_vectors']:,.0f} vectors, "
              f"{1e6 * worker['mv_seconds'] / max(worker['mv_vectors'], 1):,.0f} µs each "
              f"({worker['mv_seconds']:.2f} s of the worker's thread)", file=sys.stderr)
    else:
        out["worker_error"] = worker_error
    if "skipped" in peer:
        out["peer_skipped"] = peer["skipped"]
    else:
        out.update({
            "peer": "quixstreams", "peer_rate": round(peer["rate"]),
            "peer_ratio": round(peer["rate"] / bare_rate, 3),
            "peer_cpu_rate": round(peer["cpu_rate"]),
            "peer_ratio_cpu": round(peer["cpu_rate"] / bare_cpu_rate, 3),
            "peer_aggregated": peer["aggregated"], "peer_late": peer["late"],
            "peer_windows_closed": peer["windows_closed"]})
    print(json.dumps(out))
    if worker is None:
        sys.exit(1)


if __name__ == "__main__":
    main()
