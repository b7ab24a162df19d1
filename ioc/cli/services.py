"""Running services: the embedded broker, topics, the worker, the archive, the dashboard and
the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ioc.cli.root import _bootstrap, _bootstrap_option, _timeout_option, cli, load_settings
from ioc.errors import ConfigError


# --- brokers and topics (ioc/broker.py, ioc/admin.py) ---------------------------------------
@cli.command("broker")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port on 127.0.0.1 (default: a free one).")
def broker_command(port: int | None) -> None:
    """Run the embedded Kafka-protocol broker (memory storage) until Ctrl-C or SIGTERM."""
    from ioc.errors import BrokerError
    from ioc.kafka.broker import EmbeddedBroker, StopSignals

    settings = load_settings()
    if not settings.embedded:
        raise ConfigError(f"IOC_KAFKA_BOOTSTRAP is set ({settings.kafka_bootstrap}): an external "
                          "broker is configured; unset it to run the embedded broker")
    broker = EmbeddedBroker(port=port)
    with StopSignals() as stop:
        try:
            broker.start()
            click.echo(f"bootstrap: {broker.bootstrap}")
            click.echo(f"embedded broker running (pid {broker.pid}, memory storage, log "
                       f"{broker.log_path}); Ctrl-C to stop", err=True)
            signalled = stop.wait(broker)
        finally:
            broker.stop()
    if not signalled:
        raise BrokerError(f"the embedded broker stopped unexpectedly: "
                          f"{broker.last_output() or 'no output'}")
    click.echo("embedded broker stopped", err=True)



@cli.group("topics")
def topics_command() -> None:
    """Create and list ioc-monitor's Kafka topics."""


@topics_command.command("create")
@_bootstrap_option
@_timeout_option
def topics_create(bootstrap: str | None, timeout: float) -> None:
    """Create every missing topic (events per group, alerts, indicators, commands, deadletter);
    existing topics are left alone."""
    from ioc.kafka.admin import create_topics

    settings = load_settings()
    for line in create_topics(settings, _bootstrap(bootstrap, settings), timeout).lines():
        click.echo(line)


@topics_command.command("list")
@_bootstrap_option
@_timeout_option
@click.option("--all", "include_internal", is_flag=True, help="Include internal `__*` topics.")
def topics_list(bootstrap: str | None, timeout: float, include_internal: bool) -> None:
    """List topics with their partition counts."""
    from ioc.kafka.admin import list_topics

    settings = load_settings()
    found = list_topics(_bootstrap(bootstrap, settings), timeout, include_internal)
    width = max((len(name) for name in found), default=0)
    for name, partitions in found.items():
        click.echo(f"{name:<{width}}  {partitions}")



# --- the worker (streams/worker.py) ----------------------------------------------------------
@cli.command("worker")
@_bootstrap_option
@click.option("--topic-prefix", metavar="PREFIX", default="ioc", show_default=True,
              help="Use PREFIX.<group>.events, PREFIX.alerts, ... instead of the ioc.* topics.")
@click.option("--offset-reset", type=click.Choice(["earliest", "latest"]), default="earliest",
              show_default=True, help="Where a new consumer group starts reading.")
def worker_command(bootstrap: str | None, topic_prefix: str, offset_reset: str) -> None:
    """Run a stream worker (Faust) on all 15 group topics until Ctrl-C or SIGTERM; workers
    with the same IOC_APP_ID share the partitions."""
    import dataclasses

    from streams.worker import run_worker

    settings = load_settings()
    settings = dataclasses.replace(settings, kafka_bootstrap=_bootstrap(bootstrap, settings))
    run_worker(settings, topic_prefix=topic_prefix, offset_reset=offset_reset)


# --- the archive (archive/): the store's consumer and the reports read from it ------------
@cli.command("archive")
@_bootstrap_option
@click.option("--topic-prefix", metavar="PREFIX", default="ioc", show_default=True,
              help="Read PREFIX.alerts, PREFIX.commands, ... instead of the ioc.* topics.")
@click.option("--port", type=int, metavar="N", help="Web port for /metrics and /healthz "
              "(default: IOC_ARCHIVE_PORT).")
def archive_command(bootstrap: str | None, topic_prefix: str, port: int | None) -> None:
    """Write alerts, commands, incidents, dead letters and indicator roll-ups into the archive
    database (IOC_DATABASE_URL, else SQLite under IOC_DATA_DIR), exactly once, until Ctrl-C or
    SIGTERM; archive processes with the same IOC_APP_ID share the partitions."""
    import dataclasses
    import logging

    from archive.run import open_store, run_archive
    from ioc.kafka.broker import StopSignals, wait_for_kafka

    settings = load_settings()
    settings = dataclasses.replace(settings, kafka_bootstrap=_bootstrap(bootstrap, settings))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per migration step
    open_store(settings).close()  # a bad IOC_DATABASE_URL fails before waiting for Kafka
    assert settings.kafka_bootstrap is not None
    wait_for_kafka(settings.kafka_bootstrap, timeout=60)
    with StopSignals() as stop:
        run_archive(settings, stop.event, topic_prefix=topic_prefix, port=port)


# --- the dashboard (dashboards/server.py) ----------------------------------------------------
@cli.command("dashboard")
@_bootstrap_option
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port (default: IOC_DASHBOARD_PORT; 0 picks a free one).")
@click.option("--host", metavar="HOST", default=None,
              help="Bind address (default: IOC_DASHBOARD_HOST).")
def dashboard_command(bootstrap: str | None, port: int | None, host: str | None) -> None:
    """Serve the operators' wall (/), the leadership summary (/summary), the websocket (/ws),
    /healthz and /metrics on one port until Ctrl-C or SIGTERM (docs/protocol.md)."""
    from dashboards.server import run_dashboard

    settings = load_settings()
    run_dashboard(settings, _bootstrap(bootstrap, settings), host=host, port=port,
                  echo=click.echo)


# --- the demo (ioc/demo.py): broker, topics, worker, dashboard, simulator ------------------
def _demo_people(url: str, min_password_length: int) -> list[Any]:
    """The demo's accounts and their one-time links, in the archive's database at ``url``."""
    from archive.demo_people import seed_people
    from archive.store import Store

    store = Store(url)
    try:
        return list(seed_people(store, min_password_length=min_password_length))
    finally:
        store.close()


@cli.command("demo")
@click.option("--no-browser", is_flag=True, help="Do not open the wall in a browser.")
@click.option("--seed", type=int, default=7, show_default=True, help="Simulator seed.")
@click.option("--rate", type=click.FloatRange(min=0), default=None,
              help="Simulated readings per second (default: real time; higher compresses time).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Dashboard port (default: a free one).")
def demo_command(no_browser: bool, seed: int, rate: float | None, port: int | None) -> None:
    """Run the whole monitor locally: embedded broker, worker, dashboard and city simulator."""
    from ioc.tools.demo import DemoOptions, run_demo

    settings = load_settings()
    options = DemoOptions(seed=seed, rate=rate, open_browser=not no_browser,
                          dashboard_port=port, with_worker="worker" in cli.commands,
                          with_dashboard="dashboard" in cli.commands,
                          data_dir=Path(settings.data_dir) / "demo",
                          people=lambda url: _demo_people(url, settings.password_min_length))
    run_demo(settings, options, echo=lambda line: click.echo(line),
             note=lambda line: click.echo(line, err=True))
