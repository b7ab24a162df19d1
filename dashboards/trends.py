"""The 24-hour trends of the indicators: one :class:`~ioc.events.GroupIndicator` per (group,
district) and 5-minute bucket, a group's figures combined across districts
(:func:`combine`), and the summary's trend points kept up to date bucket by bucket. Pure and
synchronous; time is event time (the state's ``as_of``).

>>> from ioc.events import GroupIndicator
>>> t = Trends(bucket_s=300.0, span_s=86_400.0)
>>> t.put(GroupIndicator(group="flooding", district="Hai Chau", start=600.0, end=660.0,
...     sources_reporting=6, sources_expected=6, sources_in_breach=1, open_alerts={},
...     kpis={"max_depth": 31.0}), as_of=660.0)
>>> t.history("flooding", "Hai Chau", None, as_of=660.0)["points"][0]["t"]
600.0
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from typing import Any

from ioc import catalog
from ioc.events import GroupIndicator

Series = dict[int, GroupIndicator]       # bucket -> the indicator of that bucket
GroupPoints = dict[str, dict[int, dict[str, float]]]
DistrictPoints = dict[str, dict[int, tuple[int, int]]]


def _combine_ops(group: str) -> dict[str, str]:
    """How each KPI of a group combines across districts: sum, max or mean."""
    try:
        kpis = catalog.group(group).kpis
    except Exception:  # an unknown group still shows, combined by mean
        return {}
    table = {"sum": "sum", "breach": "sum", "max": "max", "mean": "mean", "ratio": "mean"}
    return {k.name: table[k.op] for k in kpis}


def combine(group: str, indicators: Iterable[GroupIndicator]) -> dict[str, Any]:
    """City-wide figures of a group from one indicator per district.

    >>> from ioc.events import GroupIndicator
    >>> def gi(d, depth, points):
    ...     return GroupIndicator(group="flooding", district=d, start=0.0, end=60.0,
    ...         sources_reporting=5, sources_expected=6, sources_in_breach=points,
    ...         open_alerts={"major": points}, kpis={"max_depth": depth,
    ...                                               "flooded_points": points})
    >>> combine("flooding", [gi("Hai Chau", 31.0, 2), gi("Son Tra", 12.0, 1)])["kpis"]
    {'max_depth': 31.0, 'flooded_points': 3.0}
    """
    ops = _combine_ops(group)
    values: dict[str, list[float]] = {}
    reporting = expected = breach = alerts = 0
    for gi in indicators:
        reporting += gi.sources_reporting
        expected += gi.sources_expected
        breach += gi.sources_in_breach
        alerts += sum(gi.open_alerts.values())
        for name, value in gi.kpis.items():
            if math.isfinite(value):
                values.setdefault(name, []).append(value)
    kpis: dict[str, float] = {}
    for name, vals in values.items():
        op = ops.get(name, "mean")
        kpis[name] = float(sum(vals)) if op == "sum" else (
            max(vals) if op == "max" else sum(vals) / len(vals))
    return {"kpis": kpis, "sources_reporting": reporting, "sources_expected": expected,
            "sources_in_breach": breach, "open_alerts": alerts}


class Trends:
    """The indicator of every bucket of the last ``span_s`` seconds, per (group, district)."""

    def __init__(self, *, bucket_s: float, span_s: float) -> None:
        self.bucket_s = bucket_s
        self.span_s = span_s
        self.series: dict[tuple[str, str], Series] = {}
        # the summary's trend points, per bucket, recomputed only for the buckets touched
        # since the last summary (a day of indicators is ~35,000 records)
        self._districts_of: dict[str, set[str]] = {}   # group -> districts with a series
        self._groups_in: dict[str, set[str]] = {}      # district -> groups with a series
        self._dirty_groups: set[tuple[str, int]] = set()
        self._dirty_districts: set[tuple[str, int]] = set()
        self._group_points: GroupPoints = {}
        self._district_points: DistrictPoints = {}

    def floor(self, as_of: float) -> int:
        """The newest bucket too old to show at ``as_of``."""
        return int((as_of - self.span_s) // self.bucket_s)

    def put(self, gi: GroupIndicator, *, as_of: float) -> None:
        """Keep the newest indicator of its series (buckets older than the span go)."""
        series = self._series_of(gi)
        bucket = int(gi.start // self.bucket_s)
        series[bucket] = gi
        self._touch(gi, bucket)
        if len(series) > self.span_s / self.bucket_s + 2:
            floor = self.floor(as_of)
            for old in [b for b in series if b < floor]:
                del series[old]

    def fill(self, gi: GroupIndicator) -> None:
        """A late indicator (older than its series' newest) still fills a hole."""
        series = self._series_of(gi)
        bucket = int(gi.start // self.bucket_s)
        if bucket not in series:
            series[bucket] = gi
            self._touch(gi, bucket)

    def _series_of(self, gi: GroupIndicator) -> Series:
        key = (gi.group, gi.district)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = {}
            self._districts_of.setdefault(gi.group, set()).add(gi.district)
            self._groups_in.setdefault(gi.district, set()).add(gi.group)
        return series

    def _touch(self, gi: GroupIndicator, bucket: int) -> None:
        self._dirty_groups.add((gi.group, bucket))
        self._dirty_districts.add((gi.district, bucket))

    def history(self, group: str, district: str | None, districts: Collection[str] | None,
                *, as_of: float) -> dict[str, Any]:
        """The trend of a group in one district (or city-wide when ``district`` is None:
        over ``districts`` only, when given), one point per bucket, oldest first."""
        floor = self.floor(as_of)
        points: list[dict[str, Any]] = []
        if district is not None:
            series = self.series.get((group, district), {})
            for bucket in sorted(b for b in series if b > floor):
                gi = series[bucket]
                points.append({"t": bucket * self.bucket_s, "kpis": dict(gi.kpis),
                               "sources_reporting": gi.sources_reporting,
                               "sources_expected": gi.sources_expected,
                               "sources_in_breach": gi.sources_in_breach,
                               "open_alerts": sum(gi.open_alerts.values())})
        else:
            by_bucket: dict[int, list[GroupIndicator]] = {}
            for (g, d), series in self.series.items():
                if g != group or (districts is not None and d not in districts):
                    continue
                for bucket, gi in series.items():
                    if bucket > floor:
                        by_bucket.setdefault(bucket, []).append(gi)
            for bucket in sorted(by_bucket):
                points.append({"t": bucket * self.bucket_s,
                               **combine(group, by_bucket[bucket])})
        return {"group": group, "district": district, "bucket_s": self.bucket_s,
                "points": points}

    def points(self, *, as_of: float) -> tuple[GroupPoints, DistrictPoints]:
        """The points of the span: per group its city-wide KPIs (as ``history(group,
        None)``), per district the open alerts and sources in breach summed over its groups.
        Only buckets touched since the last call are recomputed; older buckets are dropped."""
        floor = self.floor(as_of)
        for slug, bucket in self._dirty_groups:
            if bucket > floor:
                here = [series[bucket] for d in self._districts_of.get(slug, ())
                        if bucket in (series := self.series[(slug, d)])]
                self._group_points.setdefault(slug, {})[bucket] = combine(slug, here)["kpis"]
        for district, bucket in self._dirty_districts:
            if bucket > floor:
                alerts = breach = 0
                for slug in self._groups_in.get(district, ()):
                    gi = self.series[(slug, district)].get(bucket)
                    if gi is not None:
                        alerts += sum(gi.open_alerts.values())
                        breach += gi.sources_in_breach
                self._district_points.setdefault(district, {})[bucket] = (alerts, breach)
        self._dirty_groups.clear()
        self._dirty_districts.clear()
        for cache in (self._group_points, self._district_points):
            for points in cache.values():
                if points and min(points) <= floor:
                    for old in [b for b in points if b <= floor]:
                        del points[old]
        return self._group_points, self._district_points
