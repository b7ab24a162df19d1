"""The ``ioc`` command line: the composition root, the one place that wires the packages.

User mistakes (bad arguments, bad settings, a broker that cannot start) raise
:class:`~ioc.errors.IocError`; :func:`main` prints them as one line and exits with status 2
(usage/config) or 1 (anything else the user can fix). Bugs still show a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ioc.errors import ConfigError, IocError, UsageError
from ioc.settings import Settings


def load_settings() -> Settings:
    """Settings from the environment (raises ConfigError on a bad variable)."""
    return Settings.from_env()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ioc-monitor")
def cli() -> None:
    """ioc-monitor: streaming monitor for a city's Intelligent Operations Center."""


# --- commands are registered below, one section per capability ---------------------------


# --- brokers and topics (ioc/broker.py, ioc/admin.py) ---------------------------------------
@cli.command("broker")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port on 127.0.0.1 (default: a free one).")
def broker_command(port: int | None) -> None:
    """Run the embedded Kafka-protocol broker (memory storage) until Ctrl-C or SIGTERM."""
    from ioc.broker import EmbeddedBroker, StopSignals
    from ioc.errors import BrokerError

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


def _bootstrap(option: str | None, settings: Settings) -> str:
    target = option or settings.kafka_bootstrap
    if not target:
        raise UsageError("no Kafka broker: pass --bootstrap HOST:PORT or set IOC_KAFKA_BOOTSTRAP "
                         "(`ioc broker` runs an embedded one)")
    return target


_bootstrap_option = click.option("--bootstrap", metavar="HOST:PORT",
                                 help="Kafka to use (default: IOC_KAFKA_BOOTSTRAP).")
_timeout_option = click.option("--timeout", type=click.FloatRange(min=0.5), default=15.0,
                               show_default=True, help="Seconds to wait for the broker.")


@cli.group("topics")
def topics_command() -> None:
    """Create and list ioc-monitor's Kafka topics."""


@topics_command.command("create")
@_bootstrap_option
@_timeout_option
def topics_create(bootstrap: str | None, timeout: float) -> None:
    """Create every missing topic (events per group, alerts, indicators, commands, deadletter);
    existing topics are left alone."""
    from ioc.admin import create_topics

    settings = load_settings()
    for line in create_topics(settings, _bootstrap(bootstrap, settings), timeout).lines():
        click.echo(line)


@topics_command.command("list")
@_bootstrap_option
@_timeout_option
@click.option("--all", "include_internal", is_flag=True, help="Include internal `__*` topics.")
def topics_list(bootstrap: str | None, timeout: float, include_internal: bool) -> None:
    """List topics with their partition counts."""
    from ioc.admin import list_topics

    settings = load_settings()
    found = list_topics(_bootstrap(bootstrap, settings), timeout, include_internal)
    width = max((len(name) for name in found), default=0)
    for name, partitions in found.items():
        click.echo(f"{name:<{width}}  {partitions}")



# --- detectors (detectors/registry.py, detectors/checks.py) --------------------------------
@cli.group("detectors")
def detectors_command() -> None:
    """Detector plugins (entry-point group `ioc.detectors`): list, check."""


@detectors_command.command("list")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document: detectors with version, origin, params; failures.")
def detectors_list(as_json: bool) -> None:
    """List registered detectors with version, origin package and parameter defaults.

    Plugins that fail to load are listed with their cause; the exit status is then 1.
    """
    import json
    import warnings

    from detectors.registry import PluginWarning, load_all

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        reg = load_all(require=False)
    plugins = [reg.plugin(n).describe() for n in reg.names()]
    failures = [{"name": f.name, "reason": f.reason} for f in reg.failures]
    if as_json:
        click.echo(json.dumps({"detectors": plugins, "failures": failures}, indent=2))
    else:
        for p in plugins:
            tags = p["kind"] + (", health" if p["health"] else "")
            click.echo(f"{p['name']} {p['version']}  [{tags}]  from {p['origin']} "
                       f"{p['origin_version']}  ({p['target']})")
            params = ", ".join(f"{k}={v!r}" for k, v in p["params"].items())
            click.echo(f"    {params or '(no parameters)'}")
        for f in failures:
            click.echo(f"FAILED {f['name']}: {f['reason']}", err=True)
    if failures:
        sys.exit(1)


@detectors_command.command("check")
@click.argument("name")
@click.option("--updates", type=click.IntRange(min=1000), default=1_000_000, show_default=True,
              help="Updates fed to the bounded-memory check.")
@click.option("--min-rate", type=click.FloatRange(min=0), default=None,
              help="Updates/s floor of the throughput check (default: 20,000 per-key, "
                   "1,000 for vector detectors).")
def detectors_check(name: str, updates: int, min_rate: float | None) -> None:
    """Run the conformance suite on the registered detector NAME; exit 1 if a check fails."""
    import warnings

    from detectors.checks import run_checks
    from detectors.registry import PluginWarning, load_all

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        plugin = load_all(require=False).plugin(name)
    click.echo(f"{plugin.name} {plugin.version} from {plugin.origin} ({plugin.target})")
    results = run_checks(plugin.cls, memory_updates=updates, min_rate=min_rate)
    width = max(len(r.check) for r in results)
    for r in results:
        status = "PASS" if r.passed else "FAIL"
        click.echo(f"{status}  {r.check:<{width}}  {r.seconds:6.2f}s  {r.message}")
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


# --- the demo (ioc/demo.py): broker, topics, worker, dashboard, simulator ------------------
@cli.command("demo")
@click.option("--no-browser", is_flag=True, help="Do not open the wall in a browser.")
@click.option("--seed", type=int, default=7, show_default=True, help="Simulator seed.")
@click.option("--rate", type=click.FloatRange(min=0), default=None,
              help="Simulated readings per second (default: real time; higher compresses time).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Dashboard port (default: a free one).")
def demo_command(no_browser: bool, seed: int, rate: float | None, port: int | None) -> None:
    """Run the whole monitor locally: embedded broker, worker, dashboard and city simulator."""
    from ioc.demo import DemoOptions, run_demo

    settings = load_settings()
    options = DemoOptions(seed=seed, rate=rate, open_browser=not no_browser,
                          dashboard_port=port, with_worker="worker" in cli.commands,
                          with_dashboard="dashboard" in cli.commands,
                          data_dir=Path(settings.data_dir) / "demo")
    run_demo(settings, options, echo=lambda line: click.echo(line),
             note=lambda line: click.echo(line, err=True))


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``ioc`` console script."""
    try:
        return cli.main(args=argv, prog_name="ioc", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("ioc: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"ioc: {exc.format_message()}", err=True)
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            click.echo(f"Try '{exc.ctx.command_path} --help' for help.", err=True)
        sys.exit(exc.exit_code)
    except (ConfigError, UsageError) as exc:
        click.echo(f"ioc: error: {exc}", err=True)
        sys.exit(2)
    except IocError as exc:
        click.echo(f"ioc: error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
