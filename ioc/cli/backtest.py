"""``ioc detectors backtest``: run detectors over recorded or simulated history and score
their alerts against the ground truth (:mod:`detectors.backtest`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ioc.cli.detect import detector_factory, detectors_command, progress_bar, quiet_registry
from ioc.errors import UsageError

if TYPE_CHECKING:
    from detectors.backtest import BacktestResult
    from ioc.events import Reading
    from ioc.truth import Anomaly


@detectors_command.command("backtest")
@click.option("--readings", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Recorded readings: CSV or JSON lines (as `ioc replay` reads).")
@click.option("--truth", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Ground truth, JSON lines {group, source, metric, kind, start, "
                                 "end} as `ioc simulate --truth` writes.")
@click.option("--labels", "use_labels", is_flag=True,
              help="Instead of --truth: operators' labels in the archive (episodes labelled "
                   "real, or sensor_fault on sensor-health alerts) are the ground truth.")
@click.option("--simulate", "simulate_hours", type=click.FloatRange(min=0.1), default=None,
              metavar="HOURS", help="Instead of files: simulate HOURS of history in-process, "
                                    "with labelled anomalies as ground truth.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of --simulate.")
@click.option("--group", "groups", multiple=True, metavar="SLUG",
              help="Simulate only these service groups; repeatable (default: all 15).")
@click.option("--per-hour", type=click.FloatRange(min=0.0), default=4.0, show_default=True,
              help="Anomalies per simulated hour with --simulate.")
@click.option("--detector", "names", multiple=True, metavar="NAME",
              help="Detector to run; repeatable (default: every registered per-key detector).")
@click.option("--catalog", "use_catalog", is_flag=True,
              help="Run each detector only on the metrics the catalog lists it for, built "
                   "from the metric's spec (limits, ranges).")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=0.9, show_default=True,
              help="Score at which a window opens an alert.")
@click.option("--both-sides", is_flag=True,
              help="Alert on both sides of every metric (default: its harmful side only).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {detector: figures} as JSON on the last line.")
def detectors_backtest(readings: Path | None, truth: Path | None, use_labels: bool,
                       simulate_hours: float | None, seed: int, groups: tuple[str, ...],
                       per_hour: float, names: tuple[str, ...], use_catalog: bool,
                       threshold: float, both_sides: bool, as_json: bool) -> None:
    """Run detectors over recorded or simulated history and score their alerts against the
    ground truth: precision, recall, time to detect, alerts per day."""
    import json

    from detectors.backtest import windows_by_key

    if (readings is None) == (simulate_hours is None):
        raise UsageError("give either --readings FILE --truth FILE, or --simulate HOURS")
    if readings is not None and (truth is None) == (not use_labels):
        raise UsageError("--readings needs either --truth FILE or --labels (the ground truth)")
    judged: list[Anomaly] | None = None
    reg = quiet_registry()
    chosen = list(names) or [n for n in reg.names() if reg.plugin(n).kind != "vector"]
    factories = {n: detector_factory(n, ()) for n in chosen}
    if simulate_hours is not None:
        rows, ground, source = _simulated_history(simulate_hours, seed, groups, per_hour)
    else:
        assert readings is not None
        if use_labels:
            from ioc.cli.feedback import archive_truth

            rows, _, source = _recorded_history(readings, None)
            ground, judged = archive_truth()
        else:
            assert truth is not None
            rows, ground, source = _recorded_history(readings, truth)
    if not rows:
        raise UsageError("no readings to backtest")
    keyed = windows_by_key(rows)
    results = _run_backtests(reg, chosen, factories, keyed, ground, threshold=threshold,
                             use_catalog=use_catalog, both_sides=both_sides, judged=judged)
    click.echo(f"{source}; {len(keyed)} keys, {len(ground)} labelled anomalies")
    _echo_table(_summary_rows(results))
    if judged is not None:
        click.echo("precision counts the alerts on labelled episodes only (unlabelled: "
                   + ", ".join(f"{r.detector} {r.unjudged}" for r in results.values()) + ")")
    if as_json:
        click.echo(json.dumps({n: r.to_json() for n, r in results.items()}))


def _simulated_history(hours: float, seed: int, groups: tuple[str, ...],
                       per_hour: float) -> tuple[list[Reading], list[Anomaly], str]:
    """``--simulate``: (readings, ground truth, what they are) of ``hours`` simulated from a
    fixed Monday, with ``per_hour`` labelled anomalies."""
    from ioc.tools.anomalies import AnomalyPlan
    from ioc.tools.simulator import CitySimulator

    start = 1795410000.0  # a fixed Monday 07:00 Da Nang time: reproducible runs
    duration = hours * 3600.0
    plan = AnomalyPlan.random(seed, start, duration, per_hour=per_hour,
                              groups=list(groups) or None)
    sim = CitySimulator(seed, start, duration, anomalies=plan, groups=list(groups) or None)
    with progress_bar() as bar:
        task = bar.add_task("simulating", total=int(duration))
        rows: list[Reading] = []
        for batch in sim:
            rows.extend(batch)
            bar.advance(task, 1)
    return rows, list(plan), f"{hours:g} h simulated (seed {seed}, {len(rows):,} readings)"


def _recorded_history(readings: Path, truth: Path | None
                      ) -> tuple[list[Reading], list[Anomaly], str]:
    """``--readings``/``--truth``: (readings, ground truth, what they are) from the files;
    lines that are not readings are skipped and counted."""
    from ioc.tools.anomalies import read_truth
    from ioc.tools.replay import BadLine, read_recording

    rows: list[Reading] = []
    bad = 0
    for item in read_recording(readings):
        if isinstance(item, BadLine):
            bad += 1
        else:
            rows.extend(item.readings)
    source = f"{readings.name} ({len(rows):,} readings" + (f", {bad} bad lines skipped)"
                                                         if bad else ")")
    return rows, read_truth(truth) if truth is not None else [], source


def _run_backtests(reg: Any, chosen: list[str], factories: dict[str, Any], keyed: Any,
                   ground: list[Anomaly], *, threshold: float, use_catalog: bool,
                   both_sides: bool = False, judged: list[Anomaly] | None = None
                   ) -> dict[str, BacktestResult]:
    """Each chosen detector's backtest result, with a progress bar; with ``use_catalog`` a
    detector runs only on the metrics the catalog lists it for; alerts on each metric's
    harmful side only unless ``both_sides``."""
    from detectors.backtest import backtest

    results = {}
    with progress_bar() as bar:
        task = bar.add_task("backtesting", total=len(chosen))
        for n in chosen:
            results[n] = backtest(factories[n], keyed, ground, name=n, threshold=threshold,
                                  per_key=_from_catalog(reg, n) if use_catalog else None,
                                  both_sides=both_sides, judged=judged)
            bar.advance(task, 1)
    return results


def _from_catalog(reg: Any, name: str) -> Any:
    """A per-key builder of detector ``name`` from the metric's catalog spec (``None`` for
    the keys the catalog does not list it for)."""
    from detectors.backtest import catalog_applies

    applies = catalog_applies(name)

    def build(key: tuple[str, str, str]) -> Any:
        if not applies(key):
            return None
        from ioc import catalog

        return reg.for_metric(catalog.group(key[0]).metric(key[2]))[name]

    return build


def _echo_table(table: list[list[str]]) -> None:
    """The summary rows as aligned columns: the first left-aligned, the rest right."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        click.echo("  ".join(c.rjust(w) if i else c.ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths, strict=True))))


def _summary_rows(results: Mapping[str, BacktestResult]) -> list[list[str]]:
    """The backtest figures as rows of a plain-text table (header first)."""

    def pct(v: float) -> str:
        return "-" if math.isnan(v) else f"{100 * v:.0f}%"

    def secs(v: float) -> str:
        return "-" if math.isnan(v) else f"{v:.0f}s"

    def num(v: float) -> str:
        return "-" if math.isnan(v) else f"{v:.1f}"

    rows = [["detector", "alerts", "precision", "recall", "found", "median TTD", "alerts/day",
             "false/day"]]
    for r in results.values():
        rows.append([r.detector, str(r.alerts), pct(r.precision), pct(r.recall),
                     f"{r.detected}/{r.anomalies}", secs(r.median_ttd_s),
                     num(r.alerts_per_day), num(r.false_alerts_per_day)])
    return rows
