"""Leadership reports: a period's figures per service group and per district, from the archive.

A **period** is a Da Nang (UTC+7) day, ISO week (Monday first), month or quarter holding a
date, or a custom span of days (:func:`period`). Its figures (:func:`build_report`), city-wide,
per group and per district:

* alerts *opened* in the period (episodes, see :mod:`archive.queries`), by severity at opening;
* incidents opened (per group: the incidents the group took part in);
* acknowledged and resolved episodes, **MTTA** (opening -> first ack) and **MTTR** (opening ->
  resolution) in seconds, with the same figures for the previous period of the same length and
  the trend in percent;
* per severity, the share acknowledged within the SLA (``IOC_ACK_SLA_S``) of the episodes
  opened (an episode never acknowledged counts as outside);
* the noisiest sources and detectors (most episodes opened);
* each group's KPIs from the roll-ups: hourly points for periods up to 14 days, daily beyond;
  per point the districts' means combined as the wall combines them (sum, max or mean).

The same report renders as JSON (:func:`to_json`, also ``/api/reports``), CSV (:func:`to_csv`)
and a printable HTML page (:func:`to_html`).

>>> p = period("week", "2026-12-02")
>>> p.label, p.resolution, p.previous().label
('week 2026-11-30 to 2026-12-06', 'h', 'week 2026-11-23 to 2026-11-29')
>>> period("custom", "2026-12-01", "2026-11-01")
Traceback (most recent call last):
...
ioc.errors.UsageError: --to: 2026-11-01 is before --from 2026-12-01
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from archive import queries
from archive.queries import Episode
from archive.store import Store
from ioc import catalog
from ioc.errors import UsageError, ValidationError
from ioc.events import SEVERITIES

__all__ = ["KINDS", "Period", "build_report", "check_filters", "duration", "kpi_trends", "period",
           "sparkline", "to_csv", "to_html", "to_json"]

DA_NANG = timezone(timedelta(hours=7), "ICT")
KINDS = ("day", "week", "month", "quarter", "custom")
MAX_DAYS = 400
HOURLY_UP_TO_DAYS = 14
TOP = 10
SEVERITY_ORDER = tuple(reversed(SEVERITIES))  # critical first


@dataclass(frozen=True)
class Period:
    """``start`` <= t < ``end`` (epoch seconds), a ``kind`` of :data:`KINDS`."""

    kind: str
    start: float
    end: float

    @property
    def days(self) -> float:
        return (self.end - self.start) / 86400.0

    @property
    def resolution(self) -> str:
        """``h`` (hourly roll-ups) up to 14 days, ``d`` (daily) beyond."""
        return "h" if self.days <= HOURLY_UP_TO_DAYS else "d"

    @property
    def first_day(self) -> date:
        return datetime.fromtimestamp(self.start, DA_NANG).date()

    @property
    def last_day(self) -> date:
        return datetime.fromtimestamp(self.end - 1, DA_NANG).date()

    @property
    def label(self) -> str:
        a, b = self.first_day.isoformat(), self.last_day.isoformat()
        return f"{self.kind} {a}" if a == b else f"{self.kind} {a} to {b}"

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.kind, 2 * self.start - self.end, self.start)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "from": self.first_day.isoformat(),
                "to": self.last_day.isoformat(), "start": self.start, "end": self.end,
                "label": self.label, "resolution": self.resolution}


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise UsageError(f"{option}: expected a date YYYY-MM-DD (Da Nang), got {text!r}"
                         ) from None


def _at(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=DA_NANG).timestamp()


def period(kind: str, start: str, end: str | None = None) -> Period:
    """The period of ``kind`` holding the date ``start`` (``custom``: the days ``start`` to
    ``end``, both included). Bad input is a :class:`~ioc.errors.UsageError` naming the
    option (``--period``, ``--from``, ``--to``)."""
    if kind not in KINDS:
        raise UsageError(f"--period: must be one of {', '.join(KINDS)}, got {kind!r}")
    first = _day(start, "--from")
    if kind == "custom":
        if not end:
            raise UsageError("--to: a custom period needs --to (the last day, included)")
        last = _day(end, "--to")
        if last < first:
            raise UsageError(f"--to: {last} is before --from {first}")
        if (last - first).days + 1 > MAX_DAYS:
            raise UsageError(f"--to: a report covers at most {MAX_DAYS} days")
        return Period(kind, _at(first), _at(last + timedelta(days=1)))
    if end:
        raise UsageError(f"--to: only for a custom period (a {kind} is fixed by --from)")
    if kind == "day":
        a, b = first, first + timedelta(days=1)
    elif kind == "week":
        a = first - timedelta(days=first.weekday())
        b = a + timedelta(days=7)
    else:
        months = 1 if kind == "month" else 3
        m0 = first.month - 1 if kind == "month" else (first.month - 1) // 3 * 3
        a = date(first.year, m0 + 1, 1)
        y, m = divmod(m0 + months, 12)
        b = date(first.year + y, m + 1, 1)
    return Period(kind, _at(a), _at(b))


# --- figures ---------------------------------------------------------------------------------
def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _trend(now: float | None, before: float | None) -> float | None:
    """Percent change from ``before`` to ``now`` (None when either is missing or 0)."""
    if now is None or not before:
        return None
    return round(100.0 * (now - before) / before, 1)


def _figures(eps: Sequence[Episode], prev: Sequence[Episode], incidents: int,
             sla: Mapping[str, float]) -> dict[str, Any]:
    by_sev = dict.fromkeys(SEVERITY_ORDER, 0)
    within = dict.fromkeys(SEVERITY_ORDER, 0)
    for e in eps:
        by_sev[e.severity] = by_sev.get(e.severity, 0) + 1
        ack = e.ack_s
        if ack is not None and ack <= sla.get(e.severity, 0.0):
            within[e.severity] = within.get(e.severity, 0) + 1
    acks = [s for e in eps if (s := e.ack_s) is not None]
    fixes = [s for e in eps if (s := e.resolve_s) is not None]
    p_acks = [s for e in prev if (s := e.ack_s) is not None]
    p_fixes = [s for e in prev if (s := e.resolve_s) is not None]
    mtta, mttr = _mean(acks), _mean(fixes)
    p_mtta, p_mttr = _mean(p_acks), _mean(p_fixes)
    return {
        "opened": len(eps), "by_severity": by_sev, "incidents": incidents,
        "acknowledged": len(acks), "resolved": len(fixes), "mtta_s": mtta, "mttr_s": mttr,
        "previous": {"opened": len(prev), "mtta_s": p_mtta, "mttr_s": p_mttr},
        "trend_pct": {"opened": _trend(float(len(eps)), float(len(prev))),
                      "mtta_s": _trend(mtta, p_mtta), "mttr_s": _trend(mttr, p_mttr)},
        "sla": {sev: {"opened": by_sev[sev], "within": within[sev],
                      "share": within[sev] / by_sev[sev] if by_sev[sev] else None}
                for sev in SEVERITY_ORDER},
    }


_OPS = {"sum": "sum", "breach": "sum", "max": "max", "mean": "mean", "ratio": "mean"}


def kpi_trends(store: Store, *, since: float, until: float
               ) -> dict[str, dict[float, dict[str, float]]]:
    """City-wide KPIs per group and hour from the hourly roll-ups (``since`` <= hour <
    ``until``): ``{group: {hour: {kpi: value}}}``, each value the districts' hourly means
    combined as the wall combines districts (sum, max or mean). The summary page's 24-hour
    trends use it, so they are full right after a restart."""
    per: dict[tuple[str, str, float], list[float]] = {}
    for r in queries.rollups(store, resolution="h", since=since, until=until):
        per.setdefault((r["group"], r["metric"][len("kpi:"):], r["bucket"]), []).append(
            r["mean"])
    out: dict[str, dict[float, dict[str, float]]] = {}
    for (group, name, hour), means in per.items():
        spec = catalog.GROUPS.get(group)
        op = next((_OPS[k.op] for k in spec.kpis if k.name == name), "mean") if spec else "mean"
        v = sum(means) if op == "sum" else max(means) if op == "max" else sum(means) / len(means)
        out.setdefault(group, {}).setdefault(hour, {})[name] = v
    return out


def _kpis(group: str, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    spec = catalog.group(group)
    ops = _OPS
    per: dict[str, dict[float, list[dict[str, Any]]]] = {}
    for r in rows:
        per.setdefault(r["metric"][len("kpi:"):], {}).setdefault(r["bucket"], []).append(r)
    out = []
    for k in spec.kpis:
        buckets = per.get(k.name, {})
        op = ops[k.op]
        points = []
        lo: float | None = None
        hi: float | None = None
        for t in sorted(buckets):
            here = buckets[t]
            means = [r["mean"] for r in here]
            v = sum(means) if op == "sum" else max(means) if op == "max" else _mean(means)
            points.append({"t": t, "v": v})
            mins = [r["min"] for r in here if r["min"] is not None]
            maxs = [r["max"] for r in here if r["max"] is not None]
            if op == "sum":   # the city-wide extremes of a sum are not the districts' ones
                mins, maxs = [v] if v is not None else [], [v] if v is not None else []
            if mins:
                lo = min(mins) if lo is None else min(lo, *mins)
            if maxs:
                hi = max(maxs) if hi is None else max(hi, *maxs)
        values = [p["v"] for p in points if p["v"] is not None]
        out.append({"name": k.name, "label": k.label, "unit": k.unit, "combine": op,
                    "mean": _mean(values), "min": lo, "max": hi, "points": points})
    return out


def build_report(store: Store, p: Period, *, sla: Mapping[str, float],
                 group: str | None = None, district: str | None = None) -> dict[str, Any]:
    """The report of period ``p`` (in ``group`` / ``district`` when given) as plain data:
    what :func:`to_json`, :func:`to_csv` and :func:`to_html` render. Raise
    :class:`~ioc.errors.ValidationError` for an unknown group or district."""
    group = queries.check_group(group)
    district = queries.check_district(district)
    prev = p.previous()
    eps = queries.episodes(store, since=p.start, until=p.end, group=group, district=district)
    peps = queries.episodes(store, since=prev.start, until=prev.end, group=group,
                            district=district)
    incs = queries.incidents_opened(store, since=p.start, until=p.end, district=district)
    if group:
        incs = [i for i in incs if group in i["groups"]]
    rollups = queries.rollups(store, resolution=p.resolution, since=p.start, until=p.end,
                              group=group, district=district)

    groups = [group] if group else [g.slug for g in catalog.CATALOG]
    districts = [district] if district else [d.name for d in catalog.DISTRICTS]
    rows_of: dict[str, list[dict[str, Any]]] = {}
    for r in rollups:
        rows_of.setdefault(r["group"], []).append(r)
    by_group = []
    for slug in groups:
        g_eps = [e for e in eps if e.group == slug]
        g_prev = [e for e in peps if e.group == slug]
        by_group.append({"group": slug, "name": catalog.group(slug).name,
                         **_figures(g_eps, g_prev, sum(slug in i["groups"] for i in incs), sla),
                         "kpis": _kpis(slug, rows_of.get(slug, []))})
    by_district = []
    for name in districts:
        by_district.append({"district": name, **_figures(
            [e for e in eps if e.district == name], [e for e in peps if e.district == name],
            sum(i["district"] == name for i in incs), sla)})
    sources = Counter((e.source, e.group, e.district) for e in eps)
    detectors = Counter(e.detector for e in eps)
    return {
        "type": "report", "period": p.as_dict(), "previous": prev.as_dict(),
        "filters": {"group": group, "district": district},
        "sla_s": dict(sla), "totals": _figures(eps, peps, len(incs), sla),
        "groups": by_group, "districts": by_district,
        "noisiest_sources": [{"source": s, "group": g, "district": d, "opened": n}
                             for (s, g, d), n in sorted(sources.items(),
                                                        key=lambda kv: (-kv[1], kv[0]))[:TOP]],
        "noisiest_detectors": [{"detector": d, "opened": n}
                               for d, n in sorted(detectors.items(),
                                                  key=lambda kv: (-kv[1], kv[0]))[:TOP]],
    }


# --- rendering -------------------------------------------------------------------------------
def to_json(report: Mapping[str, Any]) -> str:
    """The report as JSON text (what ``/api/reports`` answers)."""
    return json.dumps(report, separators=(",", ":"), allow_nan=False)


CSV_COLUMNS = ("kind", "name", "opened", *(f"opened_{s}" for s in SEVERITY_ORDER),
               "incidents", "acknowledged", "resolved", "mtta_s", "mttr_s",
               "previous_mtta_s", "previous_mttr_s", "mtta_trend_pct", "mttr_trend_pct",
               *(f"ack_within_sla_{s}_pct" for s in SEVERITY_ORDER),
               "kpi_mean", "kpi_min", "kpi_max")


def _num(v: float | None, digits: int = 1) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def to_csv(report: Mapping[str, Any]) -> str:
    """The report as one CSV table: a row per scope (``city``, each ``group`` and
    ``district``), then the noisiest ``source`` and ``detector`` rows and a ``kpi`` row per
    group KPI (its period mean, min and max)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    def scope(kind: str, name: str, f: Mapping[str, Any]) -> None:
        sla = [_num(None if x["share"] is None else 100 * x["share"])
               for x in (f["sla"][s] for s in SEVERITY_ORDER)]
        w.writerow([kind, name, f["opened"], *(f["by_severity"][s] for s in SEVERITY_ORDER),
                    f["incidents"], f["acknowledged"], f["resolved"], _num(f["mtta_s"]),
                    _num(f["mttr_s"]), _num(f["previous"]["mtta_s"]),
                    _num(f["previous"]["mttr_s"]), _num(f["trend_pct"]["mtta_s"]),
                    _num(f["trend_pct"]["mttr_s"]), *sla, "", "", ""])

    blank = [""] * (len(CSV_COLUMNS) - 3 - 3)
    scope("city", "all", report["totals"])
    for g in report["groups"]:
        scope("group", g["group"], g)
    for d in report["districts"]:
        scope("district", d["district"], d)
    for s in report["noisiest_sources"]:
        w.writerow(["source", s["source"], s["opened"], *blank, "", "", ""])
    for d in report["noisiest_detectors"]:
        w.writerow(["detector", d["detector"], d["opened"], *blank, "", "", ""])
    for g in report["groups"]:
        for k in g["kpis"]:
            w.writerow(["kpi", f"{g['group']}/{k['name']}", "", *blank,
                        _num(k["mean"], 3), _num(k["min"], 3), _num(k["max"], 3)])
    return out.getvalue()


def duration(seconds: float | None) -> str:
    """Seconds in words for people.

    >>> duration(None), duration(42), duration(750), duration(7500)
    ('–', '42 s', '12.5 min', '2.1 h')
    """
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f} %"


def _trend_word(v: float | None) -> str:
    return "" if v is None else f" ({v:+.0f} %)"


def sparkline(points: Sequence[Mapping[str, Any]], start: float, end: float,
              width: int = 240, height: int = 40) -> str:
    """An inline SVG line of ``points`` (``t``, ``v``) over ``start``..``end``."""
    vals = [p["v"] for p in points if p["v"] is not None]
    if not vals:
        return (f'<svg class="spark" width="{width}" height="{height}" role="img" '
                f'aria-label="no data"></svg>')
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    coords = " ".join(
        f"{(p['t'] - start) / (end - start) * width:.1f},"
        f"{height - 2 - (p['v'] - lo) / span * (height - 4):.1f}"
        for p in points if p["v"] is not None)
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} '
            f'{height}" role="img" aria-label="from {lo:.3g} to {hi:.3g}"><polyline '
            f'fill="none" stroke="currentColor" stroke-width="1.5" points="{coords}"/></svg>')


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;margin:0 0 1.5em}th,td{border:1px solid #bbb;padding:.25em .5em;
text-align:right}th:first-child,td:first-child{text-align:left}h1{font-size:1.4em}
.kpis{display:flex;flex-wrap:wrap;gap:1em}.kpi{border:1px solid #ccc;padding:.5em}
@media print{body{margin:0}section{break-inside:avoid}}"""


def to_html(report: Mapping[str, Any]) -> str:
    """The report as one printable HTML page (no script; styles in the page)."""
    e = html.escape
    p = report["period"]
    f = report["filters"]
    where = ", ".join(x for x in (f["group"], f["district"]) if x) or "the whole city"
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>IOC report "
             f"{e(p['label'])}</title><style>{_CSS}</style></head><body>",
             f"<h1>Operations report: {e(p['label'])}</h1><p>{e(where)}; compared with "
             f"{e(report['previous']['label'])}. Times in Da Nang time (UTC+7).</p>"]

    def table(title: str, key: str, rows: Iterable[Mapping[str, Any]]) -> None:
        head = "".join(f"<th>{h}</th>" for h in (
            key, "opened", *SEVERITY_ORDER, "incidents", "MTTA", "MTTR",
            *(f"ack ≤ SLA {s}" for s in SEVERITY_ORDER)))
        body = []
        for r in rows:
            cells = [r[key] if key != "scope" else "city", r["opened"],
                     *(r["by_severity"][s] for s in SEVERITY_ORDER), r["incidents"],
                     duration(r["mtta_s"]) + _trend_word(r["trend_pct"]["mtta_s"]),
                     duration(r["mttr_s"]) + _trend_word(r["trend_pct"]["mttr_s"]),
                     *(_pct(r["sla"][s]["share"]) for s in SEVERITY_ORDER)]
            body.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells) + "</tr>")
        parts.append(f"<section><h2>{e(title)}</h2><table><thead><tr>{head}</tr></thead>"
                     f"<tbody>{''.join(body)}</tbody></table></section>")

    table("City", "scope", [report["totals"]])
    table("Service groups", "group", report["groups"])
    table("Districts", "district", report["districts"])
    parts.append("<section><h2>Noisiest sources and detectors</h2><table><tbody>" + "".join(
        f"<tr><td>{e(s['source'])} ({e(s['group'])}, {e(s['district'])})</td>"
        f"<td>{s['opened']}</td></tr>" for s in report["noisiest_sources"]) + "".join(
        f"<tr><td>detector {e(d['detector'])}</td><td>{d['opened']}</td></tr>"
        for d in report["noisiest_detectors"]) + "</tbody></table></section>")
    parts.append("<section><h2>Indicators</h2><div class=kpis>")
    for g in report["groups"]:
        for k in g["kpis"]:
            if not k["points"]:
                continue
            parts.append(f"<div class=kpi><b>{e(g['name'])}: {e(k['label'])}</b><br>"
                         f"{sparkline(k['points'], p['start'], p['end'])}<br>mean "
                         f"{_num(k['mean'], 2)} {e(k['unit'])}, min {_num(k['min'], 2)}, max "
                         f"{_num(k['max'], 2)}</div>")
    parts.append("</div></section></body></html>")
    return "".join(parts)


def check_filters(group: str | None, district: str | None) -> None:
    """UsageError (``--group`` / ``--district``) for names outside the catalog."""
    try:
        queries.check_group(group)
        queries.check_district(district)
    except ValidationError as exc:
        raise UsageError(f"--{exc.field}: {exc.reason}") from None
