"""Tumbling event-time windows per (source, metric), one clock per input partition.

Pure and synchronous: the worker's agent feeds decoded readings of one Kafka message at a time
to the :class:`PartitionWindows` of the message's topic partition and asks it which windows
are due. Windows are aligned to multiples of their width (``floor(ts / width) * width``), so
every key of a group shares the same boundaries and a whole partition closes a window at once.

**Clock.** Each topic partition has its own stream clock: the largest event time seen on it.
A partition read faster than another (a backlog, a compressed-time simulator) never makes the
other's readings late. A window ``[start, end)`` closes when the clock reaches ``end +
lateness``; a reading that arrives after its window's end but before it closes is *late*
(counted into the window and flagged), one that arrives after it closed is *dropped*. A timer
moves an idle partition's clock forward (:meth:`PartitionWindows.advance_to`) so a partition
whose sources all went silent still closes its windows.

**Accumulators** are plain lists of the readings' values, one per ``(source, metric)`` in a
dict per open window (``None`` for a counted service event): appending is the cheapest thing
a reading can cost, and the window's statistics are computed once, when it closes (see
:func:`summarise`: the standard deviation never loses its precision to cancellation). Late
readings are counted per key on the side, only when there are any.

>>> from ioc.events import Reading
>>> def r(ts, v, source="rain-HC-01"):
...     return Reading(group="flooding", source=source, metric="rainfall", value=v, ts=ts,
...                    district="Hai Chau")
>>> pw = PartitionWindows("flooding", 0, width=60.0, lateness=30.0)
>>> pw.add([r(1795410000.0, 1.0), r(1795410010.0, 3.0), r(1795410065.0, 2.0)])
(3, 0, 0)
>>> pw.due()        # clock 1795410065: [..000, ..060) closes at ..090
[]
>>> pw.add([r(1795410020.0, 5.0), r(1795410095.0, 4.0)])   # one late, then the clock moves
(2, 1, 0)
>>> start, = pw.due(); start
1795410000.0
>>> values, late = pw.pop(start)
>>> late
{('rain-HC-01', 'rainfall'): 1}
>>> s = stats_of(values[("rain-HC-01", "rainfall")], start, 60.0)
>>> s.count, s.mean, s.min, s.max, s.last
(3, 3.0, 1.0, 5.0, 5.0)
>>> pw.add([r(1795410001.0, 9.0)])   # its window has closed: dropped
(0, 0, 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from operator import mul
from sys import intern
from typing import Literal, Protocol

from detectors.base import WindowStats
from ioc.events import Reading

__all__ = ["PartitionWindows", "Values", "stats_of", "summarise", "window_start"]

Key = tuple[str, str]


class Keyed(Protocol):
    """What the owner tracks per key: anything holding the key object itself."""

    @property
    def key(self) -> Key: ...

Values = list  # the values of one key in one window (None: a counted event)

_INF = math.inf
_CANCELLATION = 1e-5  # above this ratio to mean^2 one pass keeps the variance to ~1e-8


def window_start(ts: float, width: float) -> float:
    """The start of the tumbling window of width ``width`` holding ``ts``.

    >>> window_start(1795410059.9, 60.0), window_start(1795410060.0, 60.0)
    (1795410000.0, 1795410060.0)
    """
    return ts - ts % width


def summarise(values: Sequence[float | None]) -> tuple[int, float, float, float, float, float]:
    """(count, mean, min, max, last, std) of one key's window values (not empty).

    Counted events (``None`` values) count one each: mean, min, max and last are 1, std 0.
    The standard deviation is the sample one; when the spread is tiny against the level (where
    a sum of squares would cancel) it is computed again from the deviations to the mean.

    >>> summarise([150700.656, 150700.658])[5] > 0.0014
    True
    >>> summarise([None, None, None])
    (3, 1.0, 1.0, 1.0, 1.0, 0.0)
    """
    n = len(values)
    if values[0] is None:
        return n, 1.0, 1.0, 1.0, 1.0, 0.0
    vals: Sequence[float] = values  # type: ignore[assignment]
    total = sum(vals)
    mean = total / n
    if n > 1:
        # one pass over the squares; its rounding error on the variance is about
        # eps * n * mean^2, so where the spread is tiny against the level, two passes
        ss = sum(map(mul, vals, vals)) - mean * total
        if not ss > _CANCELLATION * n * mean * mean:
            dev = [v - mean for v in vals]
            ss = sum(map(mul, dev, dev))
        std = math.sqrt(ss / (n - 1))
    else:
        std = 0.0
    return n, mean, min(vals), max(vals), vals[-1], std


def stats_of(values: Sequence[float | None] | None, start: float, width: float,
             kind: Literal["measure", "count"] = "measure", rhythm: float = 1.0) -> WindowStats:
    """The :class:`~detectors.base.WindowStats` of a key's window values (``None`` or empty:
    nothing arrived).

    >>> w = stats_of([1.0, 3.0, 2.0], 0.0, 60.0)
    >>> w.count, w.mean, w.std, w.last
    (3, 2.0, 1.0, 2.0)
    >>> stats_of(None, 0.0, 60.0, "count").value
    0.0
    """
    end = start + width
    if not values:
        return WindowStats.empty(start, end, kind=kind, rhythm=rhythm)
    n, mean, lo, hi, last, std = summarise(values)
    return WindowStats(start, end, n, mean, lo, hi, last, std, kind, rhythm)


class PartitionWindows:
    """The open windows and the stream clock of one topic partition (one group).

    ``closed_upto`` is the end of the last window closed (``-inf`` until the first reading
    sets it to that reading's window start). ``late`` holds, per open window that has late
    readings, their count per key. ``dropped`` counts readings per key that came
    after their window closed, until the key's next summary reports them. ``known`` maps the
    keys the owner tracks to objects holding the key (its windows share that one key object);
    a key not in it is recorded in ``fresh`` with its district the first time it opens a
    window.
    """

    __slots__ = ("clock", "closed_upto", "dropped", "fresh", "group", "known", "late", "lateness",
                 "open", "partition", "width")

    def __init__(self, group: str, partition: int, *, width: float, lateness: float) -> None:
        if not width > 0:
            raise ValueError(f"window width must be > 0, got {width!r}")
        if not lateness >= 0:
            raise ValueError(f"allowed lateness must be >= 0, got {lateness!r}")
        self.group = group
        self.partition = partition
        self.width = float(width)
        self.lateness = float(lateness)
        self.clock = -_INF
        self.closed_upto = -_INF
        self.open: dict[float, dict[Key, Values]] = {}
        self.late: dict[float, dict[Key, int]] = {}
        self.dropped: dict[Key, int] = {}
        # keys the owner already tracks, and the district of each key seen for the first time
        self.known: Mapping[Key, Keyed] = {}
        self.fresh: dict[Key, str] = {}

    def add(self, readings: Sequence[Reading]) -> tuple[int, int, int]:
        """Fold readings into their windows; returns (accepted, late, dropped).

        Lateness is judged against the clock before this call, so the readings of one
        message (a pack) are judged together; the clock then moves to their largest time.
        """
        width = self.width
        clock = self.clock
        closed = self.closed_upto
        opened = self.open
        known = self.known
        fresh = self.fresh
        lo = hi = _INF  # the bounds of the window the last reading fell into
        cur: dict[Key, Values] = {}
        lates: dict[Key, int] | None = None  # late counts of that window, when it has ended
        top = clock
        late = dropped = 0
        for r in readings:
            ts: float = r.ts  # type: ignore[assignment]  # always float once decoded
            if not lo <= ts < hi:
                start = ts - ts % width
                if start < closed:
                    key = (r.source, r.metric)
                    self.dropped[key] = self.dropped.get(key, 0) + 1
                    dropped += 1
                    continue
                if closed == -_INF:  # a fresh partition starts at its first reading
                    closed = self.closed_upto = start
                lo, hi = start, start + width
                got = opened.get(start)
                if got is None:
                    got = opened[start] = {}
                cur = got
                lates = self.late.setdefault(start, {}) if hi <= clock else None
            key = (r.source, r.metric)
            try:
                cur[key].append(r.value)
            except KeyError:
                # the first reading of a key in this window: key it by the tracked series'
                # own key object (or canonical strings), not this message's copies
                owner = known.get(key)
                if owner is not None:
                    key = owner.key
                else:
                    key = (intern(key[0]), intern(key[1]))
                    fresh[key] = r.district
                cur[key] = [r.value]
            if lates is not None:
                lates[key] = lates.get(key, 0) + 1
                late += 1
            if ts > top:
                top = ts
        self.clock = top
        return len(readings) - dropped, late, dropped

    def advance_to(self, clock: float) -> None:
        """Move the clock forward to ``clock`` (never back): the idle timer's rule."""
        if clock > self.clock:
            self.clock = clock

    def due(self, limit: int = 1_000_000) -> list[float]:
        """Starts of the windows that can close now, oldest first (at most ``limit``).

        These are the open windows whose ``end + lateness`` the clock has reached, and the
        empty windows in between and after them (every known key gets a summary for each, so
        a silent key is visible); after a long idle gap only the last ``limit`` are returned
        and the older ones are skipped.
        """
        if self.closed_upto == -_INF:
            return []
        horizon = self.clock - self.lateness
        first = self.closed_upto
        width = self.width
        if first + width > horizon:
            return []
        n = int((horizon - first) // width)
        while first + (n + 1) * width <= horizon:  # guard against float rounding
            n += 1
        while n > 0 and first + n * width > horizon:
            n -= 1
        if n <= 0:
            return []
        skip = max(0, n - limit)
        if skip:
            for s in [s for s in self.open if s < first + skip * width]:
                self.open.pop(s, None)
                self.late.pop(s, None)
            self.closed_upto = first + skip * width
            first = self.closed_upto
            n -= skip
        return [first + i * width for i in range(n)]

    def pop(self, start: float) -> tuple[dict[Key, Values], dict[Key, int]]:
        """Take the values and the late counts per key of the window starting at ``start``,
        and mark it closed."""
        values = self.open.pop(start, None) or {}
        late = self.late.pop(start, None) or {}
        end = start + self.width
        if end > self.closed_upto:
            self.closed_upto = end
        return values, late

    def forget_before(self, start: float) -> None:
        """Drop the open windows that start before ``start`` (already closed elsewhere)."""
        for s in [s for s in self.open if s < start]:
            del self.open[s]
            self.late.pop(s, None)

    def __repr__(self) -> str:
        return (f"<PartitionWindows {self.group}[{self.partition}] clock={self.clock} "
                f"closed_upto={self.closed_upto} open={len(self.open)}>")
