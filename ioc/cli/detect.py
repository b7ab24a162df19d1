"""``ioc detectors``: list, check, evaluate on NAB, backtest on recorded or simulated history."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ioc.cli.root import cli
from ioc.errors import UsageError

if TYPE_CHECKING:
    from detectors.backtest import BacktestResult
    from ioc.events import Reading
    from ioc.truth import Anomaly


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
@click.option("--updates", type=click.IntRange(min=1000), default=None,
              help="Updates fed to the bounded-memory check (default: 1,000,000 per-key, "
                   "50,000 for vector detectors).")
@click.option("--min-rate", type=click.FloatRange(min=0), default=None,
              help="Updates/s floor of the throughput check (default: 20,000 per-key, "
                   "1,000 for vector detectors).")
def detectors_check(name: str, updates: int | None, min_rate: float | None) -> None:
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


# --- detector evaluation (detectors/nab.py, detectors/evaluation.py, detectors/backtest.py) ---
def _detector_factory(name: str, params: tuple[str, ...]) -> Any:
    """A picklable factory for the registered detector NAME with KEY=VALUE overrides."""
    import functools
    import json
    import warnings

    from detectors.registry import PluginWarning, load_all

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        reg = load_all(require=False)
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


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,} rows"), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)


@detectors_command.command("evaluate")
@click.option("--dataset", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Corpus in NAB's layout: data/**.csv (timestamp,value), "
                   "labels/combined_windows.json, config/profiles.json.")
@click.option("--detector", "name", required=True, help="A registered detector name.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Override a detector parameter (value parsed as JSON); repeatable.")
@click.option("--file", "files", multiple=True, metavar="GLOB",
              help="Only labelled files whose relative name matches GLOB; repeatable.")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write timestamp,value,anomaly_score CSVs in NAB's results layout.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes running files in parallel.")
@click.option("--json", "as_json", is_flag=True,
              help="Print {profile: normalised score} as JSON on the last line.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a PNG of score against threshold (needs the 'plot' extra).")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None, metavar="T",
              help="Score at this fixed alert threshold (as the product alerts, e.g. 0.9) "
                   "instead of NAB's optimum per profile over the corpus.")
@click.option("--folds", type=click.IntRange(min=2), default=None, metavar="K",
              help="Also cross-validate: split the categories into K folds; on each, choose "
                   "parameters (and the threshold unless --threshold) on the others and score "
                   "the held-out one (standard profile). JSON: {scores, cross_validation}.")
@click.option("--grid", "grid", multiple=True, metavar="KEY=V1,V2",
              help="Candidate values of a parameter for --folds (JSON each); repeatable "
                   "(every combination). Default: the built-in's grid in detectors.crossval.")
def detectors_evaluate(dataset: Path, name: str, params: tuple[str, ...], files: tuple[str, ...],
                       results_dir: Path | None, jobs: int, as_json: bool,
                       plot: Path | None, threshold: float | None, folds: int | None,
                       grid: tuple[str, ...]) -> None:
    """Score detector NAME on a corpus with NAB's rules: anomaly windows, the probationary
    period, the scaled sigmoid, one threshold per profile optimised over the corpus (or fixed
    with --threshold), normalised so the null detector scores 0 and a perfect one 100;
    --folds K adds a cross-validated score on categories the choice never saw."""
    import json

    from detectors.evaluation import evaluate, plot_report, run_corpus, write_results

    factory = _detector_factory(name, params)
    candidates = _candidates(name, params, grid) if folds is not None else {}
    corpus = _load_picked(dataset, files)
    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task(f"{name} on {len(corpus.series)} files", total=corpus.rows)
        results = run_corpus(factory, corpus, jobs=jobs,
                             on_file=lambda _n, rows: bar.advance(task, rows))
    elapsed = time.perf_counter() - started
    fixed = None if threshold is None else dict.fromkeys(corpus.profiles, threshold)
    report = evaluate(corpus, results, detector=name, thresholds=fixed)
    if results_dir is not None:
        written = write_results(results_dir, name, corpus, results)
        click.echo(f"wrote {len(written)} result files under {results_dir / name}")
    if plot is not None:
        try:
            click.echo(f"wrote {plot_report(corpus, results, report, plot)}")
        except ImportError:
            raise UsageError("--plot needs matplotlib: pip install 'ioc-monitor[plot]'") from None
    click.echo(f"{name} on {len(corpus.series)} files ({corpus.rows:,} rows, "
               f"{corpus.windows} windows) in {elapsed:.1f} s")
    how = "fixed" if threshold is not None else "optimised over the corpus"
    click.echo(f"{'profile':<20} {'threshold':>10} {'raw':>9} {'score':>7}  (threshold {how})")
    for p, r in report.profiles.items():
        click.echo(f"{p:<20} {r.threshold:>10.4f} {r.raw:>9.2f} {r.normalised:>7.2f}")
    if folds is None:
        if as_json:
            click.echo(json.dumps(report.summary()))
        return
    cv = _cross_validate(corpus, candidates, folds=folds, threshold=threshold, jobs=jobs)
    if as_json:
        click.echo(json.dumps({"scores": report.summary(), "cross_validation": cv.to_json()}))


def _load_picked(dataset: Path, files: tuple[str, ...]) -> Any:
    """The corpus at ``dataset``, only the labelled files matching a ``--file`` glob if any."""
    import fnmatch

    from detectors.evaluation import load_corpus

    try:
        corpus = load_corpus(dataset)
        if files:
            picked = [n for n in corpus.names if any(fnmatch.fnmatch(n, g) for g in files)]
            if not picked:
                raise UsageError(f"--file {', '.join(files)} matches no labelled file")
            corpus = load_corpus(dataset, files=picked)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--dataset: {exc}") from None
    return corpus


def _candidates(name: str, params: tuple[str, ...], grid: tuple[str, ...]) -> dict[str, Any]:
    """``{label: factory}`` of every --grid combination (or the built-in's grid) over the
    --param overrides; a bad value is a one-line usage error."""
    import functools
    import json

    from detectors.crossval import GRIDS, candidate_label, expand_grid

    chosen: dict[str, list[Any]] = {}
    for item in grid:
        key, sep, raw = item.partition("=")
        if not sep or not key or not raw:
            raise UsageError(f"--grid wants KEY=V1,V2,..., got {item!r}")
        vals = []
        for v in raw.split(","):
            try:
                vals.append(json.loads(v))
            except json.JSONDecodeError:
                vals.append(v)
        chosen[key] = vals
    base = _detector_factory(name, params)
    out: dict[str, Any] = {}
    for cand in expand_grid(chosen if grid else GRIDS.get(name, {})):
        try:
            base(**cand)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--grid {candidate_label(cand)}: {exc}") from None
        out[candidate_label(cand)] = functools.partial(base, **cand)
    return out


def _cross_validate(corpus: Any, candidates: dict[str, Any], *, folds: int,
                    threshold: float | None, jobs: int) -> Any:
    """Run every candidate over the corpus, cross-validate, print each fold and the mean."""
    from detectors.crossval import cross_validate
    from detectors.evaluation import run_corpus

    with _progress() as bar:
        task = bar.add_task(f"{len(candidates)} candidate(s)", total=corpus.rows * len(candidates))
        runs = {label: run_corpus(f, corpus, jobs=jobs,
                                  on_file=lambda _n, rows: bar.advance(task, rows))
                for label, f in candidates.items()}
    try:
        cv = cross_validate(corpus, runs, k=folds, threshold=threshold)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    how = f"fixed at {threshold:g}" if threshold is not None else "chosen on the training folds"
    click.echo(f"cross-validation ({cv.profile} profile, {folds} folds of categories, "
               f"{len(candidates)} candidate(s), threshold {how}):")
    for i, f in enumerate(cv.folds, start=1):
        click.echo(f"  fold {i}: held out {', '.join(f.held_out)}; chose {f.chosen} "
                   f"at {f.threshold:.4f} (train {f.train:.2f}); held-out score "
                   f"{f.held_out_score:.2f}")
    click.echo(f"  mean held-out score {cv.mean:.2f}; pooled held-out score {cv.pooled:.2f}")
    return cv


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

    from detectors.backtest import summary_rows, windows_by_key

    if (readings is None) == (simulate_hours is None):
        raise UsageError("give either --readings FILE --truth FILE, or --simulate HOURS")
    if readings is not None and (truth is None) == (not use_labels):
        raise UsageError("--readings needs either --truth FILE or --labels (the ground truth)")
    reg = _registry()
    chosen = list(names) or [n for n in reg.names() if reg.plugin(n).kind != "vector"]
    factories = {n: _detector_factory(n, ()) for n in chosen}
    if simulate_hours is not None:
        rows, ground, source = _simulated_history(simulate_hours, seed, groups, per_hour)
    else:
        assert readings is not None
        if use_labels:
            from ioc.cli.feedback import archive_truth

            rows, _, source = _recorded_history(readings, None)
            ground = archive_truth()
        else:
            assert truth is not None
            rows, ground, source = _recorded_history(readings, truth)
    if not rows:
        raise UsageError("no readings to backtest")
    keyed = windows_by_key(rows)
    results = _run_backtests(reg, chosen, factories, keyed, ground, threshold=threshold,
                             use_catalog=use_catalog, both_sides=both_sides)
    click.echo(f"{source}; {len(keyed)} keys, {len(ground)} labelled anomalies")
    _echo_table(summary_rows(results))
    if as_json:
        click.echo(json.dumps({n: r.to_json() for n, r in results.items()}))


def _registry() -> Any:
    """Every registered detector; plugins that fail to load are left out quietly."""
    import warnings

    from detectors.registry import PluginWarning, load_all

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        return load_all(require=False)


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
    with _progress() as bar:
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
                   both_sides: bool = False) -> dict[str, BacktestResult]:
    """Each chosen detector's backtest result, with a progress bar; with ``use_catalog`` a
    detector runs only on the metrics the catalog lists it for; alerts on each metric's
    harmful side only unless ``both_sides``."""
    from detectors.backtest import backtest

    results = {}
    with _progress() as bar:
        task = bar.add_task("backtesting", total=len(chosen))
        for n in chosen:
            results[n] = backtest(factories[n], keyed, ground, name=n, threshold=threshold,
                                  per_key=_from_catalog(reg, n) if use_catalog else None,
                                  both_sides=both_sides)
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
