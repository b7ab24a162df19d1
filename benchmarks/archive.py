"""Archive benchmark: how fast ``ioc archive`` writes, against a bare batched-insert loop.

For each database (a SQLite file, and PostgreSQL when ``--postgres URL`` or
``IOC_TEST_DATABASE_URL`` names one), in the same run:

(a) ``bare``: the rows the archive would write, prepared beforehand, inserted with one plain
    ``INSERT`` per batch and table in one transaction per batch (no decoding, no offsets, no
    conflict handling): the most a Python writer of these rows can do;
(b) ``archive``: the same Kafka record values through :class:`archive.records.Batch` (decode,
    validate, roll up) and :meth:`archive.store.Store.write` (idempotent inserts, roll-up
    upserts, offsets checked and advanced in the same transaction).

With ``--bootstrap`` it also measures the end-to-end lag on a real broker, and with
``--query-rows N`` the p50/p95 of the history search and of an alert's detail on N alert
versions.

Two workloads: ``alerts`` (alert versions and commands: one row per record, the tables that
grow for ever) and ``mixed`` (the demo's shape: mostly window-summary packs rolled up into few
rows, some alert versions, commands and dead letters); rows/s counts the rows each path
writes. The target is archive >= 0.7x bare on ``alerts``. Each figure is the median of
``--repeat`` runs on a fresh database. Prints a table and a last line of JSON.

Run: ``.venv/bin/python benchmarks/archive.py [--records N] [--batch B] [--repeat R]
[--postgres URL]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# this file is named like the package it measures: take its own folder off the import path
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import msgspec
import sqlalchemy as sa

from archive import schema
from archive.records import Batch, Kind
from archive.store import Store
from ioc.events import (
    Alert,
    Command,
    DeadLetter,
    Evidence,
    WindowSummary,
    decode_alert,
    encode,
)

T0 = 1_795_366_800.0
Record = tuple[Kind, str, int, int, bytes]


def make_records(n: int, workload: str) -> list[Record]:
    """``n`` Kafka record values of the workload, with topic, partition and offset."""
    ev = Evidence(window_start=T0, window_end=T0 + 60, value=42.0, baseline=10.0,
                  threshold=30.0, score=0.97, raw=6.1, detector="robust_z",
                  detector_version="2", params={"window": 64}, recent=[10.0, 11.0, 42.0])
    out: list[Record] = []
    offsets: dict[str, int] = {}

    def add(kind: Kind, topic: str, value: bytes) -> None:
        part = len(out) % 4
        key = f"{topic}:{part}"
        off = offsets.get(key, 0)
        offsets[key] = off + 1
        out.append((kind, topic, part, off, value))

    i = 0
    while len(out) < n:
        source = f"flood-HC-{i % 500:03d}"
        if workload == "alerts" or i % 10 == 0:
            add("alerts", "ioc.alerts", encode(Alert(
                alert_id=f"robust_z:flooding:{source}:flood_depth:{i // 500}", version=1 + i % 7,
                status="firing", severity="major", category="city", group="flooding",
                district="Hai Chau", source=source, metric="flood_depth", detector="robust_z",
                title=f"Flood depth high at {source}", first_seen=T0, last_seen=T0 + i,
                count=1 + i % 7, updated_at=T0 + i, change="updated", evidence=ev)))
        if i % 8 == 0:
            add("commands", "ioc.commands", encode(Command(
                command_id=f"c-{i}", action="ack", user="operator", ts=T0 + i,
                alert_id=f"robust_z:flooding:{source}:flood_depth", reason="crew sent")))
        if workload == "mixed":
            add("indicators", "ioc.indicators", encode([
                WindowSummary("flooding", f"flood-HC-{j:03d}", "flood_depth", "Hai Chau",
                              T0 + 60 * (i // 50), T0 + 60 * (i // 50) + 60, 6, 12.0, 10.0,
                              14.0, 13.0, 1.0) for j in range(20)]))
            if i % 20 == 0:
                add("deadletter", "ioc.deadletter", encode(DeadLetter(
                    reason="unknown district 'Da Lat'", field="$.district",
                    topic="ioc.flooding.events", partition=0, offset=i, raw=b"{}", ts=T0 + i)))
        i += 1
    return out[:n]


def batches(records: list[Record], size: int) -> list[list[Record]]:
    return [records[i:i + size] for i in range(0, len(records), size)]


def to_batch(records: list[Record]) -> Batch:
    b = Batch()
    for kind, topic, part, off, value in records:
        b.add(kind, topic, part, off, value)
    return b


def rows_of(b: Batch) -> int:
    return (len(b.alerts) + len(b.incidents) + len(b.commands) + len(b.deadletters)
            + len(b.rollups) + len(b.rejects))


@contextmanager
def fresh(url: str | None, tmp: Path) -> Iterator[Store]:
    """A migrated, empty store: a new SQLite file, or a new database on the PostgreSQL
    server of ``url``."""
    if url is None:
        store = Store(f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}")
        store.migrate()
        try:
            yield store
        finally:
            store.close()
        return
    base = sa.engine.make_url(url)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    store = Store(base.set(database=name).render_as_string(hide_password=False))
    store.migrate()
    try:
        yield store
    finally:
        store.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run_bare(store: Store, prepared: list[Batch]) -> float:
    """Plain inserts of the rows each batch would write; seconds."""
    rollup_rows = [[{"resolution": k[0], "bucket": k[1], "group_slug": k[2], "district": k[3],
                     "metric": k[4], "counted": r.counted, "windows": r.windows,
                     "readings": r.readings, "total": r.total, "min": r.min, "max": r.max,
                     "last": r.last, "last_ts": r.last_ts} for k, r in b.rollups.items()]
                   for b in prepared]
    dl_rows = [[{"hour": h, "topic": t, "reason": r, "n": n}
                for (h, t, r), n in b.deadletters.items()] for b in prepared]
    # roll-up and count rows recur across batches (the same hour): the bare loop keeps the
    # first of each instead of merging, which is cheaper than what the archive does
    keep_first = store._insert
    started = time.perf_counter()
    for b, rollups, dls in zip(prepared, rollup_rows, dl_rows, strict=True):
        with store.engine.begin() as conn:
            for stmt, rows in ((schema.alert_versions.insert(), b.alerts),
                               (schema.commands.insert(), b.commands),
                               (keep_first(schema.indicator_rollups).on_conflict_do_nothing(),
                                rollups),
                               (keep_first(schema.deadletter_counts).on_conflict_do_nothing(),
                                dls)):
                if rows:
                    conn.execute(stmt, rows)
    return time.perf_counter() - started


def run_archive(store: Store, raw: list[list[Record]]) -> float:
    """Decode, roll up and write each batch exactly once with its offsets; seconds."""
    expected: dict[tuple[str, int], int | None] = {}
    started = time.perf_counter()
    for records in raw:
        b = to_batch(records)
        store.write("bench", b, expected)
        expected.update(b.offsets)
    return time.perf_counter() - started


def measure(url: str | None, workload: str, n: int, size: int, repeat: int,
            tmp: Path) -> dict[str, Any]:
    raw = batches(make_records(n, workload), size)
    prepared = [to_batch(r) for r in raw]
    rows = sum(rows_of(b) for b in prepared)
    bare, arch = [], []
    for _ in range(repeat):
        with fresh(url, tmp) as s:
            bare.append(rows / run_bare(s, prepared))
        with fresh(url, tmp) as s:
            arch.append(rows / run_archive(s, raw))
            assert s.count("alert_versions") == sum(len(b.alerts) for b in prepared)
    b_med, a_med = statistics.median(bare), statistics.median(arch)
    return {"database": "sqlite" if url is None else "postgresql", "workload": workload,
            "records": n, "rows": rows, "batch": size, "bare_rows_s": round(b_med),
            "archive_rows_s": round(a_med), "archive_records_s": round(a_med * n / rows),
            "ratio": round(a_med / b_med, 3)}


def stamped(value: bytes, now: float) -> bytes:
    """An alert record's bytes with ``updated_at`` set to ``now``."""
    rec = decode_alert(value)
    assert isinstance(rec, Alert)
    return encode(msgspec.structs.replace(rec, updated_at=now))


def end_to_end(bootstrap: str, url: str | None, seconds: float, rate: float,
               tmp: Path) -> dict[str, Any]:
    """``ioc archive`` (in a thread) on a real broker under the demo's shape of load at
    ``rate`` records/s: how far behind the newest alert version in the database is, sampled
    every 0.2 s (produce -> Kafka -> poll -> commit)."""
    import threading

    from prometheus_client import CollectorRegistry

    from archive.consumer import ArchiveConsumer
    from archive.run import archive_topics
    from ioc.kafka.admin import ensure_topics
    from ioc.settings import Settings
    from ioc.tools.producer import EventProducer
    from streams.topics import TopicNames

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    ensure_topics(TopicNames(prefix).specs(Settings(partitions=4)), bootstrap)
    topics = archive_topics(prefix)
    by_kind = {kind: topic for topic, kind in topics.items()}
    template = make_records(int(seconds * rate) + 1, "mixed")
    with fresh(url, tmp) as store:
        consumer = ArchiveConsumer(store, bootstrap=bootstrap, topics=topics,
                                   group_id=f"{prefix}-archive", registry=CollectorRegistry())
        stop = threading.Event()
        runner = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
        runner.start()
        producer = EventProducer(bootstrap, linger_ms=5)
        lags: list[float] = []
        newest = sa.select(sa.func.max(schema.alert_versions.c.updated_at))
        started = time.time()
        sent = 0
        try:
            while time.time() - started < seconds:
                due = int((time.time() - started) * rate)
                while sent < min(due, len(template)):
                    kind, _, _, _, value = template[sent]
                    if kind == "alerts":  # stamp the send time into the record
                        value = stamped(value, time.time())
                    producer.send_raw(by_kind[kind], str(sent % 64), value)
                    sent += 1
                producer.flush(10)
                with store.engine.connect() as conn:
                    top = conn.execute(newest).scalar()
                if top is not None:
                    lags.append(max(0.0, time.time() - float(top)))
                time.sleep(0.2)
        finally:
            stop.set()
            runner.join(30)
            producer.close()
    lags.sort()
    pick = (lambda q: round(lags[min(len(lags) - 1, int(q * len(lags)))], 3)) if lags \
        else (lambda q: None)
    return {"database": "sqlite" if url is None else "postgresql", "seconds": seconds,
            "rate": rate, "records": sent, "lag_p50_s": pick(0.5), "lag_p95_s": pick(0.95),
            "lag_max_s": round(lags[-1], 3) if lags else None}


def query_latency(url: str | None, rows: int, tmp: Path, runs: int = 50) -> dict[str, Any]:
    """p50/p95 of the history search (first page, a filtered page, page 21 by cursor, a text
    search) and of an alert's detail, on ``rows`` alert versions
    (:func:`archive.sample.seed_alert_versions`)."""
    from archive import queries
    from archive.sample import seed_alert_versions

    def timed(action: Any, n: int = runs) -> tuple[float, float]:
        action()  # warm
        took = []
        for _ in range(n):
            t = time.perf_counter()
            action()
            took.append(time.perf_counter() - t)
        took.sort()
        return (round(took[len(took) // 2] * 1e3, 2),
                round(took[min(len(took) - 1, int(0.95 * len(took)))] * 1e3, 2))

    with fresh(url, tmp) as store:
        seed_alert_versions(store, rows, seed=7)
        with store.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        first = queries.search_alerts(store, limit=50)
        some_id = first.rows[0]["alert_id"]
        cursor = None
        for _ in range(20):
            cursor = queries.search_alerts(store, limit=50, cursor=cursor).next_cursor
        figures = {
            "search": timed(lambda: queries.search_alerts(store, limit=50)),
            "search_group": timed(lambda: queries.search_alerts(store, group="traffic",
                                                                limit=50)),
            "search_page21": timed(lambda: queries.search_alerts(store, limit=50,
                                                                 cursor=cursor)),
            "search_text": timed(lambda: queries.search_alerts(store, text="flood", limit=50),
                                 n=max(5, runs // 5)),
            "detail": timed(lambda: queries.alert_history(store, some_id)),
        }
    return {"database": "sqlite" if url is None else "postgresql", "rows": rows,
            **{f"{k}_p50_ms": v[0] for k, v in figures.items()},
            **{f"{k}_p95_ms": v[1] for k, v in figures.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--postgres", default=os.environ.get("IOC_TEST_DATABASE_URL") or None,
                    help="a PostgreSQL URL (default: IOC_TEST_DATABASE_URL; none: SQLite only)")
    ap.add_argument("--bootstrap", help="a Kafka broker: also measure the end-to-end lag")
    ap.add_argument("--query-rows", type=int, default=0,
                    help="also time the history queries on this many alert versions "
                         "(the issue's figure: 1000000)")
    ap.add_argument("--seconds", type=float, default=30.0, help="end-to-end run length")
    ap.add_argument("--rate", type=float, default=200.0,
                    help="end-to-end load, records/s (the demo sends ~10/s of these kinds)")
    args = ap.parse_args()
    results = []
    urls = [None, *([args.postgres] if args.postgres else [])]  # SQLite, then PostgreSQL
    with tempfile.TemporaryDirectory(prefix="ioc-archive-bench-") as tmp:
        for url in urls:
            for workload in ("alerts", "mixed"):
                r = measure(url, workload, args.records, args.batch, args.repeat, Path(tmp))
                results.append(r)
                print(f"{r['database']:<11} {workload:<7} {r['rows']:>7} rows  "
                      f"bare {r['bare_rows_s']:>8} rows/s  archive {r['archive_rows_s']:>8} "
                      f"rows/s  ratio {r['ratio']:.3f}", flush=True)
        lag = []
        if args.bootstrap:
            for url in urls:
                r = end_to_end(args.bootstrap, url, args.seconds, args.rate, Path(tmp))
                lag.append(r)
                print(f"{r['database']:<11} end-to-end {r['records']} records at {args.rate:g}/s: "
                      f"lag p50 {r['lag_p50_s']} s, p95 {r['lag_p95_s']} s, "
                      f"max {r['lag_max_s']} s", flush=True)
        latency = []
        if args.query_rows:
            for url in urls:
                q = query_latency(url, args.query_rows, Path(tmp))
                latency.append(q)
                print(f"{q['database']:<11} queries on {args.query_rows:,} alert versions "
                      "(p50/p95 ms): " + ", ".join(f"{k} {q[k + '_p50_ms']}/{q[k + '_p95_ms']}"
                                  for k in ("search", "search_group", "search_page21",
                                            "search_text", "detail")), flush=True)
    print(json.dumps({"benchmark": "archive", "results": results, "end_to_end": lag,
                      "queries": latency}))


if __name__ == "__main__":
    main()
