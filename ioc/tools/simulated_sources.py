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
>>> from ioc import boundaries
>>> boundaries.contains(state.district, *state.position(600.0))   # a bus stays on its roads
True
"""

from __future__ import annotations

import math

from ioc import boundaries, catalog, topics
from ioc.errors import UsageError
from ioc.tools.messages import prefixed

__all__ = ["INTEGER_UNITS", "MOBILE", "PACK_KINDS", "SEA_LANES", "Series", "SourceState",
           "offset_factor", "round_of"]

# Source kinds that send one tick's readings (and the events since the last tick) as a pack.
PACK_KINDS: frozenset[str] = frozenset({"bus", "vessel", "soc_sensor"})
# Moving sources: size (degrees) and period (s) of their round. Vehicles and buses drive a
# block of streets around their home (city streets run roughly north-south and east-west),
# shrunk until it stays in their district; vessels follow their district's sea lane.
MOBILE: dict[str, tuple[float, float]] = {
    "vehicle": (0.012, 1800.0), "bus": (0.015, 3600.0), "vessel": (0.25, 43200.0),
}
# The fishing grounds of each coastal district, (lat, lon) rounds at sea: out of Da Nang
# Bay (Lien Chieu), off the Son Tra peninsula, off Non Nuoc beach (Ngu Hanh Son) and among
# the Hoang Sa islands. tests/dashboards/test_map_places.py checks every leg stays off the land.
SEA_LANES: dict[str, tuple[tuple[float, float], ...]] = {
    "Lien Chieu": ((16.105, 108.175), (16.135, 108.195), (16.175, 108.235),
                   (16.215, 108.300), (16.160, 108.215), (16.120, 108.170)),
    "Son Tra": ((16.115, 108.345), (16.160, 108.400), (16.120, 108.480),
                (16.050, 108.450), (16.060, 108.345)),
    "Ngu Hanh Son": ((16.020, 108.300), (16.000, 108.400), (15.950, 108.460),
                     (15.935, 108.380), (15.975, 108.310)),
    "Hoang Sa": ((16.150, 111.900), (16.280, 112.100), (16.550, 112.120),
                 (16.750, 112.500), (16.400, 112.550), (16.100, 112.250)),
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
                 "mobile", "pack", "phase", "round", "topic")

    def __init__(self, src: catalog.Source, kind: catalog.SourceKind, first_series: int,
                 prefix: str) -> None:
        self.id = src.id
        self.group = src.group
        self.district = src.district
        self.topic = prefixed(topics.events_topic(src.group), prefix)
        self.lat, self.lon = boundaries.home(src)
        cadence = kind.cadence_s
        if cadence < 1 or not float(cadence).is_integer():
            raise UsageError(f"cadence of {kind.name} must be a whole number of seconds")
        self.cadence = int(cadence)
        self.phase = catalog.hash_name(src.id) % self.cadence
        self.pack = kind.name in PACK_KINDS
        self.mobile = MOBILE.get(kind.name)
        self.round: tuple[tuple[float, float], ...] = () if self.mobile is None else round_of(
            kind.name, src.id, src.district, (self.lat, self.lon), self.mobile[0])
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
        """Latitude and longitude at ``ts`` of a moving source (``None, None`` for others):
        along its round at an even pace, one lap per period, each source at its own point."""
        if self.mobile is None:
            return None, None
        lap = (ts / self.mobile[1] + (catalog.hash_name(self.id) % 360) / 360.0) % 1.0
        return along(self.round, lap)


def along(points: tuple[tuple[float, float], ...], lap: float) -> tuple[float, float]:
    """The point a fraction ``lap`` (0..1) of the way round the closed path ``points``.

    >>> along(((0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0)), 0.375)
    (0.5, 1.0)
    """
    legs = list(zip(points, points[1:] + points[:1], strict=True))
    lengths = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in legs]
    left = lap * sum(lengths)
    for (a, b), length in zip(legs, lengths, strict=True):
        if left <= length and length > 0:
            t = left / length
            return round(a[0] + (b[0] - a[0]) * t, 5), round(a[1] + (b[1] - a[1]) * t, 5)
        left -= length
    return points[0]


def _stays_in(district: str, points: tuple[tuple[float, float], ...]) -> bool:
    """Whether every leg of the closed path (sampled every tenth) lies in ``district``."""
    legs = zip(points, points[1:] + points[:1], strict=True)
    return all(boundaries.contains(district, a[0] + (b[0] - a[0]) * i / 10,
                                   a[1] + (b[1] - a[1]) * i / 10)
               for a, b in legs for i in range(10))


def round_of(kind: str, source: str, district: str, start: tuple[float, float],
             size: float) -> tuple[tuple[float, float], ...]:
    """The closed path a moving source follows: its district's sea lane for a vessel (from
    the nearest point of it), else a block of streets from ``start`` (north or south, east
    or west by the source's hash), halved until it stays in the district.

    >>> path = round_of("bus", "bus-HC-01", "Hai Chau", (16.0471, 108.2068), 0.015)
    >>> len(path), _stays_in("Hai Chau", path)
    (4, True)
    """
    if kind == "vessel":
        lane = SEA_LANES.get(district) or ((start[0], start[1]),)
        first = min(range(len(lane)), key=lambda i: math.dist(lane[i], start))
        return lane[first:] + lane[:first]
    h = catalog.hash_name(source)
    north = 1.0 if h & 1 else -1.0
    east = 1.0 if h & 2 else -1.0
    lat, lon = start
    for _ in range(8):
        dlat, dlon = north * size * 0.6, east * size
        path = ((lat, lon), (round(lat + dlat, 5), lon), (round(lat + dlat, 5),
                round(lon + dlon, 5)), (lat, round(lon + dlon, 5)))
        if _stays_in(district, path):
            return path
        north, east = -east, north          # try the next quarter before shrinking
        if h % 4 == 0 or _ % 4 == 3:
            size /= 2
    return ((lat, lon),)
