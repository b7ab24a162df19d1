"""``ioc ingest``: the MQTT bridge and the HTTP ingest API (issue 15)."""

from __future__ import annotations

import click

from ioc.cli.root import _bootstrap, _bootstrap_option, cli, load_settings
from ioc.errors import ConfigError


@cli.group("ingest")
def ingest_command() -> None:
    """Bring readings in from field sensors (MQTT) and partner systems (HTTP)."""


@ingest_command.command("mqtt")
@_bootstrap_option
@click.option("--config", "config_path", metavar="FILE",
              help="The ingest file (default: IOC_INGEST_CONFIG).")
@click.option("--topic-prefix", metavar="PREFIX", default="ioc", show_default=True,
              help="Write PREFIX.<group>.events and PREFIX.deadletter.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve /metrics on this port, on IOC_WORKER_HOST (default: none).")
def ingest_mqtt(bootstrap: str | None, config_path: str | None, topic_prefix: str,
                metrics_port: int | None) -> None:
    """Subscribe to the MQTT brokers of the ingest file and forward their readings to Kafka
    (QoS 1, persistent session, acknowledged only once Kafka has them) until Ctrl-C or
    SIGTERM."""
    import logging

    from prometheus_client import CollectorRegistry, start_http_server

    from ingest.config import IngestConfig
    from ingest.run import run_bridge
    from ioc.kafka.broker import StopSignals, wait_for_kafka

    settings = load_settings()
    path = config_path or settings.ingest_config
    if not path:
        raise ConfigError("IOC_INGEST_CONFIG is not set: name the ingest file (TOML), e.g. "
                          "examples/ingest.toml, or pass --config")
    config = IngestConfig.load(path)
    target = _bootstrap(bootstrap, settings)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    registry = CollectorRegistry()
    if metrics_port is not None:
        start_http_server(metrics_port, addr=settings.worker_host, registry=registry)
    wait_for_kafka(target, timeout=60)
    with StopSignals() as stop:
        run_bridge(settings, config, target, stop.event, prefix=topic_prefix,
                   registry=registry,
                   started=lambda links: click.echo(
                       "bridge: " + ", ".join(f"{lk.broker.name} {lk.broker.url}"
                                              for lk in links), err=True))
    click.echo("bridge stopped", err=True)


@ingest_command.command("http")
@_bootstrap_option
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port (default: IOC_INGEST_HTTP_PORT; 0 picks a free one).")
@click.option("--host", metavar="HOST", default=None,
              help="Bind address (default: IOC_INGEST_HTTP_HOST).")
@click.option("--topic-prefix", metavar="PREFIX", default="ioc", show_default=True,
              help="Write PREFIX.<group>.events.")
def ingest_http(bootstrap: str | None, port: int | None, host: str | None,
                topic_prefix: str) -> None:
    """Serve POST /api/v1/readings (API keys of role `ingest`, from `ioc keys add`) and
    /api/v1/openapi.json until Ctrl-C or SIGTERM."""
    import asyncio

    from ingest.http import serve
    from ioc.kafka.broker import wait_for_kafka

    settings = load_settings()
    target = _bootstrap(bootstrap, settings)
    wait_for_kafka(target, timeout=60)
    bind = host or settings.ingest_http_host
    asyncio.run(serve(settings, target, host=bind,
                      port=settings.ingest_http_port if port is None else port,
                      prefix=topic_prefix,
                      started=lambda p: click.echo(f"ingest: http://{bind}:{p}/api/v1/readings")))


@ingest_command.command("broker")
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="Port on 127.0.0.1.")
def ingest_broker(port: int) -> None:
    """Run the demo's embedded MQTT broker (MQTT 5, QoS 0, in memory) until Ctrl-C or
    SIGTERM; production and the tests use Mosquitto."""
    import asyncio
    import signal

    from ingest.broker import run_broker

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_broker("127.0.0.1", port, stop, started=lambda: click.echo(
            f"mqtt: mqtt://127.0.0.1:{port}", err=True))

    asyncio.run(main())
