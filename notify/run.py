"""Running the notifier: ``ioc notify`` wired from the settings.

>>> notify_topics("t42")
['t42.alerts']
"""

from __future__ import annotations

import logging
import threading

from prometheus_client import CollectorRegistry

from archive.consumer import serve_http
from archive.run import open_store
from ioc import topics
from ioc.errors import ConfigError
from ioc.settings import Settings
from notify.config import Config, load
from notify.service import Notifier

__all__ = ["load_config", "notify_topics", "run_notify"]

log = logging.getLogger("ioc.notify")


def notify_topics(prefix: str = topics.PREFIX) -> list[str]:
    """The topics the notifier reads: alerts and incidents (acks and resolutions arrive as
    new alert versions, so ``ioc.commands`` is not needed)."""
    return [f"{prefix}{topics.ALERTS[len(topics.PREFIX):]}"]


def load_config(settings: Settings) -> Config:
    """The config file of ``IOC_NOTIFY_CONFIG``, validated."""
    if not settings.notify_config:
        raise ConfigError("IOC_NOTIFY_CONFIG is not set: the notifier needs its routes "
                          "(see examples/notify.toml)")
    return load(settings.notify_config)


def run_notify(settings: Settings, stop: threading.Event, *, topic_prefix: str = "ioc",
               port: int | None = None) -> None:
    """Notify until ``stop`` is set (the caller turns signals into ``stop``)."""
    config = load_config(settings)
    if not settings.kafka_bootstrap:
        raise ConfigError("IOC_KAFKA_BOOTSTRAP is not set: the notifier reads a Kafka broker")
    store = open_store(settings)
    registry = CollectorRegistry()
    notifier = Notifier(store, config, bootstrap=settings.kafka_bootstrap,
                        topics=notify_topics(topic_prefix), group_id=f"{settings.app_id}-notify",
                        sla=settings.ack_sla_s, registry=registry)
    http_port = settings.notify_port if port is None else port
    try:
        server = serve_http(settings.worker_host, http_port, registry, notifier.health)
    except OSError as exc:
        raise ConfigError(f"IOC_NOTIFY_PORT: cannot listen on {settings.worker_host}:"
                          f"{http_port}: {exc.strerror or exc}") from None
    log.info("notify: %d routes from %s; metrics on http://%s:%d/metrics", len(config.routes),
             config.path, settings.worker_host, server.server_address[1])
    try:
        notifier.run(stop)
    finally:
        server.shutdown()
        store.close()
