"""``ioc detectors``: the command group, ``list`` and ``check``, and the helpers its other
commands share (a quiet registry, a detector factory from ``--param``, a progress bar).
``evaluate`` lives in :mod:`ioc.cli.evaluate`, ``backtest`` in :mod:`ioc.cli.backtest`,
``feedback`` and ``shadow-report`` in :mod:`ioc.cli.feedback`.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ioc.cli.root import cli
from ioc.errors import UsageError


def quiet_registry() -> Any:
    """Every registered detector; plugins that fail to load are left out quietly (listed in
    the registry's ``failures``)."""
    import warnings

    from detectors.registry import PluginWarning, load_all

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        return load_all(require=False)


def detector_factory(name: str, params: tuple[str, ...]) -> Any:
    """A picklable factory for the registered detector NAME with KEY=VALUE overrides."""
    import functools
    import json

    reg = quiet_registry()
    kw: dict[str, Any] = {}
    for item in params:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param wants KEY=VALUE, got {item!r}")
        try:
            kw[key] = json.loads(raw)
        except json.JSONDecodeError:
            kw[key] = raw
    reg.create(name, **kw)  # PluginError (one line) for an unknown name or bad parameters
    return functools.partial(reg.get(name), **kw)


def progress_bar() -> Any:
    """A rich progress bar on stderr counting rows, gone when done."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,} rows"), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)


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

    reg = quiet_registry()
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
@click.option("--updates", type=click.IntRange(min=1000), default=None,
              help="Updates fed to the bounded-memory check (default: 1,000,000 per-key, "
                   "50,000 for vector detectors).")
@click.option("--min-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Also time updates/s against this floor (the suite itself counts work, "
                   "not time; per-key detectors were held to 20,000/s, vector ones 1,000/s).")
def detectors_check(name: str, updates: int | None, min_rate: float | None) -> None:
    """Run the conformance suite on the registered detector NAME; exit 1 if a check fails."""
    from detectors.checks import CHECKS, check_throughput, run_checks

    plugin = quiet_registry().plugin(name)
    click.echo(f"{plugin.name} {plugin.version} from {plugin.origin} ({plugin.target})")
    checks = CHECKS if min_rate is None else (*CHECKS, check_throughput)
    results = run_checks(plugin.cls, checks=checks, memory_updates=updates, min_rate=min_rate)
    width = max(len(r.check) for r in results)
    for r in results:
        status = "PASS" if r.passed else "FAIL"
        click.echo(f"{status}  {r.check:<{width}}  {r.seconds:6.2f}s  {r.message}")
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)
