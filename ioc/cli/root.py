"""The ``ioc`` group, its shared options and :func:`main` (the user-error boundary).

User mistakes (bad arguments, bad settings, a broker that cannot start) raise
:class:`~ioc.errors.IocError`; :func:`main` prints them as one line and exits with status 2
(usage/config) or 1 (anything else the user can fix). Bugs still show a traceback.
"""

from __future__ import annotations

import sys
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
