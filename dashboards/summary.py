"""The leadership summary (``/api/summary`` and the ``summary`` frame, docs/protocol.md) of a
:class:`~dashboards.state.State`: city-wide, or as a scoped principal sees it (only the
alerts, incidents, indicators and 24-hour figures of its districts and groups; a
group's KPIs combined over its districts in scope only).

Every group and district carries its ``status`` and the ``reason`` for it (the one rule of
:mod:`dashboards.status`; a group also its status per district, ``by_district``): the wall
and the summary page show these and compute none of their own.

Pure and synchronous. The city-wide summary reuses the state's cached trend points; a scoped
one computes its (few) series from the state's trends.

>>> from dashboards.state import State
>>> from archive.accounts import Scope
>>> from ioc.events import GroupIndicator
>>> st = State()
>>> for d, depth in (("Hai Chau", 31.0), ("Lien Chieu", 4.0)):
...     _ = st.apply(GroupIndicator(group="flooding", district=d, start=0.0, end=60.0,
...         sources_reporting=6, sources_expected=6, sources_in_breach=0, open_alerts={},
...         kpis={"max_depth": depth}))
>>> mine = summarize(st, Scope(("Lien Chieu",), ("flooding",)))
>>> [g["kpis"] for g in mine["groups"]], [d["district"] for d in mine["districts"]]
([{'max_depth': 4.0}], ['Lien Chieu'])
>>> [g["kpis"] for g in summarize(st)["groups"] if g["group"] == "flooding"]
[{'max_depth': 31.0}]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from archive.accounts import Scope
from dashboards import scope as scoping
from dashboards import status as rule
from dashboards.trends import DistrictPoints, GroupPoints, combine
from ioc import catalog
from ioc.errors import ValidationError
from ioc.events import SEVERITIES, GroupIndicator

if TYPE_CHECKING:
    from dashboards.state import State

__all__ = ["summarize"]

_RANK = {s: i for i, s in enumerate(SEVERITIES)}
Mine = Callable[[str, str], bool]   # (district, group) -> whether the summary counts it
Cells = dict[tuple[str, str], rule.Facts]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _scoped_points(state: State, scope: Scope) -> tuple[GroupPoints, DistrictPoints]:
    """The trend points of ``state.summary`` restricted to the series in ``scope``."""
    floor = int((state.as_of - state.span_s) // state.bucket_s)
    per_group: dict[str, dict[int, list[GroupIndicator]]] = {}
    district_points: DistrictPoints = {}
    for (slug, district), series in state.trends.items():
        if not scope.allows(district=district, group=slug):
            continue
        sums = district_points.setdefault(district, {})
        for bucket, gi in series.items():
            if bucket > floor:
                per_group.setdefault(slug, {}).setdefault(bucket, []).append(gi)
                alerts, breach = sums.get(bucket, (0, 0))
                sums[bucket] = (alerts + sum(gi.open_alerts.values()),
                                breach + gi.sources_in_breach)
    group_points: GroupPoints = {
        slug: {b: combine(slug, gis)["kpis"] for b, gis in buckets.items()}
        for slug, buckets in per_group.items()}
    return group_points, district_points


def _statuses(state: State, alerts: list[Any], mine: Mine) -> Cells:
    """The status facts of every (group, district) cell ``mine`` allows that has data or
    alerts: worst open city alert not silenced, sources, and how long data has arrived."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for a in alerts:
        cell = cells.setdefault((a.group, a.district), {"sev": [], "alerts": 0})
        cell["alerts"] += 1
        if a.category != "sensor_health" and a.status != "silenced":
            cell["sev"].append(a.severity)
    out: dict[tuple[str, str], rule.Facts] = {}
    for key in set(cells) | set(state.latest):
        if not mine(key[1], key[0]):
            continue
        gi = state.latest.get(key)
        series = state.trends.get(key)
        first = min(series) * state.bucket_s if series else None
        cell = cells.get(key, {"sev": [], "alerts": 0})
        try:
            g = catalog.group(key[0])
            window_s = float(g.window_s)
            # sources that report events (tickets, dossiers) are quiet in a window without
            # any: that is not a source missing, so such a group's reporting counts are whole
            events = all(k.heartbeat.counted for k in g.source_kinds)
        except ValidationError:  # an alert of a group the catalog lost: the default grace
            window_s, events = 0.0, False
        out[key] = rule.Facts(
            worst=rule.worst_of(cell["sev"]), alerts=cell["alerts"],
            reporting=(gi.sources_expected if events else gi.sources_reporting) if gi else 0,
            expected=gi.sources_expected if gi else 0,
            in_breach=gi.sources_in_breach if gi else 0,
            age_s=None if first is None else max(0.0, state.as_of - first),
            grace_s=rule.grace_for(window_s))
    return out


def _merged(facts: list[rule.Facts]) -> rule.Facts:
    """The facts of a group or a district: its cells' facts combined."""
    ages = [f.age_s for f in facts if f.age_s is not None]
    return rule.Facts(
        worst=rule.worst_of([f.worst for f in facts if f.worst]),
        reporting=sum(f.reporting for f in facts), expected=sum(f.expected for f in facts),
        in_breach=sum(f.in_breach for f in facts), alerts=sum(f.alerts for f in facts),
        age_s=max(ages) if ages else None,
        grace_s=max((f.grace_s for f in facts), default=rule.GRACE_MIN_S))


class _Open(NamedTuple):
    """The open alerts of a summary counted by severity, group, district and category, with
    the worst severity per group and per district."""

    total: int
    by_severity: dict[str, int]
    by_group: Counter[str]
    by_district: Counter[str]
    by_category: Counter[str]
    worst_group: dict[str, str]
    worst_district: dict[str, str]


def _open_alerts(alerts: list[Any]) -> _Open:
    out = _Open(len(alerts), dict.fromkeys(SEVERITIES, 0), Counter(), Counter(), Counter(),
                {}, {})
    for a in alerts:
        out.by_severity[a.severity] = out.by_severity.get(a.severity, 0) + 1
        out.by_group[a.group] += 1
        out.by_district[a.district] += 1
        out.by_category[a.category] += 1
        for worst, key in ((out.worst_group, a.group), (out.worst_district, a.district)):
            held = worst.get(key)
            if held is None or _RANK[a.severity] > _RANK[held]:
                worst[key] = a.severity
    return out


class _Day(NamedTuple):
    """The last 24 hours' alert events: opened by severity and detector, the times to
    acknowledge and to resolve (city-wide and per group)."""

    opened: dict[str, int]
    noisy: Counter[str]
    acks: list[float]
    fixes: list[float]
    group_acks: dict[str, list[float]]
    group_fixes: dict[str, list[float]]


def _last_day(state: State, mine: Mine) -> _Day:
    day = _Day(dict.fromkeys(SEVERITIES, 0), Counter(), [], [], {}, {})
    for e in state.events:
        if not mine(e.district, e.group):
            continue
        if e.what == "opened":
            day.opened[e.severity] = day.opened.get(e.severity, 0) + 1
            day.noisy[e.detector] += 1
        elif e.what == "acknowledged":
            day.acks.append(e.seconds)
            day.group_acks.setdefault(e.group, []).append(e.seconds)
        else:
            day.fixes.append(e.seconds)
            day.group_fixes.setdefault(e.group, []).append(e.seconds)
    return day


def _groups(state: State, scope: Scope, mine: Mine, open_: _Open, day: _Day,
            points: GroupPoints, cells: Cells) -> list[dict[str, Any]]:
    """One entry per catalog group in ``scope``: figures, KPIs, trend and status."""
    latest: dict[str, list[GroupIndicator]] = {}
    for (slug, district), gi in state.latest.items():
        if mine(district, slug):
            latest.setdefault(slug, []).append(gi)
    groups = []
    for g in catalog.CATALOG:
        if not scope.city_wide and not scope.allows(group=g.slug):
            continue
        combined = combine(g.slug, latest.get(g.slug, []))
        trend = points.get(g.slug, {})
        groups.append({
            "group": g.slug, "name": g.name, "open_alerts": open_.by_group.get(g.slug, 0),
            "worst_severity": open_.worst_group.get(g.slug),
            "sources_reporting": combined["sources_reporting"],
            "sources_expected": combined["sources_expected"],
            "sources_in_breach": combined["sources_in_breach"], "kpis": combined["kpis"],
            "mtta_s": _mean(day.group_acks.get(g.slug, [])),
            "mttr_s": _mean(day.group_fixes.get(g.slug, [])),
            "trend": [{"t": b * state.bucket_s, "kpis": dict(trend[b])}
                      for b in sorted(trend)],
            **rule.judge(_merged([f for k, f in cells.items() if k[0] == g.slug])).body(),
            "by_district": {k[1]: rule.judge(f).status for k, f in sorted(cells.items())
                            if k[0] == g.slug},
        })
    return groups


def _districts(state: State, scope: Scope, mine: Mine, open_: _Open, points: DistrictPoints,
               cells: Cells) -> list[dict[str, Any]]:
    """One entry per catalog district in ``scope``: figures, trend and status."""
    latest: dict[str, list[GroupIndicator]] = {}
    for (slug, district), gi in state.latest.items():
        if mine(district, slug):
            latest.setdefault(district, []).append(gi)
    districts = []
    for d in catalog.DISTRICTS:
        if not scope.city_wide and not scope.allows(district=d.name):
            continue
        here = latest.get(d.name, [])
        sums = points.get(d.name, {})
        districts.append({
            "district": d.name, "open_alerts": open_.by_district.get(d.name, 0),
            "worst_severity": open_.worst_district.get(d.name),
            "sources_reporting": sum(gi.sources_reporting for gi in here),
            "sources_expected": sum(gi.sources_expected for gi in here),
            "sources_in_breach": sum(gi.sources_in_breach for gi in here),
            "trend": [{"t": b * state.bucket_s, "open_alerts": sums[b][0],
                       "sources_in_breach": sums[b][1]} for b in sorted(sums)],
            **rule.judge(_merged([f for k, f in cells.items() if k[1] == d.name])).body(),
        })
    return districts


def summarize(state: State, scope: Scope = scoping.CITY) -> dict[str, Any]:
    """The summary body of ``state`` as ``scope`` sees it (the whole city by default)."""
    city = scope.city_wide

    def mine(district: str, group: str) -> bool:
        return city or scope.allows(district=district, group=group)

    alerts = [a for a in state.alerts.values() if mine(a.district, a.group)]
    open_ = _open_alerts(alerts)
    day = _last_day(state, mine)
    group_points, district_points = state.trend_points() if city else \
        _scoped_points(state, scope)
    cells = _statuses(state, alerts, mine)
    incidents = len(state.incidents) if city else sum(
        scoping.narrow_incident(i, scope) is not None for i in state.incidents.values())
    body: dict[str, Any] = {
        "type": "summary", "as_of": state.as_of or None,
        "open_alerts": {"total": open_.total, "by_severity": open_.by_severity,
                        "by_group": dict(open_.by_group),
                        "by_category": dict(open_.by_category)},
        "open_incidents": incidents,
        "last_24h": {
            "opened": sum(day.opened.values()), "by_severity": day.opened,
            "acknowledged": len(day.acks), "resolved": len(day.fixes),
            "mtta_s": _mean(day.acks), "mttr_s": _mean(day.fixes),
            "noisiest_detectors": [{"detector": name, "opened": n}
                                   for name, n in day.noisy.most_common(5)],
        },
        "groups": _groups(state, scope, mine, open_, day, group_points, cells),
        "districts": _districts(state, scope, mine, open_, district_points, cells),
    }
    if not city:
        body["scope"] = {"districts": list(scope.districts), "groups": list(scope.groups)}
    return body
