"""The ``ioc`` command line: the composition root, the one place that wires the packages.

User mistakes (bad arguments, bad settings, a broker that cannot start) raise
:class:`~ioc.errors.IocError`; :func:`main` prints them as one line and exits with status 2
(usage/config) or 1 (anything else the user can fix). Bugs still show a traceback.
"""

from __future__ import annotations

import sys
import time
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
def detectors_evaluate(dataset: Path, name: str, params: tuple[str, ...], files: tuple[str, ...],
                       results_dir: Path | None, jobs: int, as_json: bool,
                       plot: Path | None) -> None:
    """Score detector NAME on a corpus with NAB's rules: anomaly windows, the probationary
    period, the scaled sigmoid, one threshold per profile optimised over the corpus,
    normalised so the null detector scores 0 and a perfect one 100."""
    import fnmatch
    import json

    from detectors.evaluation import evaluate, load_corpus, plot_report, run_corpus, write_results

    factory = _detector_factory(name, params)
    try:
        corpus = load_corpus(dataset)
        if files:
            picked = [n for n in corpus.names if any(fnmatch.fnmatch(n, g) for g in files)]
            if not picked:
                raise UsageError(f"--file {', '.join(files)} matches no labelled file")
            corpus = load_corpus(dataset, files=picked)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--dataset: {exc}") from None
    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task(f"{name} on {len(corpus.series)} files", total=corpus.rows)
        results = run_corpus(factory, corpus, jobs=jobs,
                             on_file=lambda _n, rows: bar.advance(task, rows))
    elapsed = time.perf_counter() - started
    report = evaluate(corpus, results, detector=name)
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
    click.echo(f"{'profile':<20} {'threshold':>10} {'raw':>9} {'score':>7}")
    for p, r in report.profiles.items():
        click.echo(f"{p:<20} {r.threshold:>10.4f} {r.raw:>9.2f} {r.normalised:>7.2f}")
    if as_json:
        click.echo(json.dumps(report.summary()))


@detectors_command.command("backtest")
@click.option("--readings", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Recorded readings: CSV or JSON lines (as `ioc replay` reads).")
@click.option("--truth", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Ground truth, JSON lines {group, source, metric, kind, start, "
                                 "end} as `ioc simulate --truth` writes.")
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
@click.option("--json", "as_json", is_flag=True,
              help="Print {detector: figures} as JSON on the last line.")
def detectors_backtest(readings: Path | None, truth: Path | None, simulate_hours: float | None,
                       seed: int, groups: tuple[str, ...], per_hour: float,
                       names: tuple[str, ...], use_catalog: bool, threshold: float,
                       as_json: bool) -> None:
    """Run detectors over recorded or simulated history and score their alerts against the
    ground truth: precision, recall, time to detect, alerts per day."""
    import json
    import warnings

    from detectors.backtest import backtest, catalog_applies, summary_rows, windows_by_key
    from detectors.registry import PluginWarning, load_all
    from ioc import anomalies as an

    if (readings is None) == (simulate_hours is None):
        raise UsageError("give either --readings FILE --truth FILE, or --simulate HOURS")
    if readings is not None and truth is None:
        raise UsageError("--readings needs --truth FILE (the ground truth)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        reg = load_all(require=False)
    chosen = list(names) or [n for n in reg.names() if reg.plugin(n).kind != "vector"]
    factories = {n: _detector_factory(n, ()) for n in chosen}
    if simulate_hours is not None:
        from ioc.simulator import CitySimulator

        start = 1795410000.0  # a fixed Monday 07:00 Da Nang time: reproducible runs
        duration = simulate_hours * 3600.0
        plan = an.AnomalyPlan.random(seed, start, duration, per_hour=per_hour,
                                     groups=list(groups) or None)
        sim = CitySimulator(seed, start, duration, anomalies=plan, groups=list(groups) or None)
        with _progress() as bar:
            task = bar.add_task("simulating", total=int(duration))
            rows = []
            for batch in sim:
                rows.extend(batch)
                bar.advance(task, 1)
        ground = list(plan)
        source = f"{simulate_hours:g} h simulated (seed {seed}, {len(rows):,} readings)"
    else:
        from ioc.replay import BadLine, read_recording

        assert readings is not None and truth is not None
        rows, bad = [], 0
        for item in read_recording(readings):
            if isinstance(item, BadLine):
                bad += 1
            else:
                rows.extend(item.readings)
        ground = an.read_truth(truth)
        source = f"{readings.name} ({len(rows):,} readings" + (f", {bad} bad lines skipped)"
                                                             if bad else ")")
    if not rows:
        raise UsageError("no readings to backtest")
    keyed = windows_by_key(rows)
    results = {}

    def from_catalog(name: str) -> Any:
        applies = catalog_applies(name)

        def build(key: tuple[str, str, str]) -> Any:
            if not applies(key):
                return None
            from ioc import catalog

            return reg.for_metric(catalog.group(key[0]).metric(key[2]))[name]

        return build

    with _progress() as bar:
        task = bar.add_task("backtesting", total=len(chosen))
        for n in chosen:
            results[n] = backtest(factories[n], keyed, ground, name=n, threshold=threshold,
                                  per_key=from_catalog(n) if use_catalog else None)
            bar.advance(task, 1)
    click.echo(f"{source}; {len(keyed)} keys, {len(ground)} labelled anomalies")
    table = summary_rows(results)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        click.echo("  ".join(c.rjust(w) if i else c.ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    if as_json:
        click.echo(json.dumps({n: r.to_json() for n, r in results.items()}))


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
    from ioc.broker import StopSignals, wait_for_kafka

    settings = load_settings()
    settings = dataclasses.replace(settings, kafka_bootstrap=_bootstrap(bootstrap, settings))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per migration step
    open_store(settings).close()  # a bad IOC_DATABASE_URL fails before waiting for Kafka
    assert settings.kafka_bootstrap is not None
    wait_for_kafka(settings.kafka_bootstrap, timeout=60)
    with StopSignals() as stop:
        run_archive(settings, stop.event, topic_prefix=topic_prefix, port=port)


@cli.command("report")
@click.option("--from", "start", metavar="DATE", required=True,
              help="First day (YYYY-MM-DD, Da Nang time); with --period, a day inside it.")
@click.option("--to", "end", metavar="DATE", help="Last day, included (custom periods only).")
@click.option("--period", "kind", metavar="KIND", default=None,
              help="day, week, month or quarter holding --from; custom (the default) with --to.")
@click.option("--group", metavar="SLUG", help="Only this service group.")
@click.option("--district", metavar="NAME", help="Only this district.")
@click.option("--format", "fmt", metavar="FORMAT", default="json", show_default=True,
              help="csv, json or html (a printable page).")
@click.option("--output", metavar="FILE", help="Write here instead of standard output.")
def report_command(start: str, end: str | None, kind: str | None, group: str | None,
                   district: str | None, fmt: str, output: str | None) -> None:
    """A leadership report from the archive (IOC_DATABASE_URL, else SQLite under IOC_DATA_DIR):
    alerts by severity, incidents, MTTA/MTTR and their trend, acks within IOC_ACK_SLA_S, the
    noisiest sources and detectors and each group's KPIs, per group and per district."""
    from archive import report
    from archive.run import open_store
    from archive.store import Unavailable

    if fmt not in ("csv", "json", "html"):
        raise UsageError(f"--format: must be csv, json or html, got {fmt!r}")
    settings = load_settings()
    sla = settings.ack_sla_s
    p = report.period(kind or "custom", start, end)
    report.check_filters(group, district)
    embedded = Path(settings.data_dir) / "archive.db"
    if not settings.database_url and not embedded.exists():
        raise ConfigError(f"IOC_DATA_DIR: no archive at {embedded.resolve()}: run `ioc archive` "
                          "(or `ioc demo`) first, or set IOC_DATABASE_URL")
    store = open_store(settings, migrate=True)
    try:
        data = report.build_report(store, p, sla=sla, group=group, district=district)
    except Unavailable as exc:
        raise ConfigError(f"IOC_DATABASE_URL: the archive database is unavailable: {exc}"
                          ) from None
    finally:
        store.close()
    text = {"csv": report.to_csv, "json": report.to_json, "html": report.to_html}[fmt](data)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        Path(output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output: cannot write {output!r}: {exc.strerror or exc}") from None
    click.echo(f"report {p.label} written to {output}", err=True)


# --- simulator and replay (ioc/simulator.py, ioc/anomalies.py, ioc/producer.py, ioc/replay.py)
@cli.command("simulate")
@_bootstrap_option
@click.option("--rate", metavar="N", help="Readings per wall second (default: real time; above "
              "the natural rate compresses simulated time; 0 = as fast as possible).")
@click.option("--duration", metavar="S", help="Simulated seconds (default: until interrupted).")
@click.option("--seed", metavar="K", default="0", show_default=True,
              help="Random seed: the same seed and start give the same stream.")
@click.option("--start", metavar="TIME", help="Simulated start, RFC 3339 or epoch seconds "
              "(default: now).")
@click.option("--truth", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the injected anomalies (JSON lines) here at the end.")
@click.option("--anomalies", "anomaly_count", metavar="N",
              help="How many anomalies (default: 4 per simulated hour after the warm-up).")
@click.option("--no-anomalies", is_flag=True, help="Inject no anomalies.")
@click.option("--anomaly-kinds", metavar="K,K", help="Only these kinds: spike, level_shift, "
              "drift, stuck, silence, count_surge.")
@click.option("--warmup", metavar="S", help="Simulated seconds before the first anomaly "
              "(default: 1800, or a third of a shorter run; with --backfill: the backfill).")
@click.option("--anomalies-per-hour", "per_hour", metavar="N",
              help="Anomalies per simulated hour when --anomalies is not given (default: 4).")
@click.option("--backfill", metavar="S", help="Start S simulated seconds before now and send "
              "them as fast as possible (recent history for detectors and trends), then go on "
              "at --rate.")
@click.option("--pack-size", metavar="N", help="Send packs of up to N readings of one source "
              "(1 = never packs; default: buses, vessels and the SOC send one pack per tick).")
@click.option("--output", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the messages to this JSON-lines file instead of Kafka.")
@click.option("--topic-prefix", metavar="PREFIX", default="ioc", show_default=True,
              help="Produce to PREFIX.<group>.events instead of the ioc.* topics.")
@_timeout_option
def simulate_command(bootstrap: str | None, rate: str | None, duration: str | None, seed: str,
                     start: str | None, truth: str | None, anomaly_count: str | None,
                     no_anomalies: bool, anomaly_kinds: str | None, warmup: str | None,
                     per_hour: str | None, backfill: str | None, pack_size: str | None,
                     output: str | None, topic_prefix: str, timeout: float) -> None:
    """Simulate the city: readings of all 15 groups with labelled anomalies, into Kafka."""
    from ioc import anomalies as an
    from ioc import producer as pr
    from ioc import simulator as sm

    settings = load_settings()
    number = sm.parse_number
    speed_rate = number("--rate", rate, minimum=0)
    length = number("--duration", duration, minimum=1)
    seed_k = int(number("--seed", seed, integer=True) or 0)
    back = number("--backfill", backfill, minimum=0)
    if back is not None and start is not None:
        raise UsageError("--backfill and --start exclude each other: the backfill ends now")
    begin = sm.parse_start(start) if back is None else round(time.time() - back)
    live_from = None if back is None else begin + back
    hourly = number("--anomalies-per-hour", per_hour, minimum=0)
    packs = number("--pack-size", pack_size, integer=True, minimum=1)
    count = number("--anomalies", anomaly_count, integer=True, minimum=0)
    kinds = an.parse_kinds(anomaly_kinds) if anomaly_kinds else an.KINDS
    if truth and not Path(truth).resolve().parent.is_dir():
        raise UsageError(f"--truth: directory of {truth} does not exist")
    plan = an.AnomalyPlan() if no_anomalies else an.AnomalyPlan.random(
        seed_k, begin, length if length is not None else 30 * 86400.0,
        count=None if count is None else int(count), kinds=kinds,
        warmup_s=number("--warmup", warmup, minimum=0) if warmup is not None else back,
        per_hour=an.PER_HOUR if hourly is None else hourly)
    sim = sm.CitySimulator(seed_k, begin, length, anomalies=plan, topic_prefix=topic_prefix,
                           pack_size=None if packs is None else int(packs))
    speed = sm.speed_for_rate(speed_rate, sim.natural_rate)
    sink: pr.Sink
    if output:
        sink, target = pr.JsonLinesSink(output), output
    else:
        target = _bootstrap(bootstrap, settings)
        pr.ensure_topics(settings, target, timeout, topic_prefix)
        sink = pr.EventProducer(target, client_id="ioc-simulator", timeout_s=timeout)
    pace = "as fast as possible" if speed is None else f"{speed:.3g}x real time"
    click.echo(f"simulating {len(sim.sources)} sources of {len(sim.groups)} groups from "
               f"{sm.format_ts(begin)} for {'ever' if length is None else f'{length:g} s'} "
               f"(seed {seed_k}): natural rate {sim.natural_rate:.1f} readings/s, {pace}; "
               f"{len(plan)} anomalies planned", err=True)
    stats = pr.RunStats(reached=begin)
    try:
        with pr.interruptible():
            pr.publish_simulation(sim, sink, speed=speed, progress=pr.on_terminal(), stats=stats,
                                  live_from=live_from)
    finally:  # the truth of what was injected, even when the run failed half-way
        done = plan.started_before(stats.reached)
        if truth:
            an.write_truth(truth, done)
        sink.close()
    click.echo(f"sent {stats.readings} readings in {stats.messages} messages ({stats.packs} "
               f"packs) to {target} in {stats.wall_s:.1f} s ({stats.rate:,.0f} readings/s); "
               f"simulated up to {sm.format_ts(stats.reached)}; {len(done)} anomalies injected"
               + (f" (ground truth in {truth})" if truth else "")
               + (" (interrupted)" if stats.interrupted else ""))


@cli.command("replay")
@click.argument("file", type=click.Path(dir_okay=False))
@_bootstrap_option
@click.option("--speed", metavar="X", default="1", show_default=True,
              help="Replay speed: 1 keeps recorded inter-arrival times, 10 is ten times faster, "
              "0 as fast as possible.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="File format (default: from the name, else from the first line).")
@click.option("--topic-prefix", metavar="PREFIX", default="ioc", show_default=True,
              help="Produce to PREFIX.<group>.events instead of the ioc.* topics.")
@_timeout_option
def replay_command(file: str, bootstrap: str | None, speed: str, fmt: str | None,
                   topic_prefix: str, timeout: float) -> None:
    """Replay recorded readings (CSV or JSON lines) into the events topics."""
    from ioc import producer as pr
    from ioc import replay as rp
    from ioc.simulator import check_prefix, parse_number

    settings = load_settings()
    factor = parse_number("--speed", speed, minimum=0)
    check_prefix(topic_prefix)
    kind = rp.check_recording(file, fmt)  # type: ignore[arg-type]
    target = _bootstrap(bootstrap, settings)
    shown = 0

    def bad(line: rp.BadLine) -> None:
        nonlocal shown
        shown += 1
        if shown <= 20:
            click.echo(str(line), err=True)

    pr.ensure_topics(settings, target, timeout, topic_prefix)
    with pr.EventProducer(target, client_id="ioc-replay", timeout_s=timeout) as sink, \
            pr.interruptible():
        stats = rp.replay(file, sink, speed=factor, fmt=kind, on_bad=bad,
                          progress=pr.on_terminal(), topic_prefix=topic_prefix)
    if shown > 20:
        click.echo(f"... and {shown - 20} more bad lines", err=True)
    click.echo(stats.summary(file))
    if stats.readings == 0 and stats.bad:
        raise IocError(f"{file}: no valid readings ({stats.bad} bad lines)")


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
