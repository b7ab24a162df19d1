"""The 15 smart service groups of Da Nang's IOC: one source of truth.

The simulator, the workers and the dashboards all read this module. A group has one or more
*source kinds* (a rain gauge, a flood-depth tower, ...); each kind has a number of sources per
district, a cadence, and its metrics. A metric is either *measured* (a numeric value with a
unit) or *counted* (service events, counted per window). For each metric the catalog gives the
normal range, the physical range (outside it the sensor is broken, not the city), the daily and
weekly shape, the static breach threshold and the detectors that fit it.

This module is the front and the lookups; the districts are :mod:`ioc.districts`, what an
entry is :mod:`ioc.catalog_types`, and the 15 groups themselves :mod:`ioc.catalog_data`.

>>> len(CATALOG)
15
>>> g = group("flooding")
>>> g.name, g.window_s
('Rainfall & urban flooding', 60)
>>> m = g.metric("flood_depth")
>>> m.unit, m.breach_above, m.physical
('cm', 20.0, (0.0, 400.0))
>>> sources = g.sources()
>>> sources[0].id, sources[0].district
('rain-HC-01', 'Hai Chau')
"""

from __future__ import annotations

from ioc.catalog_data import (
    CATALOG,
    COMMUTE,
    COMMUTE_DIP,
    DAYTIME,
    EVENING,
    EVENTS,
    GROUP_NAMES_VI,
    KIND_NAMES,
    KPI_NAMES_VI,
    LEVEL,
    METRIC_NAMES,
    OFFICE,
    PHOTOSYNTHESIS,
    POLLUTION,
    SENSOR,
    SUNLIGHT,
)
from ioc.catalog_types import (
    ADAPTIVE,
    COUNT_SURGE,
    CUSUM,
    DIRECTIONS,
    EWMA,
    FLAT,
    ISOLATION_FOREST,
    PHYSICAL_RANGE,
    ROBUST_Z,
    SEASONAL,
    SILENCE,
    STUCK,
    THRESHOLD,
    Direction,
    Kpi,
    MetricKind,
    MetricSpec,
    ServiceGroup,
    Source,
    SourceKind,
    hash_name,
)
from ioc.districts import COASTAL, DISTRICT_NAMES, DISTRICTS, MAINLAND, District, district
from ioc.errors import ValidationError

__all__ = [
    "ADAPTIVE",
    "CATALOG",
    "COASTAL",
    "COMMUTE",
    "COMMUTE_DIP",
    "COUNT_SURGE",
    "CUSUM",
    "DAYTIME",
    "DIRECTIONS",
    "DISTRICTS",
    "DISTRICT_NAMES",
    "EVENING",
    "EVENTS",
    "EWMA",
    "FLAT",
    "GROUPS",
    "GROUP_NAMES_VI",
    "GROUP_SLUGS",
    "ISOLATION_FOREST",
    "KIND_NAMES",
    "KPI_NAMES_VI",
    "LEVEL",
    "MAINLAND",
    "METRIC_NAMES",
    "OFFICE",
    "PHOTOSYNTHESIS",
    "PHYSICAL_RANGE",
    "POLLUTION",
    "ROBUST_Z",
    "SEASONAL",
    "SENSOR",
    "SILENCE",
    "STUCK",
    "SUNLIGHT",
    "THRESHOLD",
    "Direction",
    "District",
    "Kpi",
    "MetricKind",
    "MetricSpec",
    "ServiceGroup",
    "Source",
    "SourceKind",
    "all_sources",
    "district",
    "group",
    "hash_name",
    "source_kind_of",
]

GROUPS: dict[str, ServiceGroup] = {g.slug: g for g in CATALOG}
GROUP_SLUGS: tuple[str, ...] = tuple(GROUPS)


def group(slug: str) -> ServiceGroup:
    """The service group called ``slug``; ValidationError naming the known slugs otherwise."""
    try:
        return GROUPS[slug]
    except KeyError:
        raise ValidationError(
            "group", f"unknown group {slug!r} (known: {', '.join(GROUP_SLUGS)})"
        ) from None


def source_kind_of(slug: str, metric: str) -> SourceKind:
    """The source kind of ``group`` that reports ``metric``."""
    for kind in group(slug).source_kinds:
        if any(m.name == metric for m in kind.metrics):
            return kind
    raise ValidationError("metric", f"unknown metric {metric!r} for group {slug!r}")


def all_sources() -> tuple[Source, ...]:
    """Every source of every group."""
    return tuple(s for g in CATALOG for s in g.sources())
