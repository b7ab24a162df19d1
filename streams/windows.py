"""Tumbling event-time windows per (source, metric), one clock per input partition.

Pure and synchronous: the worker's agent feeds decoded readings of one Kafka message at a time
to the :class:`PartitionWindows` of the message's topic partition and asks it which windows
are due. Windows are aligned to multiples of their width (``floor(ts / width) * width``), so
every key of a group shares the same boundaries and a whole partition closes a window at once.

**Clock.** Each topic partition has its own stream clock: the largest event time accepted on
it, but never beyond ``cap`` (the wall clock, given by the owner with each message). A
partition read faster than another (a backlog, a compressed-time simulator) never makes the
other's readings late, and a sensor whose clock runs fast counts into its (future) window
without making the other readings of its partition late. A window ``[start, end)`` closes
when the clock reaches ``end + lateness``; a reading that arrives after its window's end but
before it closes is *late* (counted into the window and flagged), one that arrives after it
closed is *dropped* and handed back in :attr:`PartitionWindows.refused` (reason class
``late``). A reading more than ``max_jump`` ahead of the clock is refused too
(``clock_jump``) and moves no clock, unless :data:`JUMP_CONFIRM` such readings come in a row
with none accepted between them (a real gap in a replay, not one bad reading). A timer moves
an idle partition's clock forward (:meth:`PartitionWindows.advance_to`) so a partition whose
sources all went silent still closes its windows.

**Accumulators** are columns (:mod:`streams.window_columns`): per open window, the series
ids and values of each message that fell into it (NaN for a counted service event), in
arrival order; the window's statistics are computed once, when it closes, for all its keys in
one pass. A decoded message (:class:`~ioc.reading_columns.ReadingColumns`) is folded in with
a few numpy calls when nothing in it is new, late, dropped or a jump
(:func:`~streams.window_columns.fold_columns`); otherwise, and for plain lists of readings,
one reading at a time (:func:`~streams.window_fold.fold_each`, the reference path, which
writes the same columns). Late readings are
counted per key on the side, only when there are any.

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
>>> [(cls, reading.ts) for cls, _field, _reason, reading in pw.take_refused()]
[('late', 1795410001.0)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Literal, Protocol

import numpy as np

from detectors.base import WindowStats
from ioc.events import Reading
from ioc.reading_columns import ReadingColumns
from streams.window_columns import SeriesIds, WindowBuffer, fold_columns
from streams.window_fold import JUMP_CONFIRM, fold_each, iso
from streams.window_stats import segment_stats

__all__ = [
    "JUMP_CONFIRM",
    "PartitionWindows",
    "Values",
    "WindowBuffer",
    "iso",
    "stats_of",
    "window_start",
    "window_stats",
]

Key = tuple[str, str]
Refused = tuple[str, str, str, Reading]  # reason class, field, reason, the reading


class Admits(Protocol):
    """The series budget (:class:`streams.budget.SeriesBudget`) as the windows see it."""

    reason: str

    def admit(self, group: str, source: str, opened_in_message: int) -> bool: ...


Values = list  # the values of one key in one window (None: a counted event)

_INF = math.inf


def window_start(ts: float, width: float) -> float:
    """The start of the tumbling window of width ``width`` holding ``ts``.

    >>> window_start(1795410059.9, 60.0), window_start(1795410060.0, 60.0)
    (1795410000.0, 1795410060.0)
    """
    return ts - ts % width


def window_stats(lists: Sequence[Sequence[float | None]], counted: bool) -> tuple[np.ndarray, ...]:
    """(count, mean, min, max, last, std) columns of many keys' window values (each list not
    empty), in one numpy pass. Counted events (``None`` values) count one each: mean, min,
    max and last are 1, std 0. The standard deviation is the sample one, taken in two passes
    (deviations to the mean), so it keeps its precision however far the level is from zero.

    >>> [c.tolist() for c in window_stats([[1.0, 3.0, 2.0], [4.0]], False)]
    [[3, 1], [2.0, 4.0], [1.0, 4.0], [3.0, 4.0], [2.0, 4.0], [1.0, 0.0]]
    >>> bool(window_stats([[150700.656, 150700.658]], False)[5][0] > 0.0014)
    True
    >>> [c.tolist() for c in window_stats([[None, None, None]], True)]
    [[3], [1.0], [1.0], [1.0], [1.0], [0.0]]
    """
    sizes = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    if counted:
        return segment_stats(np.empty(0), sizes, True)
    flat = np.fromiter(chain.from_iterable(lists), dtype=np.float64, count=int(sizes.sum()))
    return segment_stats(flat, sizes, False)


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
    n, mean, lo, hi, last, std = (c.tolist()[0] for c in window_stats([values],
                                                                      values[0] is None))
    return WindowStats(start, end, n, mean, lo, hi, last, std, kind, rhythm)


class PartitionWindows:
    """The open windows and the stream clock of one topic partition (one group).

    ``closed_upto`` is the end of the last window closed (``-inf`` until the first reading
    sets it to that reading's window start). ``late`` holds, per open window that has late
    readings, their count per key. ``dropped`` counts readings per key that came
    after their window closed, until the key's next summary reports them. ``known`` maps the
    keys the owner tracks to the one key object its windows share;
    a key not in it is recorded in ``fresh`` with its district the first time it opens a
    window, after ``budget`` (when set) admitted its source. ``refused`` collects the
    readings :meth:`add` turned away, for the owner to dead-letter (:meth:`take_refused`).
    ``newest`` is the largest event time :meth:`add` accepted, beyond ``cap`` or not.
    ``series`` numbers the keys the windows hold (:class:`~streams.window_columns.SeriesIds`):
    the owner drops a key from it when it stops tracking the key.
    ``replayed_upto`` is where the windows restored from a checkpoint end: readings before it
    are input read again after a restart, dropped and counted but not refused as late.
    """

    __slots__ = ("budget", "clock", "closed_upto", "dropped", "fresh", "group", "jump_streak",
                 "known", "late", "lateness", "max_jump", "newest", "open", "partition",
                 "refused", "replayed_upto", "series", "width")

    def __init__(self, group: str, partition: int, *, width: float, lateness: float,
                 max_jump: float = _INF) -> None:
        if not width > 0:
            raise ValueError(f"window width must be > 0, got {width!r}")
        if not lateness >= 0:
            raise ValueError(f"allowed lateness must be >= 0, got {lateness!r}")
        if not max_jump > 0:
            raise ValueError(f"the largest clock jump must be > 0, got {max_jump!r}")
        self.group = group
        self.partition = partition
        self.width = float(width)
        self.lateness = float(lateness)
        self.max_jump = float(max_jump)
        self.clock = -_INF
        self.newest = -_INF
        self.closed_upto = -_INF
        self.open: dict[float, WindowBuffer] = {}
        self.series = SeriesIds()
        self.late: dict[float, dict[Key, int]] = {}
        self.dropped: dict[Key, int] = {}
        # keys the owner already tracks, and the district of each key seen for the first time
        self.known: Mapping[Key, Key] = {}
        self.fresh: dict[Key, str] = {}
        self.budget: Admits | None = None
        self.refused: list[Refused] = []
        self.jump_streak = 0
        self.replayed_upto = -_INF

    def buffer(self, start: float) -> WindowBuffer:
        """The buffer of the open window starting at ``start`` (opened if need be)."""
        got = self.open.get(start)
        if got is None:
            got = self.open[start] = WindowBuffer(self.series)
        return got

    def add(self, readings: Sequence[Reading], cap: float = _INF) -> tuple[int, int, int]:
        """Fold readings into their windows; returns (accepted, late, dropped).

        Lateness and jumps are judged against the clock before this call, so the readings of
        one message (a pack) are judged together; the clock then moves to their largest time,
        but not beyond ``cap``. Readings refused for a jump or by the series budget are in
        none of the three counts (see :attr:`refused`).
        """
        if isinstance(readings, ReadingColumns):
            got = fold_columns(self, readings, cap)
            if got is not None:
                return got
        return fold_each(self, readings, cap)

    def take_refused(self) -> list[Refused]:
        """The readings refused since the last call (reason class, field, reason, reading)."""
        out, self.refused = self.refused, []
        return out

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

    def pop(self, start: float) -> tuple[WindowBuffer, dict[Key, int]]:
        """Take the values and the late counts per key of the window starting at ``start``,
        and mark it closed."""
        values = self.open.pop(start, None)
        if values is None:  # not `or`: a buffer's len() is a numpy unique over its values
            values = WindowBuffer(self.series)
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
