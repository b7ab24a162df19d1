"""A source's vector for its live multivariate model, from one close's window summaries.

A source whose kind measures several metrics (:func:`~detectors.multivariate.source_layouts`)
has one vector per closed window: its metrics' window means in layout order, NaN for a
metric without readings, each divided by the metric's daily and weekly rhythm at the
window's middle (the catalog's), so the hour of the day does not look like an anomaly.

>>> from ioc.events import WindowSummary
>>> def s(metric: str, mean: float) -> WindowSummary:
...     return WindowSummary(group="environment", source="wat-1", metric=metric,
...                          district="Hai Chau", start=0.0, end=60.0, count=1, mean=mean,
...                          min=mean, max=mean, last=mean, std=0.0)
>>> [v.x for v in source_vectors("environment", [s("ph", 7.2), s("cod", 20.0)])]
[[7.2, nan, 20.0, nan]]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from detectors.multivariate import layout_of_metric
from ioc import catalog
from ioc.events import WindowSummary

__all__ = ["SourceVector", "rhythms", "source_vectors"]


@dataclass(frozen=True, slots=True)
class SourceVector:
    """One source's vector for one window (``first``: a summary of it, for its district and
    the metric that places the source in a partition)."""

    source: str
    features: tuple[str, ...]
    x: list[float]
    rhythm: list[float]
    first: WindowSummary


def rhythms(group: str, names: Iterable[str], ts: float) -> list[float]:
    """Each metric's daily and weekly rhythm at ``ts`` (1.0 where it has none)."""
    g = catalog.group(group)
    return [g.metric(m).rhythm(ts) or 1.0 for m in names]


def source_vectors(group: str, summaries: Iterable[WindowSummary]) -> Iterator[SourceVector]:
    """The vectors of ``summaries`` (one per source and window whose kind has a layout;
    sources with no readings in any of its metrics are left out: silence is the silence
    detector's business)."""
    layouts = layout_of_metric(group)
    if not layouts:
        return
    found: dict[tuple[str, float], tuple[WindowSummary, dict[str, float]]] = {}
    for s in summaries:
        if s.metric in layouts:
            got = found.setdefault((s.source, s.start), (s, {}))
            got[1][s.metric] = s.mean if s.count > 0 else math.nan
    for (source, _start), (s, values) in found.items():
        names = layouts[s.metric][1]
        raw = [values.get(m, math.nan) for m in names]
        if all(math.isnan(v) for v in raw):
            continue
        rhythm = rhythms(group, names, (s.start + s.end) / 2)
        yield SourceVector(source, names, [v / r for v, r in zip(raw, rhythm, strict=True)],
                           rhythm, s)
