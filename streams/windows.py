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

**Accumulators** are compact lists ``[count, sum, sumsq, min, max, last, late]`` in a
dict per open window, keyed by ``(source, metric)``; no per-reading object is kept. Counted
service events (``value is None``) add 1 each, so a window's ``count`` is its event count.

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
>>> s = stats_of(pw.pop(start)[("rain-HC-01", "rainfall")], start, 60.0)
>>> s.count, s.mean, s.min, s.max, s.last
(3, 3.0, 1.0, 5.0, 5.0)
>>> pw.add([r(1795410001.0, 9.0)])   # its window has closed: dropped
(0, 0, 1)
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Sequence
from typing import Literal

from detectors.base import WindowStats
from ioc.events import Reading

__all__ = [
    "COUNT",
    "LAST",
    "LATE",
    "MAX",
    "MIN",
    "SUM",
    "SUMSQ",
    "Acc",
    "PartitionWindows",
    "new_acc",
    "stats_of",
    "window_start",
]

# Accumulator slots (a plain list is the cheapest mutable record in CPython).
COUNT, SUM, SUMSQ, MIN, MAX, LAST, LATE = range(7)
Acc = list  # [count, sum, sumsq, min, max, last, late]
Key = tuple[str, str]

_INF = math.inf


def new_acc() -> list[float]:
    """An empty accumulator."""
    return [0, 0.0, 0.0, _INF, -_INF, math.nan, 0]


def window_start(ts: float, width: float) -> float:
    """The start of the tumbling window of width ``width`` holding ``ts``.

    >>> window_start(1795410059.9, 60.0), window_start(1795410060.0, 60.0)
    (1795410000.0, 1795410060.0)
    """
    return ts - ts % width


def stats_of(acc: Sequence[float] | None, start: float, width: float,
             kind: Literal["measure", "count"] = "measure") -> WindowStats:
    """The :class:`~detectors.base.WindowStats` of an accumulator (``None``: an empty window).

    >>> w = stats_of([3, 6.0, 14.0, 1.0, 3.0, 3.0, 0], 0.0, 60.0)
    >>> w.count, w.mean, w.std
    (3, 2.0, 1.0)
    >>> stats_of(None, 0.0, 60.0, "count").value
    0.0
    """
    end = start + width
    if acc is None or not acc[COUNT]:
        return WindowStats.empty(start, end, kind=kind)
    n = int(acc[COUNT])
    mean = acc[SUM] / n
    if n > 1:
        var = (acc[SUMSQ] - mean * acc[SUM]) / (n - 1)
        std = math.sqrt(var) if var > 0.0 else 0.0
    else:
        std = 0.0
    return WindowStats(start, end, n, mean, acc[MIN], acc[MAX], acc[LAST], std, kind)


class PartitionWindows:
    """The open windows and the stream clock of one topic partition (one group).

    ``closed_upto`` is the end of the last window closed (``-inf`` until the first reading
    sets it to that reading's window start). ``dropped`` counts readings per key that came
    after their window closed, until the key's next summary reports them. ``known`` is the
    owner's collection of tracked keys; a key not in it is recorded in ``fresh`` with its
    district the first time it opens a window.
    """

    __slots__ = ("clock", "closed_upto", "dropped", "fresh", "group", "known", "lateness", "open",
                 "partition", "width")

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
        self.open: dict[float, dict[Key, list[float]]] = {}
        self.dropped: dict[Key, int] = {}
        # keys the owner already tracks, and the district of each key seen for the first time
        self.known: Container[Key] = ()
        self.fresh: dict[Key, str] = {}

    def add(self, readings: Iterable[Reading]) -> tuple[int, int, int]:
        """Fold readings into their windows; returns (accepted, late, dropped).

        Lateness is judged against the clock before this call, so the readings of one
        message (a pack) are judged together; the clock then moves to their largest time.
        """
        width = self.width
        clock = self.clock
        closed = self.closed_upto
        opened = self.open
        known = self.known
        lo = hi = _INF  # the bounds of the window the last reading fell into
        cur: dict[Key, list[float]] = {}
        late_here = False
        top = clock
        n = late = dropped = 0
        for r in readings:
            n += 1
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
                late_here = hi <= clock
            key = (r.source, r.metric)
            a = cur.get(key)
            v = r.value
            if v is None:
                v = 1.0
            if a is None:
                cur[key] = [1, v, v * v, v, v, v, 0]
                if key not in known:
                    self.fresh[key] = r.district
                a = cur[key]
                if late_here:
                    a[6] = 1
                    late += 1
            else:
                a[0] += 1
                a[1] += v
                a[2] += v * v
                if v < a[3]:
                    a[3] = v
                elif v > a[4]:
                    a[4] = v
                a[5] = v
                if late_here:
                    a[6] += 1
                    late += 1
            if ts > top:
                top = ts
        self.clock = top
        return n - dropped, late, dropped

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
            self.closed_upto = first + skip * width
            first = self.closed_upto
            n -= skip
        return [first + i * width for i in range(n)]

    def pop(self, start: float) -> dict[Key, list[float]]:
        """Take the accumulators of the window starting at ``start`` and mark it closed."""
        accs = self.open.pop(start, None) or {}
        end = start + self.width
        if end > self.closed_upto:
            self.closed_upto = end
        return accs

    def __repr__(self) -> str:
        return (f"<PartitionWindows {self.group}[{self.partition}] clock={self.clock} "
                f"closed_upto={self.closed_upto} open={len(self.open)}>")
