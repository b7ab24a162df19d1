"""``ioc archive``: the consumer group that writes the topics into the archive, exactly once.

Reads ``ioc.alerts`` (alerts and incidents), ``ioc.commands``, ``ioc.indicators`` and
``ioc.deadletter`` as one consumer group; several archive processes share the partitions.
Each poll becomes one :class:`~archive.records.Batch`, written with its offsets in one
transaction (:meth:`~archive.store.Store.write`). Where to start is the database's business,
not Kafka's: when partitions are assigned, the consumer seeks to the offsets stored with the
rows (the beginning when there are none), so a ``kill -9`` at any moment loses and doubles
nothing. Offsets are committed to Kafka too, after the database, only so that lag tools see
them.

A database that goes away is retried with back-off (0.5 s doubling to 30 s) while the
partitions are paused and the consumer keeps polling (so it stays in its group); a batch
refused because another archive owns its partitions now (:class:`~archive.store.Fenced`) is
dropped and the consumer seeks to the stored offsets again. A record that cannot be decoded
goes to ``archive_rejects`` with its reason and offset and is counted; it never stops the
consumer.

Detector feedback (:mod:`archive.feedback`): the labelled alert records of a poll and the
records of the shadow topic (``shadow_topic``) are written idempotently just before the
batch, so a replay after a crash writes them again to the same rows.

Serves ``/metrics`` and ``/healthz`` on ``IOC_ARCHIVE_PORT`` (bound to ``IOC_WORKER_HOST``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from archive.db_retry import DatabaseWait
from archive.feedback import FeedbackBatch, write_feedback
from archive.records import Batch, Kind
from archive.store import Fenced, Store, Unavailable

__all__ = ["ArchiveConsumer", "ArchiveMetrics", "serve_http"]

log = logging.getLogger("ioc.archive")

TP = tuple[str, int]
# how often a consumer group reads the topics' metadata again: a topic created after the
# subscription (the worker makes ioc.alerts) joins the assignment within seconds, not at
# kafka-python's default of 5 minutes
METADATA_MAX_AGE_MS = 5_000


class ArchiveMetrics:
    """The archive's Prometheus metrics, declared once on the registry passed in."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter("ioc_archive_records", "Kafka records archived, per topic kind.",
                               ["kind"], registry=registry)
        self.rows = Counter("ioc_archive_rows_written", "Rows written, per table.", ["table"],
                            registry=registry)
        self.rejects = Counter("ioc_archive_rejects", "Records the archive could not decode.",
                               ["kind"], registry=registry)
        self.lag = Gauge("ioc_archive_lag_records",
                         "Records on the topics not yet archived, per topic kind.", ["kind"],
                         registry=registry)
        self.fenced = Counter("ioc_archive_fenced",
                              "Batches dropped because another archive owns the partitions.",
                              registry=registry)
        self.db_errors = Counter("ioc_archive_db_errors",
                                 "Failed attempts to reach the database.", registry=registry)
        self.write_seconds = Histogram("ioc_archive_write_seconds",
                                       "Time to write one batch and its offsets.",
                                       registry=registry)
        self.last_write = Gauge("ioc_archive_last_write_timestamp_seconds",
                                "Wall time of the last batch written.", registry=registry)


class ArchiveConsumer:
    """One archive process: polls, writes batches exactly once, stays in its group."""

    def __init__(self, store: Store, *, bootstrap: str, topics: Mapping[str, Kind],
                 group_id: str, registry: CollectorRegistry | None = None,
                 max_records: int = 5000, poll_ms: int = 500,
                 retention: Callable[[Store, float], object] | None = None,
                 retention_every_s: float = 600.0, shadow_topic: str | None = None) -> None:
        self.store = store
        self.topics = dict(topics)
        self.shadow_topic = shadow_topic
        self.group_id = group_id
        self.metrics = ArchiveMetrics(registry or CollectorRegistry())
        self.max_records = max_records
        self.poll_ms = poll_ms
        self.retention = retention
        self.retention_every_s = retention_every_s
        self.stored: dict[TP, int | None] = {}  # what this writer believes the DB holds
        self.ready = False
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group_id, client_id=f"{group_id}-archive",
            enable_auto_commit=False, auto_offset_reset="earliest",
            isolation_level="read_committed", max_poll_records=max_records,
            session_timeout_ms=10_000, heartbeat_interval_ms=1_000,
            max_poll_interval_ms=300_000, fetch_max_wait_ms=200,
            metadata_max_age_ms=METADATA_MAX_AGE_MS)
        self.db = DatabaseWait(self.consumer, self.metrics.db_errors, log, "archive")

    # --- assignment ------------------------------------------------------------------------
    def _seek_stored(self, partitions: list[TopicPartition]) -> None:
        if not partitions:
            return
        held = self.db.run(lambda: self.store.offsets(self.group_id,
                                                        {tp.topic for tp in partitions}))
        for tp in partitions:
            nxt = held.get((tp.topic, tp.partition))
            self.stored[(tp.topic, tp.partition)] = nxt
            if nxt is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, nxt)
        self.ready = True
        log.info("archive: assigned %s", sorted(f"{tp.topic}[{tp.partition}]"
                                                for tp in partitions))

    # --- the loop --------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Archive until ``stop`` is set."""
        me = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked: Any) -> None:
                for tp in revoked:
                    me.stored.pop((tp.topic, tp.partition), None)

            def on_partitions_assigned(self, assigned: Any) -> None:
                me._seek_stored(list(assigned))

        extra = [self.shadow_topic] if self.shadow_topic else []
        self.consumer.subscribe(sorted([*self.topics, *extra]), listener=Listener())
        last_retention = 0.0
        try:
            while not stop.is_set():
                polled = self.consumer.poll(timeout_ms=self.poll_ms,
                                            max_records=self.max_records)
                if polled:
                    self._archive(polled, stop)
                self._lag()
                if self.retention is not None and \
                        time.time() - last_retention >= self.retention_every_s:
                    last_retention = time.time()
                    self.db.run(partial(self.retention, self.store, last_retention), stop)
        except Unavailable:
            pass  # stopping while the database is away: nothing was written, nothing lost
        finally:
            self.consumer.close(autocommit=False)

    def _archive(self, polled: Mapping[TopicPartition, list[Any]], stop: threading.Event
                 ) -> None:
        batch = Batch()
        now = time.time()
        feedback = FeedbackBatch()
        for tp, messages in polled.items():
            if tp.topic == self.shadow_topic:
                for m in messages:
                    feedback.shadow_record(batch, tp.topic, tp.partition, m.offset, m.value)
                self.metrics.records.labels("shadow").inc(len(messages))
                continue
            kind = self.topics[tp.topic]
            for m in messages:
                batch.add(kind, tp.topic, tp.partition, m.offset, m.value, now)
                if kind == "alerts":
                    feedback.alert_record(m.value)
            self.metrics.records.labels(kind).inc(len(messages))
        expected = {tp: self.stored.get(tp) for tp in batch.offsets}
        started = time.perf_counter()
        try:
            if feedback:
                self.db.run(lambda: write_feedback(self.store, feedback.labelled,
                                                     feedback.shadow), stop)
            self.db.run(lambda: self.store.write(self.group_id, batch, expected), stop)
        except Fenced as exc:
            self.metrics.fenced.inc()
            log.warning("archive: batch dropped, %s; seeking to the stored offsets", exc)
            self._seek_stored([TopicPartition(t, p) for t, p in batch.offsets
                               if TopicPartition(t, p) in self.consumer.assignment()])
            return
        finally:
            paused = self.consumer.paused()
            if paused:
                self.consumer.resume(*paused)
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        self.metrics.last_write.set(time.time())
        self.stored.update(batch.offsets)
        self._count_rows(batch)
        try:  # for lag tools only: the database is the source of truth
            self.consumer.commit({TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                                  for (t, p), o in batch.offsets.items()})
        except Exception as exc:  # a rebalance in progress: the next batch commits again
            log.debug("archive: Kafka commit skipped: %s", exc)

    def _count_rows(self, batch: Batch) -> None:
        rows = self.metrics.rows
        for table, n in (("alert_versions", len(batch.alerts)),
                         ("incident_versions", len(batch.incidents)),
                         ("commands", len(batch.commands)),
                         ("deadletter_counts", len(batch.deadletters)),
                         ("indicator_rollups", len(batch.rollups)),
                         ("archive_rejects", len(batch.rejects))):
            if n:
                rows.labels(table).inc(n)
        for r in batch.rejects:
            self.metrics.rejects.labels(self.topics.get(r["topic"], "unknown")).inc()

    def _lag(self) -> None:
        lag: dict[str, int] = dict.fromkeys(set(self.topics.values()), 0)
        for tp in self.consumer.assignment():
            hw = self.consumer.highwater(tp)
            pos = self.stored.get((tp.topic, tp.partition))
            if hw is not None:
                kind = self.topics.get(tp.topic, "shadow")
                lag[kind] = lag.get(kind, 0) + max(0, hw - (pos or 0))
        for kind, n in lag.items():
            self.metrics.lag.labels(kind).set(n)

    def health(self) -> tuple[int, dict[str, Any]]:
        """The ``/healthz`` answer: 503 until partitions are assigned, then 200 with
        ``degraded`` while the database is unreachable."""
        if not self.ready:
            return 503, {"status": "starting"}
        status = "ok" if self.db.ok else "degraded"
        body: dict[str, Any] = {"status": status, "group": self.group_id,
                                "database": "ok" if self.db.ok else "unavailable"}
        return 200, body


def serve_http(host: str, port: int, registry: CollectorRegistry,
               health: Callable[[], tuple[int, dict[str, Any]]]) -> ThreadingHTTPServer:
    """``/metrics`` and ``/healthz`` in a daemon thread; returns the server (``.shutdown()``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/metrics":
                body, ctype, code = generate_latest(registry), CONTENT_TYPE_LATEST, 200
            elif path == "/healthz":
                code, doc = health()
                body, ctype = json.dumps(doc).encode(), "application/json"
            else:
                body, ctype, code = b"not found\n", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="archive-http", daemon=True).start()
    return server
