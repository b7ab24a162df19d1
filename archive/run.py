"""Running the archive: ``ioc archive`` (the consumer process) wired from the settings.

>>> archive_topics("t42")["t42.alerts"]
'alerts'
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from prometheus_client import CollectorRegistry

from archive.consumer import ArchiveConsumer, serve_http
from archive.records import Kind
from archive.store import Store, default_url
from ioc import topics
from ioc.errors import ConfigError
from ioc.settings import Settings

__all__ = ["archive_topics", "open_store", "run_archive"]

log = logging.getLogger("ioc.archive")


def archive_topics(prefix: str = topics.PREFIX) -> dict[str, Kind]:
    """The topics the archive reads (under ``prefix``), and the kind of each."""
    def name(standard: str) -> str:
        return f"{prefix}{standard[len(topics.PREFIX):]}"

    return {name(topics.ALERTS): "alerts", name(topics.COMMANDS): "commands",
            name(topics.INDICATORS): "indicators", name(topics.DEADLETTER): "deadletter"}


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The archive store of ``settings`` (``IOC_DATABASE_URL``, else SQLite under
    ``IOC_DATA_DIR``), migrated to the newest schema."""
    store = Store(settings.database_url or default_url(Path(settings.data_dir)))
    if migrate:
        store.migrate()
    return store


def _retention(settings: Settings) -> object:
    def apply(store: Store, now: float) -> None:
        gone = store.apply_retention(now, hourly_days=settings.archive_hourly_retention_days,
                                     daily_days=settings.archive_daily_retention_days,
                                     alert_days=settings.archive_alert_retention_days)
        if any(gone.values()):
            log.info("archive: retention deleted %s", gone)
    return apply


def run_archive(settings: Settings, stop: threading.Event, *, topic_prefix: str = "ioc",
                port: int | None = None) -> None:
    """Archive until ``stop`` is set (the caller turns signals into ``stop``)."""
    if not settings.kafka_bootstrap:
        raise ConfigError("IOC_KAFKA_BOOTSTRAP is not set: the archive reads a Kafka broker")
    store = open_store(settings)
    registry = CollectorRegistry()
    consumer = ArchiveConsumer(store, bootstrap=settings.kafka_bootstrap,
                               topics=archive_topics(topic_prefix),
                               group_id=f"{settings.app_id}-archive", registry=registry,
                               retention=_retention(settings),  # type: ignore[arg-type]
                               shadow_topic=f"{topic_prefix}{topics.SHADOW[len(topics.PREFIX):]}")
    http_port = settings.archive_port if port is None else port
    try:
        server = serve_http(settings.worker_host, http_port, registry, consumer.health)
    except OSError as exc:
        raise ConfigError(f"IOC_ARCHIVE_PORT: cannot listen on {settings.worker_host}:"
                          f"{http_port}: {exc.strerror or exc}") from None
    log.info("archive: writing %r; metrics on http://%s:%d/metrics", store,
             settings.worker_host, server.server_address[1])
    try:
        consumer.run(stop)
    finally:
        server.shutdown()
        store.close()
