"""Live multivariate models: what a vector is, a bounded reservoir, a refit schedule.

The worker runs :class:`~detectors.forest.IsolationForest` over *vectors*: one per subject and
closed window. A subject is a source whose kind measures several metrics (an air station:
PM2.5, PM10, NO2, O3 and AQI together, :func:`source_layouts`) or a group's indicators in one
district (its KPIs, the share of sources reporting, sources in breach and open alerts,
:func:`indicator_features`). Each subject keeps a :class:`Reservoir` (a uniform sample of its
vectors, bounded, deterministic given its seed) and a :class:`Schedule` says when to fit: at
``min_samples`` vectors, then every ``refit_every``. The fit itself
(:func:`detectors.forest_model.fit_model`) is a pure function of the reservoir's rows, so the
worker runs it in a thread and swaps the result in when it is done.

>>> source_layouts("environment")["air_station"]
('pm25', 'pm10', 'no2', 'o3', 'aqi')
>>> indicator_features("environment")
('aqi_max', 'stations_in_breach', 'water_in_breach', 'reporting_share', 'open_alerts')
>>> indicator_directions("environment")["aqi_max"], indicator_directions("citizen_feedback")
('high', {'received': 'high', 'handled_on_time_pct': 'low', 'overdue': 'high', \
'reporting_share': 'low', 'open_alerts': 'high'})
>>> r = Reservoir(capacity=3, d=2, seed=1)
>>> for i in range(10):
...     r.add([float(i), 2.0 * i])
>>> r.seen, r.rows().shape
(10, (3, 2))
>>> Reservoir.from_state(r.state()).rows().tolist() == r.rows().tolist()
True
>>> s = Schedule(min_samples=4, refit_every=10)
>>> fits = [0]
>>> for n in range(1, 30):
...     if s.due(n, fits[-1]):
...         fits.append(n)
>>> fits[1:]
[4, 14, 24]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ioc import catalog
from ioc.catalog_types import Direction

__all__ = ["Reservoir", "Schedule", "indicator_directions", "indicator_features",
           "indicator_vector", "kpi_direction", "layout_of_metric", "source_layouts"]

_MASK = (1 << 64) - 1
_FIRST_ROWS = 16  # a reservoir's first allocation (rows); it doubles as it fills


@cache
def source_layouts(group: str) -> dict[str, tuple[str, ...]]:
    """Source kind -> the measured metrics of its vector (kinds with two or more measured
    metrics; counted events are not part of a vector)."""
    out: dict[str, tuple[str, ...]] = {}
    for kind in catalog.group(group).source_kinds:
        names = tuple(m.name for m in kind.metrics if not m.counted)
        if len(names) >= 2:
            out[kind.name] = names
    return out


@cache
def layout_of_metric(group: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Metric -> (source kind, its layout) for the metrics that belong to a vector.

    >>> layout_of_metric("environment")["ph"][0]
    'water_station'
    """
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for kind, names in source_layouts(group).items():
        for m in names:
            out.setdefault(m, (kind, names))
    return out


@cache
def indicator_features(group: str) -> tuple[str, ...]:
    """The features of a group's indicator vector in one district: its KPIs (catalog order),
    then ``reporting_share`` (sources reporting / expected) and ``open_alerts``."""
    return (*(k.name for k in catalog.group(group).kpis), "reporting_share", "open_alerts")


def kpi_direction(group: str, kpi: catalog.Kpi,
                  metric_direction: Callable[[str, str], Direction] | None = None) -> Direction:
    """A KPI's harmful side, from its metric's: a count of sources in breach harms when it
    rises (``both`` when its metric has no breach limit), a sum, maximum, mean or ratio of a
    metric follows that metric (``metric_direction(group, metric)``, the catalog's
    ``harmful`` when not given: a metric's config may ask for ``both``).

    >>> g = catalog.group("traffic")
    >>> [kpi_direction("traffic", k) for k in g.kpis]
    ['high', 'low', 'high']
    """
    spec = catalog.group(group).metrics_by_name.get(kpi.metric)
    if spec is None:
        return "both"
    if kpi.op == "breach":
        has_limit = spec.breach_above is not None or spec.breach_below is not None
        return "high" if has_limit else "both"
    return metric_direction(group, kpi.metric) if metric_direction else spec.harmful


def indicator_directions(group: str, metric_direction: Callable[[str, str], Direction]
                         | None = None) -> dict[str, Direction]:
    """The harmful side of each feature of :func:`indicator_features`: the KPIs'
    (:func:`kpi_direction`), fewer sources reporting, more open alerts."""
    out = {k.name: kpi_direction(group, k, metric_direction) for k in catalog.group(group).kpis}
    out.update(reporting_share="low", open_alerts="high")
    return out


def indicator_vector(group: str, kpis: dict[str, float], reporting: int, expected: int,
                     open_alerts: dict[str, int]) -> list[float]:
    """An indicator record as a vector in :func:`indicator_features` order (a KPI without
    data: NaN, imputed by the model).

    >>> indicator_vector("environment", {"aqi_max": 80.0}, 3, 4, {"warning": 1})
    [80.0, nan, nan, 0.75, 1.0]
    """
    names = indicator_features(group)[:-2]
    share = reporting / expected if expected > 0 else math.nan
    return [*(float(kpis.get(n, math.nan)) for n in names), share,
            float(sum(open_alerts.values()))]


def _mix(seed: int, n: int) -> int:
    """A splitmix64-style hash of (seed, n): reservoir decisions without RNG state."""
    z = (seed * 0x9E3779B97F4A7C15 + n * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


class Reservoir:
    """A uniform sample of at most ``capacity`` vectors of length ``d`` (Algorithm R with a
    hash instead of a random generator, so a seed and the arrival order fix it).

    Compact, since a worker may keep one per source: rows are 32-bit floats (a fit gets
    them as 64-bit; its state writes 64-bit, so older states read back), and the array
    grows by doubling up to ``capacity`` as vectors come, not allocated full up front."""

    __slots__ = ("_n", "_rows", "capacity", "d", "seed", "seen")

    def __init__(self, *, capacity: int, d: int, seed: int = 0) -> None:
        if capacity < 2 or d < 1:
            raise ValueError(f"reservoir: capacity >= 2 and d >= 1, got {capacity}, {d}")
        self.capacity, self.d, self.seed = int(capacity), int(d), int(seed)
        self.seen = 0
        self._rows = np.empty((min(self.capacity, _FIRST_ROWS), self.d), dtype=np.float32)
        self._n = 0  # rows filled

    def __len__(self) -> int:
        return self._n

    def add(self, row: Sequence[float]) -> None:
        """Offer one vector (the caller imputes missing entries first)."""
        if self._n < self.capacity:
            if self._n == len(self._rows):
                grown = np.empty((min(self.capacity, 2 * self._n), self.d), dtype=np.float32)
                grown[:self._n] = self._rows
                self._rows = grown
            self._rows[self._n] = row
            self._n += 1
        else:
            j = _mix(self.seed, self.seen) % (self.seen + 1)
            if j < self.capacity:
                self._rows[j] = row
        self.seen += 1

    def rows(self) -> np.ndarray:
        """A copy of the sample, one vector per row (what a fit gets)."""
        return self._rows[:self._n].astype(np.float64)

    def state(self) -> list[Any]:
        """Primitives for msgpack: [capacity, d, seed, seen, rows as little-endian f8]."""
        return [self.capacity, self.d, self.seed, self.seen,
                self._rows[:self._n].astype("<f8").tobytes()]

    @classmethod
    def from_state(cls, fields: list[Any]) -> Reservoir:
        """The reservoir of :meth:`state` (ValueError if the fields do not fit)."""
        capacity, d, seed, seen, raw = fields
        r = cls(capacity=int(capacity), d=int(d), seed=int(seed))
        rows = np.frombuffer(bytes(raw), dtype="<f8").astype(np.float32)
        if len(rows) % r.d or len(rows) // r.d > r.capacity or int(seen) < len(rows) // r.d:
            raise ValueError("reservoir: rows do not fit capacity, d and seen")
        r._n = len(rows) // r.d
        r._rows = np.empty((max(r._n, len(r._rows)), r.d), dtype=np.float32)
        r._rows[:r._n] = rows.reshape(-1, r.d)
        r.seen = int(seen)
        return r


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a subject's model is fitted: once ``min_samples`` vectors were seen, then every
    ``refit_every`` vectors after the last fit."""

    min_samples: int
    refit_every: int

    def due(self, seen: int, last_fit_seen: int) -> bool:
        """Is a fit due after ``seen`` vectors, the last fit at ``last_fit_seen`` (0: none)?"""
        if seen < self.min_samples:
            return False
        if last_fit_seen == 0:
            return True
        return seen - last_fit_seen >= self.refit_every
