"""The Faust application of a worker, configured from :class:`~ioc.settings.Settings`.

Every worker started with the same ``IOC_APP_ID`` joins one consumer group: the partitions of
the 15 events topics (and of ``ioc.commands``, ``ioc.alerts`` and the internal topics, all with
``IOC_PARTITIONS`` partitions, so Faust assigns them co-partitioned) are shared among them.

Choices (see KAFKA.md): short group timeouts (a worker joins in seconds, also on the embedded
broker, and a dead worker's partitions move within ~6 s), in-memory table stores rebuilt from
the changelogs (no rocksdb), no standby replicas, ``stream_wait_empty=False`` (the events agent
acknowledges messages only once their windows are checkpointed, so a rebalance must not wait
for it; unacknowledged messages are read again by the new owner).

>>> app = create_app(Settings(kafka_bootstrap="127.0.0.1:9092", app_id="doc", partitions=2))
>>> app.conf.id, app.conf.topic_partitions, app.conf.broker_session_timeout
('doc', 2, 6.0)
>>> type(app.transport).__module__
'streams.transport'
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.sensors import Monitor
from faust.tables import TableManager
from faust.web import drivers as web_drivers

from ioc.errors import ConfigError
from ioc.kafka.broker import split_bootstrap
from ioc.settings import Settings
from streams.transport import Transport

__all__ = ["PromptTableManager", "PromptWorker", "QuietMonitor", "WorkerFaustApp", "create_app"]


class WorkerFaustApp(faust.App):
    """A Faust app whose consumer uses :class:`streams.transport.Transport` (a short fetch
    long-poll, so quiet partitions never hold back busy ones) and whose web server serves
    only the pages the worker registers itself (``/metrics``, ``/healthz``).

    Faust's built-in pages (``/table/<name>/<key>/`` returned whole alert records without any
    authentication, ``/router``, ``/graph``, statistics, and the index that answers "OK"
    whatever the worker's health) are all off.
    """

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)

    def _new_web(self) -> Any:
        driver = web_drivers.by_url(self.conf.web)
        bare = type(f"Bare{driver.__name__}", (driver,), {
            "default_blueprints": [], "production_blueprints": [], "debug_blueprints": [],
            "optional_blueprints": []})
        return bare(self)


class PromptTableManager(TableManager):
    """Faust's table manager without the second it waits before starting the tables, for
    tables an app might still define once it runs: a worker defines all of its own before
    (a worker was ready 1 s sooner, at every start and restart)."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


class PromptWorker(faust.Worker):
    """Faust's worker without the second it waits, once everything has stopped, before it
    closes the event loop (a worker stopped 1 s sooner, at every stop and restart)."""

    async def _sentinel_task(self) -> None:
        await asyncio.sleep(0.05)  # the last callbacks of the stopped services run


class QuietMonitor(Monitor):
    """Faust's monitor without its per-event bookkeeping (the worker exports its own
    Prometheus metrics; the per-event hooks cost microseconds on the hot path)."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> Any:
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any,
                            state: Any = None) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int,
                          valsize: int) -> Any:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        return None


def create_app(settings: Settings, *, offset_reset: str = "earliest",
               buffer_messages: int = 512) -> faust.App:
    """A Faust app for ``settings`` (its agents are added by :mod:`streams.agents`)."""
    if not settings.kafka_bootstrap:
        raise ConfigError("IOC_KAFKA_BOOTSTRAP is not set: a worker needs a Kafka broker "
                          "(`ioc broker` runs an embedded one)")
    if offset_reset not in ("earliest", "latest"):
        raise ConfigError(f"offset reset must be earliest or latest, got {offset_reset!r}")
    brokers = [f"kafka://{h}:{p}" for h, p in split_bootstrap(settings.kafka_bootstrap)]
    return WorkerFaustApp(
        settings.app_id,
        broker=brokers,
        store="memory://",
        autodiscover=False,
        datadir=settings.data_dir,
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        table_standby_replicas=0,
        broker_rebalance_timeout=6.0,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        broker_commit_livelock_soft_timeout=3600.0,
        consumer_auto_offset_reset=offset_reset,
        stream_wait_empty=False,
        stream_buffer_maxsize=buffer_messages,
        producer_linger_ms=5,
        producer_max_batch_size=262_144,
        producer_max_request_size=4_194_304,
        consumer_max_fetch_size=2_097_152,
        # Faust creates its changelog and internal topics just before it subscribes; under load
        # the broker's metadata may not list them yet, the assignor ignores them and the group
        # waits for the next metadata refresh to rebalance (default 5 min: a worker that never
        # got ready). Refreshing every 10 s bounds that wait.
        consumer_metadata_max_age_ms=10_000,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=True,
        web_port=settings.worker_port,
        web_bind=settings.worker_host,
        web_host=settings.worker_host,
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        Monitor=QuietMonitor,
        TableManager=PromptTableManager,
        loghandlers=[],
    )
