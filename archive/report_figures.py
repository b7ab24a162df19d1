"""A report's figures, from the archive: per period, city-wide, per service group and per
district (what :mod:`archive.report` describes), and the groups' KPI trends from the roll-ups.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from archive import queries
from archive.accounts import Scope
from archive.periods import Period
from archive.queries import Episode
from archive.report_centres import mtta_by_centre
from archive.store import Store
from ioc import catalog
from ioc.errors import UsageError, ValidationError
from ioc.events import SEVERITIES

__all__ = ["SEVERITY_ORDER", "TOP", "build_report", "check_filters", "district_trends",
           "kpi_trends"]

TOP = 10
SEVERITY_ORDER = tuple(reversed(SEVERITIES))  # critical first


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


def district_trends(store: Store, *, since: float, until: float
                    ) -> dict[str, dict[float, dict[str, float]]]:
    """Per district and hour (``since`` <= hour < ``until``) the open alerts and the sources
    in breach summed over its groups (each group's hourly mean), as the summary's district
    rows draw them live: ``{district: {hour: {"open_alerts": n, "sources_in_breach": n}}}``.
    Only the hours that hold both figures (``alerts:open`` is rolled up since issue 13)."""
    out: dict[str, dict[float, dict[str, float]]] = {}
    for metric, name in (("alerts:open", "open_alerts"), ("sources:in_breach",
                                                           "sources_in_breach")):
        for r in queries.rollups(store, resolution="h", since=since, until=until,
                                 prefix=metric):
            if r["metric"] == metric and r["mean"] is not None:
                hour = out.setdefault(r["district"], {}).setdefault(r["bucket"], {})
                hour[name] = round(hour.get(name, 0.0) + r["mean"], 2)
    return {d: {h: f for h, f in hours.items() if len(f) == 2}
            for d, hours in out.items()}


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
                 group: str | None = None, district: str | None = None,
                 scope: Scope | None = None) -> dict[str, Any]:
    """The report of period ``p`` (in ``group`` / ``district`` when given) as plain data:
    what :func:`to_json`, :func:`to_csv` and :func:`to_html` render. With ``scope``, only
    its districts and groups: every figure (city totals too) counts what is in it, and
    ``filters.scope`` names it. Raise :class:`~ioc.errors.ValidationError` for an unknown
    group or district."""
    group = queries.check_group(group)
    district = queries.check_district(district)
    prev = p.previous()
    eps = queries.episodes(store, since=p.start, until=p.end, group=group, district=district,
                           scope=scope)
    peps = queries.episodes(store, since=prev.start, until=prev.end, group=group,
                            district=district, scope=scope)
    incs = queries.incidents_opened(store, since=p.start, until=p.end, district=district,
                                    scope=scope)
    if group:
        incs = [i for i in incs if group in i["groups"]]
    rollups = queries.rollups(store, resolution=p.resolution, since=p.start, until=p.end,
                              group=group, district=district, scope=scope)

    scope = scope or Scope()
    groups = [group] if group else [g.slug for g in catalog.CATALOG
                                    if scope.allows(group=g.slug)]
    districts = [district] if district else [d.name for d in catalog.DISTRICTS
                                             if scope.allows(district=d.name)]
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
        "filters": {"group": group, "district": district, **({} if scope.city_wide else {
            "scope": {"districts": list(scope.districts), "groups": list(scope.groups)}})},
        "sla_s": dict(sla), "totals": _figures(eps, peps, len(incs), sla),
        "groups": by_group, "districts": by_district,
        "centres": mtta_by_centre(store, eps),  # MTTA per operation centre (who acked)
        "noisiest_sources": [{"source": s, "group": g, "district": d, "opened": n}
                             for (s, g, d), n in sorted(sources.items(),
                                                        key=lambda kv: (-kv[1], kv[0]))[:TOP]],
        "noisiest_detectors": [{"detector": d, "opened": n}
                               for d, n in sorted(detectors.items(),
                                                  key=lambda kv: (-kv[1], kv[0]))[:TOP]],
    }


def check_filters(group: str | None, district: str | None) -> None:
    """UsageError (``--group`` / ``--district``) for names outside the catalog."""
    try:
        queries.check_group(group)
        queries.check_district(district)
    except ValidationError as exc:
        raise UsageError(f"--{exc.field}: {exc.reason}") from None
