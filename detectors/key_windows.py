"""Recorded readings cut into per-key tumbling windows, as the stream workers cut them.

Readings (:class:`ioc.events.Reading`) are cut into the tumbling windows of their group
(``catalog.group(g).window_s``, aligned to the epoch) per ``(group, source, metric)`` key: a
measured metric's window holds the mean, min, max, last and sd of its readings; a counted
metric's window holds the number of events. A key gets a window for every period from its
first reading to the end of the recording, empty when nothing arrived (so silences show),
each with the catalog's rhythm at the window's midpoint. :mod:`detectors.backtest` runs
detectors over them.

>>> from ioc.events import Reading
>>> rows = [Reading(group="flooding", source="rain-HC-01", metric="rainfall", district="Hai Chau",
...                 ts=1795410000.0 + 60 * i, value=2.0) for i in (0, 1, 5)]
>>> [kw] = windows_by_key(rows)
>>> kw.key, [w.count for w in kw.windows][:3]
(('flooding', 'rain-HC-01', 'rainfall'), [1, 1, 0])
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from detectors.base import WindowStats
from ioc import catalog
from ioc.events import Reading

__all__ = ["Key", "KeyWindows", "windows_by_key"]

Key = tuple[str, str, str]  # (group, source, metric)


@dataclass(frozen=True, slots=True)
class KeyWindows:
    """The closed windows of one key, in time order."""

    key: Key
    windows: tuple[WindowStats, ...]


def windows_by_key(readings: Iterable[Reading]) -> list[KeyWindows]:
    """Cut readings into per-key tumbling windows (see the module docstring)."""
    values: dict[Key, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    counted: dict[Key, bool] = {}
    sizes: dict[str, int] = {}
    last_end = -math.inf
    for r in readings:
        size = sizes.get(r.group)
        if size is None:
            size = sizes[r.group] = int(catalog.group(r.group).window_s)
        ts = r.epoch
        k = (r.group, r.source, r.metric)
        idx = int(ts // size)
        counted[k] = r.counted
        values[k][idx].append(1.0 if r.counted else float(r.value))  # type: ignore[arg-type]
        last_end = max(last_end, (idx + 1) * size)
    out = []
    for k in sorted(values):
        size = sizes[k[0]]
        kind = "count" if counted[k] else "measure"
        spec = catalog.group(k[0]).metric(k[2])
        per = values[k]
        first, stop = min(per), int(last_end // size)
        wins = []
        for i in range(first, stop):
            start, end = float(i * size), float((i + 1) * size)
            vals = per.get(i)
            rhythm = spec.rhythm((start + end) / 2)
            if vals:
                w = WindowStats.of(vals, start, end, kind=kind)  # type: ignore[arg-type]
                wins.append(msgspec.structs.replace(w, rhythm=rhythm))
            else:
                wins.append(WindowStats.empty(start, end, kind=kind,  # type: ignore[arg-type]
                                              rhythm=rhythm))
        out.append(KeyWindows(k, tuple(wins)))
    return out
