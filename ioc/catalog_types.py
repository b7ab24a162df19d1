"""What the catalog is made of: metrics, source kinds, sources, KPIs and service groups, the
names of the built-in detectors the metrics list, and where each source stands.

The data itself (the 15 groups) is :mod:`ioc.catalog_data`; read it through :mod:`ioc.catalog`.

>>> spec = MetricSpec("level", "cm", "measure", 10.0, (0.0, 20.0), (0.0, 400.0), (STUCK,),
...                   breach_above=30.0)
>>> spec.in_breach(31.0), spec.physically_possible(500.0)
(True, False)
>>> SourceKind("gauge", "g", 1, 10.0, (spec,)).heartbeat.detectors
('stuck', 'silence')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from ioc.districts import MAINLAND, district
from ioc.errors import ValidationError

__all__ = ["ADAPTIVE", "COUNT_SURGE", "CUSUM", "DIRECTIONS", "EWMA", "FLAT", "ISOLATION_FOREST",
           "PHYSICAL_RANGE", "ROBUST_Z", "SEASONAL", "SILENCE", "STUCK", "THRESHOLD", "Direction",
           "Kpi", "MetricKind", "MetricSpec", "ServiceGroup", "Source", "SourceKind", "daily_shape",
           "hash_name", "place_sources"]

MetricKind = Literal["measure", "count"]
#: which side of a metric's baseline harms the city: "high" (PM2.5), "low" (camera uptime)
#: or "both" (water pH); alerts of city detectors follow it (see :mod:`detectors.direction`)
Direction = Literal["high", "low", "both"]
DIRECTIONS: tuple[Direction, ...] = ("high", "low", "both")

# Names of the built-in detectors (registered through the ``ioc.detectors`` entry points).
THRESHOLD = "threshold"            # static breach threshold from this catalog
PHYSICAL_RANGE = "physical_range"  # sensor health: value outside what the sensor can read
ROBUST_Z = "robust_z"              # median/MAD z-score over a rolling window
EWMA = "ewma"                      # level shift
CUSUM = "cusum"                    # slow drift / level shift
SEASONAL = "seasonal"              # learned hour-of-day x weekday baseline (opt-in: the
#                                    catalog rhythm below already feeds rhythm-aware detectors)
STUCK = "stuck"                    # sensor health: flatline
SILENCE = "silence"                # sensor health: a source stops reporting
COUNT_SURGE = "count_surge"        # Poisson-aware surge of counted events
ISOLATION_FOREST = "isolation_forest"  # multivariate over a group's metrics
ADAPTIVE = "adaptive"              # the NAB-tuned detector of our own design


def daily_shape(points: dict[int, float]) -> tuple[float, ...]:
    """Interpolate a 24-hour profile from a few (hour -> multiplier) anchor points."""
    hours = sorted(points)
    out = []
    for h in range(24):
        lo = max((x for x in hours if x <= h), default=hours[-1] - 24)
        hi = min((x for x in hours if x > h), default=hours[0] + 24)
        f = (h - lo) / (hi - lo)
        out.append(round(points[lo % 24] * (1 - f) + points[hi % 24] * f, 3))
    return tuple(out)


FLAT = tuple(1.0 for _ in range(24))


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric of a source kind.

    ``base`` is the typical level (for counted metrics: events per minute per source);
    ``normal`` the range an operator considers normal; ``physical`` the range a healthy
    sensor can report; ``noise`` the relative standard deviation of normal variation.
    """

    name: str
    unit: str
    kind: MetricKind
    base: float
    normal: tuple[float, float]
    physical: tuple[float, float]
    detectors: tuple[str, ...]
    daily: tuple[float, ...] = FLAT
    weekend: float = 1.0
    noise: float = 0.05
    breach_above: float | None = None
    breach_below: float | None = None
    event_kinds: tuple[str, ...] = ()
    description: str = ""
    harmful: Direction = "both"

    def __post_init__(self) -> None:
        if self.harmful not in DIRECTIONS:
            raise ValidationError("harmful", f"metric {self.name!r}: harmful must be one of "
                                  f"{', '.join(DIRECTIONS)}, got {self.harmful!r}")

    @property
    def counted(self) -> bool:
        """True for counted service events (a window's value is its count)."""
        return self.kind == "count"

    def expected(self, ts: float) -> float:
        """The normal level at epoch time ``ts`` (UTC+7, Da Nang local time)."""
        local = ts + 7 * 3600
        hour = int(local // 3600) % 24
        weekday = int(local // 86400 + 3) % 7  # 1970-01-01 was a Thursday (3)
        level = self.base * self.daily[hour]
        return level * self.weekend if weekday >= 5 else level

    def rhythm(self, ts: float) -> float:
        """The expected level at ``ts`` relative to ``base``: the city's daily and weekly
        rhythm for this metric (1.0 for a flat metric).

        >>> from ioc.catalog import group
        >>> round(group("traffic").metric("volume").rhythm(1_795_395_600.0), 2)  # Mon 08:00
        1.45
        """
        return self.expected(ts) / self.base if self.base > 0 else 1.0

    def in_breach(self, value: float) -> bool:
        """True when ``value`` crosses the static breach threshold."""
        return (self.breach_above is not None and value > self.breach_above) or (
            self.breach_below is not None and value < self.breach_below
        )

    def physically_possible(self, value: float) -> bool:
        """True when a healthy sensor could report ``value``."""
        return math.isfinite(value) and self.physical[0] <= value <= self.physical[1]


@dataclass(frozen=True, slots=True)
class Source:
    """One sensor, vehicle, station or service channel."""

    id: str
    group: str
    kind: str
    district: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class SourceKind:
    """A kind of source within a group, e.g. the rain gauges of the flooding group."""

    name: str
    prefix: str
    per_district: int
    cadence_s: float
    metrics: tuple[MetricSpec, ...]
    districts: tuple[str, ...] = MAINLAND
    description: str = ""

    def __post_init__(self) -> None:
        # A source's silence is watched on its first metric (its heartbeat), so one silent
        # source raises one alert, not one per metric.
        first = self.metrics[0]
        if SILENCE not in first.detectors:
            beat = replace(first, detectors=(*first.detectors, SILENCE))
            object.__setattr__(self, "metrics", (beat, *self.metrics[1:]))

    @property
    def heartbeat(self) -> MetricSpec:
        """The metric whose silence stands for the whole source's silence."""
        return self.metrics[0]


@dataclass(frozen=True, slots=True)
class Kpi:
    """A group indicator computed from one window of the group's metrics in a district.

    ``op`` is one of ``sum`` (sum of the metric's window values), ``max``, ``mean``,
    ``breach`` (sources in breach of the metric), ``ratio`` (sum of ``metric`` over the sum of
    ``metric`` and ``other``, in percent).
    """

    name: str
    label: str
    op: Literal["sum", "max", "mean", "breach", "ratio"]
    metric: str
    unit: str = ""
    other: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceGroup:
    """One of the 15 smart service groups."""

    number: int
    slug: str
    name: str
    description: str
    source_kinds: tuple[SourceKind, ...]
    kpis: tuple[Kpi, ...]
    window_s: int = 60
    metrics_by_name: dict[str, MetricSpec] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        table = {m.name: m for k in self.source_kinds for m in k.metrics}
        object.__setattr__(self, "metrics_by_name", table)

    @property
    def metrics(self) -> tuple[MetricSpec, ...]:
        """Every metric of every source kind, in catalog order."""
        return tuple(self.metrics_by_name.values())

    def metric(self, name: str) -> MetricSpec:
        """The metric called ``name``; ValidationError if this group has none."""
        try:
            return self.metrics_by_name[name]
        except KeyError:
            known = ", ".join(self.metrics_by_name)
            raise ValidationError(
                "metric", f"unknown metric {name!r} for group {self.slug!r} (known: {known})"
            ) from None

    def sources(self) -> tuple[Source, ...]:
        """Every source of the group, deterministic ids like ``rain-HC-01``."""
        placed = _PLACED.get(self.slug)
        if placed is None:
            placed = _PLACED[self.slug] = place_sources(self.slug, self.source_kinds)
        return placed


_PLACED: dict[str, tuple[Source, ...]] = {}  # sources per group slug, placed once


def place_sources(slug: str, kinds: tuple[SourceKind, ...]) -> tuple[Source, ...]:
    """The sources of group ``slug``: ``per_district`` of each kind in each of its districts,
    spread around the district centre, the same in every process.

    >>> kind = SourceKind("gauge", "rain", 2, 10.0, (
    ...     MetricSpec("rainfall", "mm/h", "measure", 1.5, (0.0, 8.0), (0.0, 300.0), ()),),
    ...     districts=("Hai Chau",))
    >>> [s.id for s in place_sources("flooding", (kind,))]
    ['rain-HC-01', 'rain-HC-02']
    """
    out: list[Source] = []
    for kind in kinds:
        for dname in kind.districts:
            d = district(dname)
            for i in range(1, kind.per_district + 1):
                # spread sources around the district centre, deterministically
                angle = (hash_name(f"{kind.prefix}{d.code}{i}") % 360) * math.pi / 180
                radius = 0.004 + 0.003 * i
                out.append(Source(
                    id=f"{kind.prefix}-{d.code}-{i:02d}", group=slug, kind=kind.name,
                    district=d.name, lat=round(d.lat + radius * math.sin(angle), 5),
                    lon=round(d.lon + radius * math.cos(angle), 5)))
    return tuple(out)


def hash_name(text: str) -> int:
    """A stable (process-independent) small hash of ``text``.

    >>> hash_name("rain-HC-01") == hash_name("rain-HC-01")
    True
    """
    h = 2166136261
    for ch in text.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h
