"""What the city simulator keeps per source and per (source, metric): cadence and phase,
topic, position, and the level each metric follows.

Everything derives from :mod:`ioc.catalog` and stable hashes of names, never from the seed:
a source's phase, offsets and loop are the same in every run.

>>> src = catalog.group("public_transport").sources()[0]
>>> kind = {k.name: k for k in catalog.group("public_transport").source_kinds}[src.kind]
>>> state = SourceState(src, kind, 0, "ioc")
>>> state.topic, state.pack, [x.name for x in state.measured]
('ioc.public_transport.events', True, ['delay', 'headway', 'speed'])
>>> state.position(0.0) == state.position(3600.0)
True
"""

from __future__ import annotations

import math

from ioc import catalog, topics
from ioc.errors import UsageError
from ioc.tools.messages import prefixed

__all__ = ["INTEGER_UNITS", "MOBILE", "PACK_KINDS", "Series", "SourceState", "offset_factor"]

# Source kinds that send one tick's readings (and the events since the last tick) as a pack.
PACK_KINDS: frozenset[str] = frozenset({"bus", "vessel", "soc_sensor"})
# Moving sources: radius (degrees) and period (s) of their loop around the home position.
MOBILE: dict[str, tuple[float, float]] = {
    "vehicle": (0.012, 1800.0), "bus": (0.015, 3600.0), "vessel": (0.25, 43200.0),
}
# Metrics counted in whole units.
INTEGER_UNITS: frozenset[str] = frozenset({"pumps", "systems"})


def offset_factor(group: str, district: str, metric: str, source: str = "") -> float:
    """The multiplier that makes districts (and sources) differ, stable across runs and seeds.

    Measured metrics move at most 8% (less when their normal range is narrow); counted
    metrics up to 20% per district. Sources add a third of that again.

    >>> offset_factor("traffic", "Hai Chau", "volume") == offset_factor("traffic", "Hai Chau",
    ...                                                                 "volume")
    True
    >>> offset_factor("traffic", "Hai Chau", "volume") != offset_factor("traffic", "Son Tra",
    ...                                                                 "volume")
    True
    """
    spec = catalog.group(group).metric(metric)
    if spec.counted:
        amp = 0.2
    else:
        lo, hi = spec.normal
        base = abs(spec.base) or 1.0
        amp = max(0.0, min(0.08, 0.5 * (hi - spec.base) / base, 0.5 * (spec.base - lo) / base))
    u = catalog.hash_name(f"{group}:{district}:{metric}") / 0xFFFFFFFF
    factor = 1.0 + amp * (2.0 * u - 1.0)
    if source:
        v = catalog.hash_name(f"{source}:{metric}") / 0xFFFFFFFF
        factor *= 1.0 + amp / 3.0 * (2.0 * v - 1.0)
    return factor


class Series:
    """One (source, metric) the simulator keeps a level for."""

    __slots__ = ("factor", "index", "kinds", "level", "name", "rounding", "spec", "unit",
                 "weights")

    def __init__(self, index: int, spec: catalog.MetricSpec, factor: float) -> None:
        self.index = index
        self.spec = spec
        self.name = spec.name
        self.unit = spec.unit
        self.factor = factor
        self.level = 0.0
        self.rounding = 0 if spec.unit in INTEGER_UNITS else 3
        self.kinds = spec.event_kinds
        raw = [1.0 / (i + 1) ** 1.5 for i in range(len(spec.event_kinds))]
        total = sum(raw) or 1.0
        acc, cum = 0.0, []
        for w in raw:
            acc += w / total
            cum.append(acc)
        self.weights = cum

    def pick_kind(self, u: float) -> str:
        """The event kind for a uniform draw ``u`` in [0, 1): earlier kinds are likelier."""
        for kind, edge in zip(self.kinds, self.weights, strict=True):
            if u < edge:
                return kind
        return self.kinds[-1]


class SourceState:
    """What the simulator needs to know about one source."""

    __slots__ = ("cadence", "counted", "district", "group", "id", "lat", "lon", "measured",
                 "mobile", "pack", "phase", "topic")

    def __init__(self, src: catalog.Source, kind: catalog.SourceKind, first_series: int,
                 prefix: str) -> None:
        self.id = src.id
        self.group = src.group
        self.district = src.district
        self.topic = prefixed(topics.events_topic(src.group), prefix)
        self.lat = src.lat
        self.lon = src.lon
        cadence = kind.cadence_s
        if cadence < 1 or not float(cadence).is_integer():
            raise UsageError(f"cadence of {kind.name} must be a whole number of seconds")
        self.cadence = int(cadence)
        self.phase = catalog.hash_name(src.id) % self.cadence
        self.pack = kind.name in PACK_KINDS
        self.mobile = MOBILE.get(kind.name)
        measured: list[Series] = []
        counted: list[Series] = []
        index = first_series
        for spec in kind.metrics:
            series = Series(index, spec, offset_factor(src.group, src.district, spec.name, src.id))
            (counted if spec.counted else measured).append(series)
            index += 1
        self.measured: tuple[Series, ...] = tuple(measured)
        self.counted: tuple[Series, ...] = tuple(counted)

    def position(self, ts: float) -> tuple[float | None, float | None]:
        """Latitude and longitude at ``ts`` of a moving source (``None, None`` for others)."""
        if self.mobile is None:
            return None, None
        radius, period = self.mobile
        angle = 2.0 * math.pi * (ts / period) + (catalog.hash_name(self.id) % 360) * math.pi / 180
        return (round(self.lat + radius * math.sin(angle), 5),
                round(self.lon + radius * math.cos(angle), 5))
