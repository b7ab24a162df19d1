"""The multivariate anomaly: each metric within its normal range, the combination abnormal.

A ``mix`` injection on (source, metric) moves ``metric`` up and its *partners* down, each by
:data:`MIX_SIGMAS` per-reading standard deviations. The partners are the source kind's other
measured metrics that follow the same daily shape (they normally move together), else the
next one. For an air station on PM2.5 that is PM2.5 up by about a third, PM10 and AQI down
by a third: each stays inside the catalog's normal range, but PM2.5 is then almost as high as
PM10 (fine particles are a part of PM10) and the AQI falls while PM2.5 rises. Only a
detector that looks at the metrics together sees it: the worker's ``isolation_forest``.

>>> a = place_mix("environment", "air-HC-01", "pm25", 1795410000)
>>> a.kind, partners(a), a.end - a.start
('mix', ('pm10', 'aqi'), 720.0)
>>> mix_offset(a, a.start, 2.0, "pm25"), mix_offset(a, a.start, 4.0, "pm10")
(7.0, -14.0)
>>> mix_offset(a, a.start, 5.0, "no2"), mix_offset(a, a.end, 2.4, "pm25")
(0.0, 0.0)
"""

from __future__ import annotations

from functools import cache

from ioc import catalog
from ioc.errors import UsageError
from ioc.truth import Anomaly

__all__ = ["MIX", "MIX_SIGMAS", "MIX_WINDOWS", "mix_offset", "partners", "place_mix"]

MIX = "mix"
MIX_SIGMAS = 3.5
MIX_WINDOWS = 12


@cache
def _measured(group: str, source: str) -> tuple[catalog.MetricSpec, ...]:
    for s in catalog.group(group).sources():
        if s.id == source:
            for k in catalog.group(group).source_kinds:
                if k.name == s.kind:
                    return tuple(m for m in k.metrics if not m.counted)
    raise UsageError(f"unknown source {source!r} in group {group!r}")


@cache
def _partners(group: str, source: str, metric: str) -> tuple[str, ...]:
    specs = _measured(group, source)
    names = [m.name for m in specs]
    me = specs[names.index(metric)]
    same = tuple(m.name for m in specs if m.name != metric and m.daily == me.daily)
    return same or (names[(names.index(metric) + 1) % len(names)],)


def partners(a: Anomaly) -> tuple[str, ...]:
    """The metrics a mix moves the other way."""
    return _partners(a.group, a.source, a.metric)


def place_mix(group: str, source: str, metric: str, start: float,
              windows: int = MIX_WINDOWS) -> Anomaly:
    """A mix injection on ``metric`` of ``source`` for ``windows`` windows."""
    names = [m.name for m in _measured(group, source)]
    if len(names) < 2 or metric not in names:
        raise UsageError(f"a mix needs a measured metric of a source measuring two or more: "
                         f"{source!r} measures {list(names)}")
    src = next(s for s in catalog.group(group).sources() if s.id == source)
    w = catalog.group(group).window_s
    return Anomaly(group, source, metric, MIX, float(start), float(start + windows * w),
                   src.district, 1)


def mix_offset(a: Anomaly, ts: float, sigma: float, metric: str) -> float:
    """What a mix adds to a reading of ``metric`` at ``ts`` (per-reading sd ``sigma``)."""
    if a.kind != MIX or not a.active(ts):
        return 0.0
    if metric == a.metric:
        return MIX_SIGMAS * sigma
    if metric in partners(a):
        return -MIX_SIGMAS * sigma
    return 0.0
