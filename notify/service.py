"""``ioc notify`` running: the consumer group on ``ioc.alerts``, the planner's clock and the
dispatcher, in one process.

* The **consumer** (this thread) reads ``ioc.alerts`` as the consumer group
  ``<IOC_APP_ID>-notify``. Where to start is the database's business: on assignment it seeks
  to the offsets the planner stored with the groups and chains they produced, so a ``kill -9``
  loses and doubles nothing. A partition without one (the very first run) starts at its end
  (``[notify] start = "latest"``, stored at once) or at its beginning (``"earliest"``).
  After each poll, and at least every ``tick``, it runs
  :meth:`~notify.planner.Planner.tick` (due groups, due escalation steps, the daily digest)
  and wakes the dispatcher.
* The **dispatcher** (:mod:`notify.dispatcher`, its own thread and pool) sends the outbox.
* ``/metrics`` and ``/healthz`` are served on ``IOC_NOTIFY_PORT``.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Mapping
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry

from archive.consumer import METADATA_MAX_AGE_MS
from archive.db_retry import DatabaseWait
from archive.store import Fenced, Store, Unavailable
from notify.channels import Sender
from notify.config import Config
from notify.contacts import Contacts
from notify.digest import DailyDigest
from notify.dispatcher import Dispatcher
from notify.metrics import NotifyMetrics
from notify.outbox import Outcome, Row
from notify.planner import Planner
from notify.plans import Plan

__all__ = ["Notifier"]

log = logging.getLogger("ioc.notify")
TP = tuple[str, int]


class Notifier:
    """One notifier process: reads, plans, sends, until ``stop`` is set."""

    def __init__(self, store: Store, config: Config, *, bootstrap: str, topics: list[str],
                 group_id: str, sla: Mapping[str, float],
                 registry: CollectorRegistry | None = None,
                 send: Callable[[Row], Outcome] | None = None, poll_ms: int = 200,
                 max_records: int = 2000) -> None:
        self.store, self.config, self.topics, self.group_id = store, config, topics, group_id
        self.metrics = NotifyMetrics(registry or CollectorRegistry())
        self.lock = threading.Lock()
        self.wake = threading.Event()
        contacts = Contacts(store)
        self.planner = Planner(store, config, consumer=group_id, contacts=contacts.all,
                               lock=self.lock)
        self.dispatcher = Dispatcher(store, config, send or Sender(config).send,
                                     metrics=self.metrics, lock=self.lock, wake=self.wake)
        self.poll_ms, self.max_records = poll_ms, max_records
        self.stored: dict[TP, int | None] = {}
        self.starting: set[TopicPartition] = set()
        self.ready = False
        self.digest = DailyDigest(store, config, sla=dict(sla), lock=self.lock)
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group_id, client_id=f"{group_id}-notify",
            enable_auto_commit=False, auto_offset_reset="earliest",
            isolation_level="read_committed", max_poll_records=max_records,
            session_timeout_ms=round(config.takeover * 1000), heartbeat_interval_ms=1_000,
            fetch_max_wait_ms=100, metadata_max_age_ms=METADATA_MAX_AGE_MS)
        self.db = DatabaseWait(self.consumer, self.metrics.db_errors, log, "notify")

    # --- assignment ------------------------------------------------------------------------
    def _seek_stored(self, partitions: list[TopicPartition]) -> None:
        if not partitions:
            return
        held = self.db.run(lambda: self.planner.offsets({tp.topic for tp in partitions}))
        for tp in partitions:
            nxt = held.get((tp.topic, tp.partition))
            self.stored[(tp.topic, tp.partition)] = nxt
            if nxt is not None:
                self.consumer.seek(tp, nxt)
            elif self.config.start == "latest":
                # a first run tells what happens from now on, not the 30 days the topic
                # holds: paused until :meth:`_store_starts` (after this callback: no
                # blocking calls in it) has stored and sought to the partition's end
                self.consumer.pause(tp)
                self.starting.add(tp)
            else:
                self.consumer.seek_to_beginning(tp)
        self.ready = not self.starting
        log.info("notify: assigned %s", sorted(f"{tp.topic}[{tp.partition}]"
                                               for tp in partitions))

    def _store_starts(self, stop: threading.Event) -> None:
        """Store where the first run starts on the partitions it reads from their end, so a
        restart resumes there even when no record came in between."""
        assigned = self.consumer.assignment()
        todo = [tp for tp in self.starting if tp in assigned]
        try:
            ends = self.consumer.end_offsets(todo) if todo else {}
        except Exception as exc:  # the broker did not answer: the next loop asks again
            log.warning("notify: cannot read the end offsets (%s); retrying", exc)
            return
        self.starting.clear()
        start = {(tp.topic, tp.partition): int(ends[tp]) for tp in todo}
        if start:
            try:
                self.db.run(lambda: self.planner.start_at(start), stop)
            except Fenced:  # another notifier stored a start first: use it
                self._seek_stored(todo)
                self.consumer.resume(*todo)
                return
            self.stored.update(start)
            for tp in todo:
                self.consumer.seek(tp, start[(tp.topic, tp.partition)])
            self.consumer.resume(*todo)
        self.ready = True

    # --- the loop --------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        me = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked: Any) -> None:
                for tp in revoked:
                    me.stored.pop((tp.topic, tp.partition), None)
                    me.starting.discard(tp)

            def on_partitions_assigned(self, assigned: Any) -> None:
                me._seek_stored(list(assigned))

        gc.collect()
        gc.freeze()  # start-up objects out of the collector's full scans (as the worker does)
        sending = threading.Thread(target=self.dispatcher.run, args=(stop,),
                                   name="notify-dispatcher", daemon=True)
        sending.start()
        self.consumer.subscribe(sorted(self.topics), listener=Listener())
        last_tick = 0.0
        try:
            while not stop.is_set():
                polled = self.consumer.poll(timeout_ms=self.poll_ms,
                                            max_records=self.max_records)
                if polled:
                    self._ingest(polled, stop)
                if self.starting:
                    self._store_starts(stop)
                if polled or time.monotonic() - last_tick >= self.config.tick:
                    last_tick = time.monotonic()
                    self.db.run(self._tick, stop)
        except Unavailable:
            pass
        finally:
            stop.set()
            self.wake.set()
            sending.join(timeout=30)
            self.consumer.close(autocommit=False)

    def _ingest(self, polled: Mapping[TopicPartition, list[Any]], stop: threading.Event
                ) -> None:
        records = [(tp.topic, tp.partition, m.offset, m.value)
                   for tp, messages in polled.items() for m in messages]
        offsets = {(tp.topic, tp.partition): messages[-1].offset + 1
                   for tp, messages in polled.items() if messages}
        expected = {tp: self.stored.get(tp) for tp in offsets}
        try:
            got = self.db.run(lambda: self.planner.ingest(records, expected), stop)
        except Fenced as exc:
            log.warning("notify: batch dropped, %s; seeking to the stored offsets", exc)
            self._seek_stored([TopicPartition(t, p) for t, p in offsets
                               if TopicPartition(t, p) in self.consumer.assignment()])
            return
        self.stored.update(offsets)
        self.metrics.records.inc(len(records))
        self._count(got.plan)
        if got.plan.rows:
            self.wake.set()
        for reason in got.rejects:
            self.metrics.rejects.inc()
            log.warning("notify: cannot decode %s", reason)
        for reason in got.stopped:
            self.metrics.escalations_stopped.labels(reason).inc()
        try:  # for lag tools only: the database is the source of truth
            self.consumer.commit({TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                                  for (t, p), o in offsets.items()})
        except Exception as exc:
            log.debug("notify: Kafka commit skipped: %s", exc)

    def _tick(self) -> None:
        now = time.time()
        plan = self.planner.tick(now)
        self._count(plan)
        self._digest(now)
        if plan.rows:
            self.wake.set()

    def _count(self, plan: Plan) -> None:
        for kind, n in Tally(row["kind"] for row in plan.rows).items():
            self.metrics.planned.labels(kind).inc(n)
        for reason in plan.suppressed:
            self.metrics.suppressed.labels(reason).inc()

    def _digest(self, now: float) -> None:
        day, added = self.digest.plan_due(lambda: self.planner.contacts(now), now)
        if day is not None:
            self.metrics.planned.labels("digest").inc(added)
        if added:
            log.info("notify: the digest of %s planned for %d receivers", day, added)
            self.wake.set()

    def health(self) -> tuple[int, dict[str, Any]]:
        if not self.ready:
            return 503, {"status": "starting"}
        return 200, {"status": "ok" if self.db.ok else "degraded", "group": self.group_id,
                     "database": "ok" if self.db.ok else "unavailable"}
