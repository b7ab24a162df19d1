"""``ioc detectors evaluate``: score a detector on a corpus in NAB's layout with NAB's rules
(:mod:`detectors.nab`, :mod:`detectors.evaluation`), optionally cross-validated over folds of
categories (:mod:`detectors.crossval`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from ioc.cli.detect import detector_factory, detectors_command, progress_bar
from ioc.errors import UsageError


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

    factory = detector_factory(name, params)
    candidates = _candidates(name, params, grid) if folds is not None else {}
    corpus = _load_picked(dataset, files)
    started = time.perf_counter()
    with progress_bar() as bar:
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
    base = detector_factory(name, params)
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

    with progress_bar() as bar:
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
