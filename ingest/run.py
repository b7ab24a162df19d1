"""Running the MQTT bridge: one Kafka producer, one :class:`~ingest.bridge.MqttLink` per
broker, the dedupe memory read back from Kafka, until a stop event or a Kafka failure."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from ingest.bridge import BridgeMetrics, MqttLink, kafka_producer
from ingest.config import IngestConfig
from ingest.dedupe import Seen, recent_digests
from ioc import catalog
from ioc.errors import BrokerError, ConfigError
from ioc.settings import Settings

log = logging.getLogger("ioc.ingest")


def run_bridge(settings: Settings, config: IngestConfig, bootstrap: str,
               stop: threading.Event, *, prefix: str = "ioc",
               registry: CollectorRegistry | None = None,
               started: Callable[[list[MqttLink]], None] | None = None) -> None:
    """Forward until ``stop`` is set; BrokerError when Kafka refuses readings (nothing of
    them was acknowledged to MQTT) or a broker cannot be connected at start."""
    if not config.brokers:
        raise ConfigError("IOC_INGEST_CONFIG: no [[broker]] table: nothing to subscribe to")
    metrics = BridgeMetrics(registry or CollectorRegistry())
    failure: list[str] = []

    def on_error(why: str) -> None:
        if not failure:
            failure.append(why)
            log.error("%s", why)
        stop.set()

    groups = config.groups() or catalog.GROUP_SLUGS
    topics = [f"{prefix}.{g}.events" for g in groups]
    producer = kafka_producer(bootstrap)
    links: list[MqttLink] = []
    try:
        for b in config.brokers:
            seen = Seen(settings.ingest_dedupe_s)
            if settings.ingest_dedupe_s > 0:
                since = time.time() - settings.ingest_dedupe_s
                for key, at in recent_digests(bootstrap, topics, b.client_id, since):
                    seen.add(key, at)
                log.info("broker %s: %d message(s) written in the last %g s remembered",
                         b.name, len(seen), settings.ingest_dedupe_s)
            link = MqttLink(config, b, producer, metrics=metrics, seen=seen, prefix=prefix,
                            max_inflight=settings.ingest_max_inflight, on_error=on_error)
            link.start()
            links.append(link)
        if started is not None:
            started(links)
        stop.wait()
    finally:
        if not failure:
            producer.flush(timeout=30)
        for link in links:
            link.stop() if not failure else link.client.loop_stop()
        producer.close(timeout=5)
    if failure:
        raise BrokerError(failure[0])
