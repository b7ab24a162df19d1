"""The worker's agents: thin loops that move bytes between Kafka and the pure code.

:class:`WorkerApp` builds the Faust app (:mod:`streams.app`), its topics and tables, the
:class:`~streams.pipeline.Pipeline` and the alert, silence, incident and indicator books, and
wires four agents, a timer and two web pages:

``events``      all 15 ``ioc.<group>.events`` topics, in batches (``noack_take``): decode
                (:mod:`streams.ingest`; invalid input to ``ioc.deadletter``), window, score,
                decide; publish window summaries, alert records and indicator parts.
``commands``    ``ioc.commands``: ack, resolve, note, silence through the alert book.
``incidents``   ``ioc.alerts`` (keyed by district): the incident linker.
``indicators``  the internal indicator-parts topic: merged group indicators per district.
timer           every second: idle partitions' clocks, silences and escalation, incident
                spans, checkpoints, gauges, health samples.
``/metrics``    Prometheus exposition; ``/healthz`` 200 once partitions are assigned and the
                tables recovered (503 before), with a JSON body whose ``status`` is ``ok`` or
                ``degraded`` (:mod:`streams.health`).

**Time.** Readings dated more than ``IOC_MAX_FUTURE_S`` ahead of the wall clock are
dead-lettered by the decoder (``future``); the windows refuse readings that jump their
partition's clock (``clock_jump``), come after their window closed (``late``) or would open
series beyond the unregistered-source bounds (``series_limit``), and the agent dead-letters
them with the reading's own bytes re-encoded. No partition clock passes the wall clock.

**Acknowledgement.** The events agent acknowledges a message only after (1) every window its
readings fall into has closed, (2) the records those closes produced are flushed to Kafka, and
(3) the state of the series they touched is written to the ``series`` changelog. Faust commits
acknowledged offsets only after another producer flush, so a committed offset never runs ahead
of the state and the alerts it implies; after a crash the rest is read again (at least once),
and the alert book returns identical records for windows it has already applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec
from aiokafka.partitioner import DefaultPartitioner
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ioc.errors import ValidationError
from ioc.events import DeadLetter, Incident, decode_alert, decode_command, encode
from ioc.settings import Settings
from streams.app import create_app
from streams.budget import SeriesBudget
from streams.health import TIME_CLASSES, HealthWatch
from streams.incidents import IncidentLinker
from streams.indicators import PART_DECODER, IndicatorMerger
from streams.ingest import decode_message
from streams.lifecycle import AlertBook
from streams.metrics import WorkerMetrics
from streams.pipeline import Pipeline
from streams.publish import BatchPublisher
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook
from streams.tables import PartitionedStore, WorkerTables
from streams.topics import TopicNames, WorkerTopics

if TYPE_CHECKING:
    import faust

__all__ = ["WorkerApp"]

log = logging.getLogger("ioc.worker")

_partitioner = DefaultPartitioner()
TRIM_EVERY_S = 30.0
SUMMARY_PACK = 500  # window summaries per ioc.indicators message


def _load_trim() -> Any:
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_malloc_trim = _load_trim()


def _trim_heap() -> None:
    """Give freed heap pages back to the system (glibc keeps a process's high-water mark;
    a window close of 100,000 series allocates its summaries at once, then frees them)."""
    if _malloc_trim is not None:
        _malloc_trim(0)
_NEVER_OPEN = float("-inf")


class WorkerApp:
    """A worker: the Faust app with its agents, and the state they share."""

    def __init__(self, settings: Settings, *, names: TopicNames | None = None,
                 offset_reset: str = "earliest", runtime: DetectorRuntime | None = None,
                 registry: CollectorRegistry | None = None, batch_messages: int = 128,
                 batch_within: float = 0.05, checkpoint_s: float | None = None,
                 tick_s: float = 1.0, alert_tick_s: float = 5.0, idle_s: float = 2.0) -> None:
        self.settings = settings
        self.names = names or TopicNames()
        self.app = create_app(settings, offset_reset=offset_reset,
                              buffer_messages=max(2 * batch_messages, 64))
        self.topics = WorkerTopics(self.app, self.names, settings)
        self.tables = WorkerTables(self.app, settings.partitions)
        self.registry = registry or CollectorRegistry()
        self.metrics = WorkerMetrics(self.registry)
        self.runtime = runtime or DetectorRuntime.from_settings(settings)
        self.publisher = BatchPublisher(
            self.app, batched=settings.processing_guarantee != "exactly_once")
        self.book = AlertBook.from_settings(
            PartitionedStore(self.tables.alerts, publisher=self.publisher), settings,
            locate=self._locate)
        self.silences = SilenceBook(self.tables.silences)
        self.pipeline = Pipeline(self.runtime, self.book, self.silences,
                                 lateness=settings.allowed_lateness_s, metrics=self.metrics,
                                 idle_s=idle_s, max_jump_s=settings.max_clock_jump_s,
                                 clock_lead_s=settings.clock_lead_s,
                                 budget=SeriesBudget(
                                     total=settings.max_unregistered_series,
                                     per_prefix=settings.max_series_per_prefix,
                                     per_message=settings.max_new_series_per_message))
        self.health = HealthWatch(refused_ratio=settings.degraded_refused_ratio)
        self.linker = IncidentLinker.from_settings(
            PartitionedStore(self.tables.incidents, self._key_partition, self.publisher),
            settings)
        self.merger = IndicatorMerger(self.tables.indicators)
        self.series_store = PartitionedStore(self.tables.series, publisher=self.publisher,
                                             keep_local=False)
        self.batch_messages = batch_messages
        self.batch_within = batch_within
        self.checkpoint_s = settings.checkpoint_interval_s if checkpoint_s is None \
            else checkpoint_s
        self.alert_tick_s = alert_tick_s
        self.partitions = settings.partitions
        self.events_topics = frozenset(self.names.all_events())
        self.pending: dict[tuple[str, int], deque[tuple[float, Any]]] = {}
        self.ready = False
        self.recoveries = 0
        self.started = time.monotonic()
        self._lock: asyncio.Lock | None = None
        self._last_checkpoint = time.monotonic()
        self._last_alert_tick = 0.0
        self._last_trim = time.monotonic()
        app = self.app
        app.agent(self.topics.events, name="events")(self._events_agent)
        app.agent(self.topics.commands, name="commands")(self._commands_agent)
        app.agent(self.topics.alerts, name="incidents")(self._incidents_agent)
        app.agent(self.topics.parts, name="indicators")(self._indicators_agent)
        app.timer(tick_s, name="ioc-tick")(self._tick)
        self.tables.series.on_recover(self._on_recover)
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

        # Faust binds a page function to its View class: plain functions, not bound methods
        async def metrics_page(view: Any, request: Any) -> Any:
            return await self._metrics_page(view, request)

        async def health_page(view: Any, request: Any) -> Any:
            return await self._health_page(view, request)

        app.page("/metrics")(metrics_page)
        app.page("/healthz")(health_page)

    # --- helpers ---------------------------------------------------------------------------
    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def _key_partition(self, key: str) -> int:
        """The partition Kafka's default partitioner gives a UTF-8 key."""
        parts = list(range(self.partitions))
        return int(_partitioner(key.encode(), parts, parts))

    def _locate(self, group: str, source: str, metric: str) -> int | None:
        """Transitional, until the pipeline passes ``observe(partition=...)``: the partition a
        new alert lane's readings arrive on."""
        return self.pipeline.partition_of(group, source, metric)

    def _send_dead(self, group: str, cls: str, dead: DeadLetter) -> None:
        self.metrics.deadletter(group, cls)
        if cls in TIME_CLASSES:
            self.health.time_refused += 1
        self.publisher.add(self.names.deadletter, dead.topic.encode(), encode(dead))

    async def _publish(self) -> None:
        """Queue what the pipeline produced and hand everything queued to the producer."""
        out = self.pipeline.take_output()
        add = self.publisher.add
        if out:
            alerts, indicators = self.names.alerts, self.names.indicators
            parts = self.topics.parts.get_topic_name()
            for rec in out.alerts:
                add(alerts, rec.district.encode(), encode(rec))
            for group, summaries in out.summaries.items():
                key = group.encode()  # a group's summaries stay in order on one partition
                for i in range(0, len(summaries), SUMMARY_PACK):
                    add(indicators, key, encode(summaries[i:i + SUMMARY_PACK]))
            for part in out.parts:
                add(parts, f"{part.group}:{part.district}".encode(), encode(part))
        if self.publisher.queue:
            await self.publisher.flush_out()

    # --- events ----------------------------------------------------------------------------
    async def _events_agent(self, stream: faust.StreamT) -> None:
        take = stream.noack_take  # type: ignore[attr-defined]  # faust-streaming, not in StreamT
        async for events in take(self.batch_messages, within=self.batch_within):
            async with self.lock:
                self._ingest(events)
                await self._publish()
                if time.monotonic() - self._last_checkpoint >= self.checkpoint_s:
                    await self._checkpoint()

    def _ingest(self, events: Iterable[Any]) -> None:
        generation = self.app.consumer_generation_id
        pipeline = self.pipeline
        health = self.health
        max_future = self.settings.max_future_s
        now = time.time()
        for event in events:
            msg = event.message
            if msg.generation_id != generation:
                continue  # from before a rebalance: the new owner reads it again
            topic, partition, offset = msg.topic, msg.partition, msg.offset
            group = self.names.group_of(topic)
            if group is None:
                continue
            raw = event.value
            if not isinstance(raw, bytes | bytearray):
                raw = b"" if raw is None else str(raw).encode()
            has_readings = False
            try:
                decoded = decode_message(bytes(raw), group=group, topic=topic,
                                         partition=partition, offset=offset, now=now,
                                         max_future=max_future)
                health.seen += len(decoded.readings) + len(decoded.dead)
                for cls, dead in decoded.dead:
                    self._send_dead(group, cls, dead)
                if decoded.readings:
                    has_readings = True
                    pipeline.ingest(group, partition, decoded.readings, offset=offset, now=now)
                    if pipeline.refused:
                        self._send_refused(topic, offset, now)
                else:
                    st = pipeline.state(group, partition)
                    st.last_offset = max(st.last_offset, offset)
            except Exception as exc:  # a bug must not stop the stream: log and dead-letter
                log.exception("processing %s[%d]@%d failed", topic, partition, offset)
                self._send_dead(group, "internal", DeadLetter(
                    reason=f"internal error: {type(exc).__name__}: {exc}"[:500], field="$",
                    topic=topic, partition=partition, offset=offset, raw=bytes(raw), ts=now))
            key = (group, partition)
            q = self.pending.get(key)
            if q is None:
                q = self.pending[key] = deque()
            # acknowledge once the windows up to its newest reading have closed (a message
            # without valid readings: as soon as the dead letters are flushed)
            after = pipeline.state(group, partition).windows.newest if has_readings \
                else _NEVER_OPEN
            q.append((after, msg))
            msg.value = None  # keep the message for its ack, not its bytes

    def _send_refused(self, topic: str, offset: int, now: float) -> None:
        """Dead-letter the readings the windows refused (late, clock jump, series limit)."""
        for group, partition, (cls, where, reason, reading) in self.pipeline.take_refused():
            self._send_dead(group, cls, DeadLetter(
                reason=reason, field=where, topic=topic, partition=partition, offset=offset,
                raw=encode(reading), ts=now))

    async def _checkpoint(self) -> None:
        """Flush what closed windows produced, write their series' state, then acknowledge
        the messages whose windows are all closed (call with the lock held)."""
        self._last_checkpoint = time.monotonic()
        ackable = []
        for (group, partition), q in self.pending.items():
            closed = self.pipeline.closed_upto(group, partition)
            while q and (q[0][0] < closed or q[0][0] == _NEVER_OPEN):
                ackable.append(q.popleft()[1])
        writes = self.pipeline.checkpoint()
        if not (ackable or writes):
            return
        await self.publisher.flush_out()
        await self.app.producer.flush()
        for key, partition, blob in writes:
            self.series_store.put(key, blob, partition)
        if writes:
            await self.publisher.flush_out()
            await self.app.producer.flush()
            self.metrics.state_writes_total.inc(len(writes))
        consumer = self.app.consumer
        for msg in ackable:
            msg.ack(consumer)

    # --- commands, incidents, indicators ---------------------------------------------------
    async def _commands_agent(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            raw = event.value if isinstance(event.value, bytes) else b""
            async with self.lock:
                try:
                    self.pipeline.command(decode_command(raw), msg.partition)
                except ValidationError as exc:
                    self._refuse_command(msg, raw, exc)
                await self._publish()

    def _refuse_command(self, msg: Any, raw: bytes, exc: ValidationError) -> None:
        log.warning("command %s[%d]@%d refused: %s", msg.topic, msg.partition, msg.offset, exc)
        self.metrics.deadletter("commands", "invalid")
        dead = DeadLetter(reason=exc.reason, field=exc.field, topic=msg.topic,
                          partition=msg.partition, offset=msg.offset, raw=raw, ts=time.time())
        self.publisher.add(self.names.deadletter, msg.topic.encode(), encode(dead))

    async def _incidents_agent(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            raw = event.value
            if not isinstance(raw, bytes):
                continue
            try:
                rec = decode_alert(raw)
            except ValidationError:
                continue  # not ours to judge: the alert topic is written by workers
            if isinstance(rec, Incident):
                continue
            async with self.lock:
                self._send_incidents(self.linker.on_alert(rec))
                await self._publish()

    def _send_incidents(self, incidents: list[Incident]) -> None:
        for inc in incidents:
            self.publisher.add(self.names.alerts, inc.district.encode(), encode(inc))

    async def _indicators_agent(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                part = PART_DECODER.decode(event.value)
            except (msgspec.DecodeError, TypeError):
                continue
            async with self.lock:
                for ind in self.merger.add(part):
                    self.publisher.add(self.names.indicators,
                                       f"{ind.group}:{ind.district}".encode(), encode(ind))
                await self._publish()

    # --- time ------------------------------------------------------------------------------
    def _caught_up(self, group: str, partition: int) -> bool:
        st = self.pipeline.parts.get((group, partition))
        if st is None:
            return True
        try:
            hw = self.app.consumer.highwater(TP(self.names.events(group), partition))
        except Exception:
            hw = None
        if hw is None:
            return time.monotonic() - st.last_event_wall > 30.0
        return st.last_offset >= hw - 1

    async def _tick(self) -> None:
        if not self.ready:
            return
        async with self.lock:
            self.pipeline.idle(self._caught_up)
            now = time.monotonic()
            self.health.sample(now)
            if now - self._last_alert_tick >= self.alert_tick_s:
                self._last_alert_tick = now
                self.pipeline.tick()
                clock = self.pipeline.clock()
                if clock > float("-inf"):
                    self._send_incidents(self.linker.tick(clock))
            await self._publish()
            if now - self._last_checkpoint >= self.checkpoint_s:
                await self._checkpoint()
            self._gauges()
            if now - self._last_trim >= TRIM_EVERY_S:
                self._last_trim = now
                _trim_heap()

    def _gauges(self) -> None:
        m = self.metrics
        m.tracked_series.set(sum(len(st.series) for st in self.pipeline.parts.values()))
        m.set_unregistered(self.pipeline.budget.counts())
        m.set_open_alerts(self.pipeline.open_alert_counts())
        lag: dict[str, int] = {}
        consumer = self.app.consumer
        for (group, partition), st in self.pipeline.parts.items():
            topic = self.names.events(group)
            with contextlib.suppress(Exception):
                hw = consumer.highwater(TP(topic, partition))
                if hw is not None:
                    lag[topic] = lag.get(topic, 0) + max(0, hw - 1 - st.last_offset)
        m.set_lag(lag)

    # --- rebalancing -----------------------------------------------------------------------
    def _event_partitions(self, tps: Iterable[TP]) -> set[int]:
        return {tp.partition for tp in tps if tp.topic in self.events_topics}

    async def _on_revoked(self, sender: Any, revoked: set[TP], **kwargs: Any) -> None:
        parts = self._event_partitions(revoked)
        async with self.lock:
            self.ready = False
            # Leave the live state where the restore after the rebalance finds it, in case
            # this worker gets the partitions back (the changelog may hold an older one,
            # which is consistent too: the uncommitted input is read again).
            for key, partition, blob in self.pipeline.snapshot(parts):
                self.series_store.set_local(key, blob, partition)
            self.pipeline.revoke(parts)
            for tp in [k for k in self.pending if k[1] in parts]:
                del self.pending[tp]
        log.info("partitions revoked: %s", sorted(parts))

    async def _on_assigned(self, sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        log.info("partitions assigned: %s", sorted(self._event_partitions(assigned)))

    async def _on_recover(self) -> None:
        """Tables are recovered: put back the series of the partitions this worker owns."""
        async with self.lock:
            assigned = self._event_partitions(self.app.consumer.assignment())
            restored = 0
            for key in self.series_store:  # a snapshot of the keys
                blob = self.series_store.pop_local(key)
                if isinstance(blob, bytes) and self.pipeline.restore(blob, assigned,
                                                                     dirty=True):
                    restored += 1
            self.pipeline.rebuild_open_alerts(lambda a: self.book.partition_of(a.alert_id))
            self.recoveries += 1
            self.ready = True
        log.info("recovered %d series for partitions %s", restored, sorted(assigned))

    # --- web -------------------------------------------------------------------------------
    async def _metrics_page(self, view: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; the exposition format is ASCII
        return view.bytes(generate_latest(self.registry),
                          content_type=CONTENT_TYPE_LATEST.split("; charset")[0])

    async def _health_page(self, view: Any, request: Any) -> Any:
        """``starting`` (HTTP 503) until partitions are assigned and tables recovered, then
        ``ok`` or ``degraded`` with ``reasons`` (:class:`~streams.health.HealthWatch`:
        readings refused for their time at a meaningful rate, or readings arriving while no
        window closes). Degraded answers HTTP 200: the worker is alive and consuming, and
        what degrades it is its input (bad clocks upstream), which a restart would not fix;
        an orchestrator's liveness probe must not restart it, alerting reads ``status``."""
        assigned: list[int] = []
        with contextlib.suppress(Exception):
            assigned = sorted(self._event_partitions(self.app.consumer.assignment()))
        reasons = self.health.reasons(list(self.pipeline.parts.values()), time.monotonic()) \
            if self.ready else []
        status = "starting" if not self.ready else "degraded" if reasons else "ok"
        body = {"status": status, "ready": self.ready, "reasons": reasons,
                "app_id": self.settings.app_id, "partitions": assigned,
                "recoveries": self.recoveries,
                "series": sum(len(st.series) for st in self.pipeline.parts.values()),
                "clock": max(self.pipeline.clock(), 0.0),
                "uptime_s": round(time.monotonic() - self.started, 1)}
        return view.json(body, status=200 if self.ready else 503)
