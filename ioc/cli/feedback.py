"""``ioc detectors feedback`` and ``ioc detectors shadow-report`` (issue 16): what operators'
labels say about each detector, and a shadow detector against the live ones, from the archive.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ioc.cli.detect import detectors_command
from ioc.cli.root import load_settings
from ioc.errors import ConfigError, UsageError

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([dh])$")


def parse_since(text: str | None, now: float) -> float | None:
    """``7d`` / ``12h`` before ``now``, or a Da Nang date ``YYYY-MM-DD`` (its 00:00).

    >>> parse_since("2d", 200000.0), parse_since("1970-01-02", 0.0), parse_since(None, 0.0)
    (27200.0, 61200.0, None)
    """
    if text is None:
        return None
    m = _SPAN.match(text.strip())
    if m:
        return now - float(m.group(1)) * (86400.0 if m.group(2) == "d" else 3600.0)
    try:
        day = time.strptime(text.strip(), "%Y-%m-%d")
    except ValueError:
        raise UsageError(f"--since/--until: expected 7d, 12h or YYYY-MM-DD, got {text!r}"
                         ) from None
    return float(calendar.timegm(day)) - 7 * 3600  # Da Nang midnight (UTC+7)


def _with_store(action: Callable[[Any], Any]) -> Any:
    from archive.run import open_store
    from archive.store import Unavailable

    settings = load_settings()
    embedded = Path(settings.data_dir) / "archive.db"
    if not settings.database_url and not embedded.exists():
        raise ConfigError(f"IOC_DATA_DIR: no archive at {embedded.resolve()}: run `ioc archive` "
                          "(or `ioc demo`) first, or set IOC_DATABASE_URL")
    store = open_store(settings, migrate=True)
    try:
        return action(store)
    except Unavailable as exc:
        raise ConfigError(f"IOC_DATABASE_URL: the archive database is unavailable: {exc}"
                          ) from None
    finally:
        store.close()


def archive_truth() -> tuple[list[Any], list[Any]]:
    """Ground truth from every label in the archive (``backtest --labels``), and every
    episode judged right or wrong (an alert elsewhere is left out of the precision)."""
    from archive.feedback import labels
    from archive.feedback_figures import judged_episodes, labels_as_truth

    rows = _with_store(labels)
    return labels_as_truth(rows), judged_episodes(rows)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


@detectors_command.command("feedback")
@click.option("--since", metavar="WHEN", default="30d", show_default=True,
              help="Episodes that began since: 7d, 12h or YYYY-MM-DD (Da Nang).")
@click.option("--until", metavar="WHEN", default=None, help="... and before (default: now).")
@click.option("--by", type=click.Choice(["day", "week", "all"]), default="week",
              show_default=True, help="One row per detector, metric and this period.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
def feedback_command(since: str, until: str | None, by: str, as_json: bool) -> None:
    """Measured precision of each detector and metric from operators' labels (real,
    false_alarm, sensor_fault, planned) on acknowledged or resolved alerts."""
    from archive.feedback import feedback_report

    now = time.time()
    lo, hi = parse_since(since, now), parse_since(until, now)
    data = _with_store(lambda store: feedback_report(store, since=lo, until=hi, by=by))
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(f"{data['labelled']} labelled alerts")
    click.echo(f"{'period':<11} {'detector':<16} {'group/metric':<34} {'labels':>6} "
               f"{'real':>5} {'false':>5} {'sensor':>6} {'plan':>5} {'precision':>9}")
    for r in data["rows"]:
        click.echo(f"{r['period']:<11} {r['detector']:<16} {r['group'] + '/' + r['metric']:<34} "
                   f"{r['labelled']:>6} {r['real']:>5} {r['false_alarm']:>5} "
                   f"{r['sensor_fault']:>6} {r['planned']:>5} {_pct(r['precision']):>9}")


@detectors_command.command("shadow-report")
@click.option("--detector", required=True, help="The detector running in shadow mode.")
@click.option("--since", metavar="WHEN", default="7d", show_default=True,
              help="Start of the period: 7d, 12h or YYYY-MM-DD (Da Nang).")
@click.option("--until", metavar="WHEN", default=None, help="End of the period (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
def shadow_report_command(detector: str, since: str, until: str | None, as_json: bool) -> None:
    """A shadow detector against the live detectors on the same metrics and period: alerts
    per day, overlap, lead time and labelled precision, to promote it on evidence."""
    from archive.feedback import shadow_comparison

    now = time.time()
    lo = parse_since(since, now)
    hi = parse_since(until, now) if until else now
    assert lo is not None and hi is not None
    if hi <= lo:
        raise UsageError("--until must come after --since")
    data = _with_store(lambda store: shadow_comparison(store, detector, since=lo, until=hi))
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(f"shadow {detector} on {', '.join(data['metrics']) or 'no metric'} "
               f"over {data['span_s'] / 86400:.1f} days")
    for name in ("shadow", "live"):
        s = data[name]
        click.echo(f"  {name:<7} episodes {s['episodes']:>5}  per day {s['per_day']}  overlap "
                   f"{_pct(s['overlap'])}  labelled {s['labelled']}  precision "
                   f"{_pct(s['precision'])}")
    lead = data["lead_s"]
    click.echo(f"  lead time (median, + = shadow first): "
               f"{'-' if lead is None else f'{lead:.0f} s'}")
