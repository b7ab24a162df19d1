"""Data in and out: ``ioc simulate``, ``ioc replay`` and ``ioc report``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ioc.cli.root import _bootstrap, _bootstrap_option, _timeout_option, cli, load_settings
from ioc.errors import ConfigError, IocError, UsageError

if TYPE_CHECKING:
    from ioc.settings import Settings
    from ioc.tools.producer import Sink


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
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
              help="Language of the html page's headings and names.")
def report_command(start: str, end: str | None, kind: str | None, group: str | None,
                   district: str | None, fmt: str, output: str | None, lang: str) -> None:
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
    text = report.to_html(data, lang) if fmt == "html" else \
        {"csv": report.to_csv, "json": report.to_json}[fmt](data)
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
    from ioc.tools import anomalies as an
    from ioc.tools import producer as pr
    from ioc.tools import simulator as sm

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
    sink, target = _simulation_sink(settings, output, bootstrap, topic_prefix, timeout)
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


def _simulation_sink(settings: Settings, output: str | None, bootstrap: str | None,
                     topic_prefix: str, timeout: float) -> tuple[Sink, str]:
    """Where ``ioc simulate`` sends, and its name: the ``--output`` file, else Kafka (its
    topics made first), some groups through MQTT when ``IOC_SIMULATOR_MQTT_URL`` is set."""
    from ioc.tools import producer as pr

    if output:
        return pr.JsonLinesSink(output), output
    target = _bootstrap(bootstrap, settings)
    pr.ensure_topics(settings, target, timeout, topic_prefix)
    sink: Sink = pr.EventProducer(target, client_id="ioc-simulator", timeout_s=timeout)
    if settings.simulator_mqtt_url:  # some groups through MQTT and the bridge (ingest/)
        from ioc.tools.mqtt_publish import MqttSplitSink
        sink = MqttSplitSink(sink, settings.simulator_mqtt_url, tuple(
            g.strip() for g in settings.simulator_mqtt_groups.split(",") if g.strip()))
    return sink, target


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
    from ioc.tools import producer as pr
    from ioc.tools import replay as rp
    from ioc.tools.simulator import check_prefix, parse_number

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
