"""A report rendered: JSON (also ``/api/reports``), one CSV table, and a printable HTML page
with a sparkline per KPI, its headings in Vietnamese or English (the message catalogs,
:mod:`ioc.i18n`; CSV and JSON keep their machine-readable names).

>>> duration(750), duration(750, "vi")
('12.5 min', '12,5 phút')
>>> sparkline([], 0.0, 1.0)
'<svg class="spark" width="240" height="40" role="img" aria-label="no data"></svg>'
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from archive.report_figures import SEVERITY_ORDER
from ioc import i18n

__all__ = ["CSV_COLUMNS", "duration", "sparkline", "to_csv", "to_html", "to_json"]


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
    for c in report.get("centres", []):  # acknowledged and MTTA per operation centre
        row = ["centre", c["centre"], *[""] * (len(CSV_COLUMNS) - 2)]
        row[CSV_COLUMNS.index("acknowledged")] = c["acknowledged"]
        row[CSV_COLUMNS.index("mtta_s")] = _num(c["mtta_s"])
        w.writerow(row)
    for g in report["groups"]:
        for k in g["kpis"]:
            w.writerow(["kpi", f"{g['group']}/{k['name']}", "", *blank,
                        _num(k["mean"], 3), _num(k["min"], 3), _num(k["max"], 3)])
    return out.getvalue()


def duration(seconds: float | None, lang: str = "en") -> str:
    """Seconds in words for people, in ``lang``.

    >>> duration(None), duration(42), duration(750), duration(7500)
    ('–', '42 s', '12.5 min', '2.1 h')
    """
    if seconds is None:
        return "–"
    if seconds < 120:
        key, n = "dur.s", f"{seconds:.0f}"
    elif seconds < 7200:
        key, n = "dur.min", f"{seconds / 60:.1f}"
    else:
        key, n = "dur.h", f"{seconds / 3600:.1f}"
    if lang == "vi":
        n = n.replace(".", ",")
    return i18n.t(lang, key, n=n)


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


def _name(lang: str, kind: str, value: str) -> str:
    """A group's or district's name in ``lang`` (the value itself when the catalog lacks it)."""
    return i18n.messages(lang).get(f"{kind}.{value}", value)


def to_html(report: Mapping[str, Any], lang: str = "en") -> str:
    """The report as one printable HTML page (no script; styles in the page), its words in
    ``lang`` (``vi`` or ``en``)."""
    lang = i18n.language(lang)
    t = _words(lang)
    e = html.escape
    p = report["period"]
    f = report["filters"]
    where = ", ".join(x for x in (_name(lang, "group", f["group"] or ""),
                                  _name(lang, "district", f["district"] or "")) if x) \
        or t("rep.whole_city")
    return "".join([
        f"<!doctype html><html lang={lang}><head><meta charset=utf-8><title>"
        f"{e(t('rep.title', label=p['label']))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(t('rep.heading', label=p['label']))}</h1><p>"
        f"{e(t('rep.intro', where=where, previous=report['previous']['label']))}</p>",
        _scope_table(lang, t("rep.city"), "scope", [report["totals"]]),
        _scope_table(lang, t("rep.groups"), "group", report["groups"]),
        _scope_table(lang, t("rep.districts"), "district", report["districts"]),
        _centres(lang, report.get("centres", [])),
        _noisiest(lang, report),
        _indicators(lang, report),
        "</body></html>"])


def _words(lang: str) -> Callable[..., str]:
    """The message catalog of ``lang`` as a function of a key and its parameters."""

    def t(key: str, **params: Any) -> str:
        return i18n.t(lang, key, **params)

    return t


def _scope_table(lang: str, title: str, key: str, rows: Iterable[Mapping[str, Any]]) -> str:
    """One section: a row of figures per scope (``key``: ``scope`` for the city's one row,
    ``group`` or ``district``)."""
    e, t = html.escape, _words(lang)
    head = "".join(f"<th>{e(h)}</th>" for h in (
        t(f"rep.col.{key}"), t("rep.col.opened"), *(t(f"severity.{s}") for s in SEVERITY_ORDER),
        t("rep.col.incidents"), "MTTA", "MTTR",
        *(t("rep.col.ack_sla", severity=t(f"severity.{s}")) for s in SEVERITY_ORDER)))
    body = []
    for r in rows:
        name = t("rep.city_row") if key == "scope" else _name(lang, key, r[key])
        cells = [name, r["opened"],
                 *(r["by_severity"][s] for s in SEVERITY_ORDER), r["incidents"],
                 duration(r["mtta_s"], lang) + _trend_word(r["trend_pct"]["mtta_s"]),
                 duration(r["mttr_s"], lang) + _trend_word(r["trend_pct"]["mttr_s"]),
                 *(_pct(r["sla"][s]["share"]) for s in SEVERITY_ORDER)]
        body.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells) + "</tr>")
    return (f"<section><h2>{e(title)}</h2><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></section>")


def _centres(lang: str, centres: Iterable[Mapping[str, Any]]) -> str:
    """Acknowledged alerts, people and MTTA per operation centre."""
    e, t = html.escape, _words(lang)
    return (f"<section><h2>{e(t('rep.centres'))}</h2><table><thead><tr>"
            f"<th>{e(t('rep.col.centre'))}</th><th>{e(t('rep.col.acknowledged'))}</th>"
            f"<th>{e(t('rep.col.people'))}</th><th>MTTA</th></tr></thead><tbody>" + "".join(
                f"<tr><td>{e(c['centre'])}</td><td>{c['acknowledged']}</td>"
                f"<td>{c['people']}</td><td>{duration(c['mtta_s'], lang)}</td></tr>"
                for c in centres) + "</tbody></table></section>")


def _noisiest(lang: str, report: Mapping[str, Any]) -> str:
    """The sources and detectors that opened the most alerts."""
    e, t = html.escape, _words(lang)
    return (f"<section><h2>{e(t('rep.noisiest'))}</h2><table><tbody>" + "".join(
        f"<tr><td>{e(s['source'])} ({e(_name(lang, 'group', s['group']))}, "
        f"{e(_name(lang, 'district', s['district']))})</td>"
        f"<td>{s['opened']}</td></tr>" for s in report["noisiest_sources"]) + "".join(
        f"<tr><td>{e(t('rep.detector', name=d['detector']))}</td><td>{d['opened']}</td></tr>"
        for d in report["noisiest_detectors"]) + "</tbody></table></section>")


def _indicators(lang: str, report: Mapping[str, Any]) -> str:
    """A sparkline and its mean, min and max per group KPI that has points."""
    e, t = html.escape, _words(lang)
    p = report["period"]
    parts = [f"<section><h2>{e(t('rep.indicators'))}</h2><div class=kpis>"]
    for g in report["groups"]:
        for k in g["kpis"]:
            if not k["points"]:
                continue
            label = i18n.messages(lang).get(f"kpi.{g['group']}.{k['name']}", k["label"])
            stats = t("rep.kpi_stats", mean=_num(k["mean"], 2), unit=k["unit"],
                      min=_num(k["min"], 2), max=_num(k["max"], 2))
            parts.append(f"<div class=kpi><b>{e(_name(lang, 'group', g['group']))}: "
                         f"{e(label)}</b><br>{sparkline(k['points'], p['start'], p['end'])}"
                         f"<br>{e(stats)}</div>")
    parts.append("</div></section>")
    return "".join(parts)
