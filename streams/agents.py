"""The worker's Faust wiring: thin agents that hand batches to plain objects.

:class:`WorkerApp` builds the Faust app (:mod:`streams.app`), its topics and tables, the
:class:`~streams.pipeline.Pipeline` and the alert, silence, incident and indicator books, and
wires four agents, a timer, the rebalance hooks and two web pages to the objects that do the
work (each tested without Faust):

``events``      all 15 ``ioc.<group>.events`` topics, in batches, read by an
                :class:`~streams.reader.EventsReader` (librdkafka, following the group's
                assignment; ``IOC_EVENTS_CLIENT=faust``: this agent, ``noack_take``):
                :class:`~streams.intake.EventIntake` (decode, dead-letter, window, score,
                decide), then the :class:`~streams.publish.Outbox` sends window summaries,
                alert records and indicator parts, and the
                :class:`~streams.acks.Checkpointer` acknowledges what is safe.
``commands``    ``ioc.commands``: ack, resolve, note, silence through the alert book.
``incidents``   ``ioc.alerts`` (keyed by district): the incident linker.
``indicators``  the internal indicator-parts topic: merged group indicators per district.
                (These three: :class:`~streams.handlers.SideInputs`.)
timer           every second: :class:`~streams.ticker.Ticker` (idle partitions' clocks,
                silences and escalation, incident spans, checkpoints, gauges, health).
rebalancing     :class:`~streams.rebalance.Rebalancer` (revoke, recover).
``/metrics``    and ``/healthz``: :class:`~streams.web.WorkerPages`.

One lock serialises them all: the pipeline and the books are plain, single-threaded objects.

**Time.** Readings dated more than ``IOC_MAX_FUTURE_S`` ahead of the wall clock are
dead-lettered by the decoder (``future``); the windows refuse readings that jump their
partition's clock (``clock_jump``), come after their window closed (``late``) or would open
series beyond the unregistered-source bounds (``series_limit``), and they are dead-lettered
with the reading's own bytes re-encoded. No partition clock passes the wall clock.

**Acknowledgement**: see :mod:`streams.acks` (at least once; the alert book returns identical
records for windows it has already applied).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from faust.types import TP
from prometheus_client import CollectorRegistry

from ioc.settings import Settings
from streams.acks import AckLedger, Checkpointer
from streams.app import create_app
from streams.budget import SeriesBudget
from streams.deadletters import DeadLetterSink
from streams.handlers import SideInputs
from streams.health import HealthWatch, WorkerStatus
from streams.incidents import IncidentLinker
from streams.indicators import IndicatorMerger
from streams.intake import EventIntake
from streams.lifecycle import AlertBook
from streams.metrics import WorkerMetrics
from streams.multivariate import MultivariateConfig, fit_executor
from streams.pipeline import Pipeline
from streams.publish import BatchPublisher, Outbox, default_partition
from streams.reader import EventsReader, ReaderFeed, events_client
from streams.rebalance import Rebalancer
from streams.runtime import DetectorRuntime
from streams.side_agents import SideAgents
from streams.silences import SilenceBook
from streams.tables import PartitionedStore, WorkerTables
from streams.ticker import Ticker
from streams.topics import TopicNames, WorkerTopics
from streams.web import WorkerPages

if TYPE_CHECKING:
    import faust

__all__ = ["WorkerApp"]

log = logging.getLogger("ioc.worker")


class WorkerApp:
    """A worker: the Faust app with its agents, and the objects they hand their input to."""

    def __init__(self, settings: Settings, *, names: TopicNames | None = None,
                 offset_reset: str = "earliest", runtime: DetectorRuntime | None = None,
                 registry: CollectorRegistry | None = None, batch_messages: int = 128,
                 batch_within: float = 0.05, checkpoint_s: float | None = None,
                 tick_s: float = 1.0, alert_tick_s: float = 5.0, idle_s: float = 2.0) -> None:
        self.settings = settings
        self.names = names or TopicNames()
        # the stream buffer holds four batches: a batch taken out of it leaves the next one
        # waiting (with two, the take waited out its ``within`` for the consumer's refill)
        self.app = create_app(settings, offset_reset=offset_reset,
                              buffer_messages=max(4 * batch_messages, 64))
        self.topics = WorkerTopics(self.app, self.names, settings)
        self.tables = WorkerTables(self.app, settings.partitions)
        self.registry = registry or CollectorRegistry()
        self.metrics = WorkerMetrics(self.registry)
        self.publisher = BatchPublisher(
            self.app, batched=settings.processing_guarantee != "exactly_once")
        self.health = HealthWatch(refused_ratio=settings.degraded_refused_ratio)
        self.status = WorkerStatus()
        self.batch_messages = batch_messages
        self.batch_within = batch_within
        self.offset_reset = offset_reset
        self._lock: asyncio.Lock | None = None
        self._build_state(runtime or DetectorRuntime.from_settings(settings), idle_s)
        self._build_workers(settings.checkpoint_interval_s if checkpoint_s is None
                            else checkpoint_s, alert_tick_s)
        self._wire(tick_s)

    def _build_state(self, runtime: DetectorRuntime, idle_s: float) -> None:
        """The pipeline and the books, over the worker's tables."""
        s, tables, publisher = self.settings, self.tables, self.publisher
        self.runtime = runtime
        self.book = AlertBook.from_settings(
            PartitionedStore(tables.alerts, publisher=publisher), s)
        self.silences = SilenceBook(tables.silences)
        self.pipeline = Pipeline(runtime, self.book, self.silences,
                                 lateness=s.allowed_lateness_s, metrics=self.metrics,
                                 idle_s=idle_s, max_jump_s=s.max_clock_jump_s,
                                 clock_lead_s=s.clock_lead_s,
                                 budget=SeriesBudget(
                                     total=s.max_unregistered_series,
                                     per_prefix=s.max_series_per_prefix,
                                     per_message=s.max_new_series_per_message),
                                 multivariate=MultivariateConfig.from_settings(s),
                                 fit_executor=fit_executor())
        # keyed like their input topics (alerts by district, parts by group:district): a
        # key's partition is the one its producer hashed it to
        def by_key(key: str) -> int:
            return default_partition(key, s.partitions)
        self.linker = IncidentLinker.from_settings(
            PartitionedStore(tables.incidents, by_key, publisher), s)
        self.merger = IndicatorMerger(PartitionedStore(tables.indicators, by_key, publisher))
        self.series_store = PartitionedStore(tables.series, publisher=publisher,
                                             keep_local=False)

    def _build_workers(self, checkpoint_s: float, alert_tick_s: float) -> None:
        """The plain objects the agents, the timer and the hooks hand their work to."""
        names, pipeline = self.names, self.pipeline
        self.outbox = Outbox(self.publisher, names, self.topics.parts.get_topic_name(),
                             pipeline.take_output, take_shadow=self.book.take_shadow,
                             parts_sent=self.metrics.indicator_parts_total.labels("sent").inc)
        self.dead = DeadLetterSink(self.publisher, names.deadletter, self.metrics, self.health)
        self.ledger = AckLedger()
        self.feed = None if events_client(self.settings) != "librdkafka" else ReaderFeed(
            EventsReader.from_settings(self.settings, self.names.all_events(), self.offset_reset,
                                       lambda: self.app.consumer_generation_id,
                                       self.batch_messages),
            PartitionedStore(self.tables.offsets, publisher=self.publisher), self._take,
            stopping=lambda: self.app.should_stop)
        self.checkpoints = Checkpointer(pipeline, self.ledger, self.series_store, self.metrics,
                                        flush=self._flush, ack=self._ack,
                                        interval_s=checkpoint_s,
                                        after_ack=self.feed.store_offsets if self.feed else None)
        self.metrics.unsaved_series.set_function(self.checkpoints.unsaved)
        self.intake = EventIntake(pipeline, names, self.dead, self.health, self.ledger,
                                  max_future_s=self.settings.max_future_s,
                                  generation=lambda: self.app.consumer_generation_id)
        self.inputs = SideInputs(pipeline, self.linker, self.merger, self.outbox, self.dead)
        self.ticker = Ticker(pipeline=pipeline, linker=self.linker, health=self.health,
                             metrics=self.metrics, outbox=self.outbox,
                             checkpoints=self.checkpoints, names=names,
                             highwater=self._highwater, alert_tick_s=alert_tick_s)
        self.rebalance = Rebalancer(pipeline=pipeline, book=self.book,
                                    series_store=self.series_store, ledger=self.ledger,
                                    status=self.status, events_topics=self._owned_topics(),
                                    assignment=lambda: self.app.consumer.assignment())
        self.pages = WorkerPages(settings=self.settings, registry=self.registry,
                                 status=self.status, health=self.health, pipeline=pipeline,
                                 assigned=self.rebalance.assigned)

    def _wire(self, tick_s: float) -> None:
        app = self.app
        if self.feed is None:
            app.agent(self.topics.events, name="events")(self._events_agent)
        else:
            app.task(self.feed.run)
        side = SideAgents(self.inputs, self.outbox, lambda: self.lock,
                          self.metrics.indicator_parts_total.labels("merged").inc,
                          batch_messages=self.batch_messages, batch_within=self.batch_within)
        app.agent(self.topics.commands, name="commands")(side.commands)
        app.agent(self.topics.alerts, name="incidents")(side.incidents)
        app.agent(self.topics.parts, name="indicators")(side.indicators)
        app.timer(tick_s, name="ioc-tick")(self._tick)
        self.tables.series.on_recover(self._on_recover)
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]
        self.pages.register(app)

    # --- state the tests and the hooks look at ---------------------------------------------
    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    @property
    def ready(self) -> bool:
        return self.status.ready

    @ready.setter
    def ready(self, value: bool) -> None:
        self.status.ready = value

    @property
    def recoveries(self) -> int:
        return self.status.recoveries

    @property
    def pending(self) -> dict[tuple[str, int], Any]:
        """Messages waiting for acknowledgement, per (group, partition)."""
        return self.ledger.pending

    @property
    def checkpoint_s(self) -> float:
        return self.checkpoints.interval_s

    # --- what the plain objects are given --------------------------------------------------
    def _owned_topics(self) -> list[str]:
        """Topics whose assigned partitions are the events partitions this worker owns: the
        events topics themselves, or (read by the reader) the co-partitioned parts topic."""
        if self.feed is None:
            return self.names.all_events()
        return [self.topics.parts.get_topic_name()]

    def _highwater(self, topic: str, partition: int) -> int | None:
        if self.feed is not None:
            return self.feed.reader.highwater(topic, partition)
        return self.app.consumer.highwater(TP(topic, partition))

    async def _flush(self) -> None:
        await self.publisher.flush_out()
        await self.app.producer.flush()

    def _ack(self, msg: Any) -> None:
        if self.feed is None:
            msg.ack(self.app.consumer)
        else:
            self.feed.acked(msg)

    # --- agents ----------------------------------------------------------------------------
    async def _take(self, events: Any) -> None:
        """One batch of events-topic messages, from the reader or the agent."""
        async with self.lock:
            for _ in self.intake.steps(events):
                await asyncio.sleep(0)  # a big window close: let the loop breathe
            await self.outbox.send()
            if self.checkpoints.due():
                await self.checkpoints.run()

    async def _events_agent(self, stream: faust.StreamT) -> None:
        take = stream.noack_take  # type: ignore[attr-defined]  # faust-streaming, not in StreamT
        async for events in take(self.batch_messages, within=self.batch_within):
            await self._take(events)

    # --- timer and rebalancing -------------------------------------------------------------
    async def _tick(self) -> None:
        if self.status.ready:
            async with self.lock:
                await self.ticker.tick()

    async def _on_revoked(self, sender: Any, revoked: set[TP], **kwargs: Any) -> None:
        async with self.lock:
            parts = self.rebalance.revoke(revoked)
            if self.feed is not None:
                self.feed.revoke(parts)
        log.info("partitions revoked: %s", sorted(parts))

    async def _on_assigned(self, sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        log.info("partitions assigned: %s", sorted(self.rebalance.event_partitions(assigned)))

    async def _on_recover(self) -> None:
        """Tables are recovered: put back the series of the partitions this worker owns."""
        async with self.lock:
            restored, assigned = self.rebalance.recover()
            if self.feed is not None:
                await self.feed.follow(assigned)
        log.info("recovered %d series for partitions %s", restored, sorted(assigned))
