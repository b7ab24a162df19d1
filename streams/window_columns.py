"""The open windows' contents as columns: series ids and values, appended one message at a time.

A partition numbers the series it has seen (:class:`SeriesIds`: key -> id, id -> key, and
whether the id's series is admitted, i.e. tracked or waiting to be tracked). Each open window
holds a :class:`WindowBuffer`: per message that fell into it, an array of series ids and one
of values (NaN for a counted event), in arrival order. A window closes from these columns in
one pass (:meth:`WindowBuffer.stats`): a stable sort by id puts every series' values together,
still in arrival order, and :func:`~streams.window_stats.segment_stats` reduces them. When
every chunk holds the same series once each (a gateway's repeated pack, the common case),
:func:`~streams.window_stats.repeat_stats` reduces the chunks as rows of a matrix instead,
with no sort and the same bits.

:func:`fold_columns` is the fast way in for a decoded message
(:class:`~ioc.reading_columns.ReadingColumns`): when every reading belongs to an admitted
series and falls into an open window that is not late, not closed and not past the clock-jump
bound, the message is folded in with a few numpy calls. Any other message goes through the
one-reading-at-a-time path of :meth:`streams.windows.PartitionWindows.add`, which writes to
the same buffers, so both paths give the same windows.

>>> ids = SeriesIds()
>>> a, b = ids.admit(("rain-HC-01", "rainfall")), ids.admit(("rain-HC-02", "rainfall"))
>>> buf = WindowBuffer(ids)
>>> buf.append(np.array([a, b, a]), np.array([1.0, 5.0, 3.0]))
>>> buf.append(np.array([a]), np.array([2.0]))
>>> buf[("rain-HC-01", "rainfall")], len(buf)
([1.0, 3.0, 2.0], 2)
>>> present, (count, mean, low, high, last, std) = buf.stats()
>>> present.tolist(), count.tolist(), mean.tolist(), last.tolist()
([0, 1], [3, 1], [2.0, 5.0], [2.0, 5.0])
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from detectors.masks import where
from streams.window_stats import repeat_stats, segment_stats, stable_order

if TYPE_CHECKING:
    from ioc.reading_columns import ReadingColumns
    from streams.windows import PartitionWindows

__all__ = ["SeriesIds", "WindowBuffer", "fold_columns"]

Key = tuple[str, str]
_INF = math.inf
_RECENT = 16  # (sources, metrics) sequences a partition's SeriesIds remembers


class SeriesIds:
    """A partition's series numbers. ``admit`` gives a key its id (the same one again if it
    had one) and marks it admitted; ``drop`` marks it no longer admitted (evicted, or not
    tracked after all): its next reading goes the slow way and is admitted again there."""

    __slots__ = ("_live", "_recent", "ids", "keys")

    def __init__(self) -> None:
        self.ids: dict[Key, int] = {}
        self.keys: list[Key] = []
        self._live = np.zeros(64, dtype=bool)
        # the last few (sources, metrics) sequences looked up, with their ids
        self._recent: dict[tuple[int, str, str], tuple[list[str], list[str], np.ndarray]] = {}

    def admit(self, key: Key) -> int:
        """The id of ``key`` (the canonical key object the windows share), admitted."""
        i = self.ids.get(key)
        if i is None:
            i = self.ids[key] = len(self.keys)
            self.keys.append(key)
            if i >= len(self._live):
                self._live = np.concatenate([self._live, np.zeros(len(self._live), bool)])
        self._live[i] = True
        return i

    def admitted(self, i: int) -> bool:
        return bool(self._live[i])

    def drop(self, key: Key) -> None:
        i = self.ids.get(key)
        if i is not None:
            self._live[i] = False

    def lookup(self, sources: list[str], metrics: list[str]) -> np.ndarray | None:
        """The ids of (source, metric) pairs, or None when any is new or not admitted.

        A gateway sends the same sources in the same order pack after pack: the last few
        sequences are kept with their ids, and a repeat costs two list compares instead of
        a dict look-up per pair (ids never change; admission is checked again)."""
        if not sources:
            return None
        sig = (len(sources), sources[0], sources[-1])
        seen = self._recent.get(sig)
        if seen is not None and seen[0] == sources and seen[1] == metrics:
            got = seen[2]
        else:
            try:
                got = np.fromiter(map(self.ids.get, zip(sources, metrics, strict=True)),
                                  dtype=np.int64, count=len(sources))
            except TypeError:  # a None: a key without an id
                return None
            got.flags.writeable = False  # shared by the window chunks it goes into
            if len(self._recent) >= _RECENT:
                self._recent.clear()
            self._recent[sig] = (sources, metrics, got)
        return got if self._live[got].all() else None


class WindowBuffer:
    """The values of one open window, as (ids, values) chunks in arrival order."""

    __slots__ = ("chunks", "series")

    def __init__(self, series: SeriesIds) -> None:
        self.series = series
        self.chunks: list[tuple[np.ndarray, np.ndarray]] = []

    def append(self, ids: np.ndarray, values: np.ndarray) -> None:
        self.chunks.append((ids, values))

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """All ids and values, in arrival order."""
        if len(self.chunks) == 1:
            return self.chunks[0]
        if not self.chunks:
            return np.empty(0, dtype=np.int64), np.empty(0)
        return (np.concatenate([c[0] for c in self.chunks]),
                np.concatenate([c[1] for c in self.chunks]))

    def stats(self) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """The ids present (ascending) and their (count, mean, min, max, last, std) as
        measured values (a counted series' mean is NaN: the closer knows its kind)."""
        if self.chunks and all(c[0] is self.chunks[0][0] for c in self.chunks):
            got = repeat_stats(self.chunks[0][0], [c[1] for c in self.chunks])
            if got is not None:
                return got
        ids, values = self.flat()
        if not len(ids):
            return ids, tuple(np.empty(0) for _ in range(6))
        order = stable_order(ids, len(self.series.keys))
        sid = ids[order]
        edge = where(sid[1:] != sid[:-1]) + 1
        starts = np.concatenate([[0], edge])
        sizes = np.diff(np.concatenate([starts, [len(sid)]]))
        with np.errstate(invalid="ignore"):
            return sid[starts], segment_stats(values[order], sizes, False)

    # --- a window as a mapping key -> values (tests and debugging) ----------------------
    def __iter__(self) -> Iterator[Key]:
        ids, _ = self.flat()
        keys = self.series.keys
        return iter([keys[i] for i in dict.fromkeys(ids.tolist())])

    def __len__(self) -> int:
        return len(np.unique(self.flat()[0]))

    def __bool__(self) -> bool:  # without it, truth would count the series (__len__)
        return bool(self.chunks)

    def __contains__(self, key: object) -> bool:
        i = self.series.ids.get(key) if isinstance(key, tuple) else None
        return i is not None and bool((self.flat()[0] == i).any())

    def __getitem__(self, key: Key) -> list[float | None]:
        """The values of ``key`` in arrival order (None: a counted event)."""
        i = self.series.ids.get(key)
        if i is None:
            raise KeyError(key)
        ids, values = self.flat()
        got = values[ids == i].tolist()
        if not got:
            raise KeyError(key)
        return [None if v != v else v for v in got]


def fold_columns(pw: PartitionWindows, cols: ReadingColumns, cap: float
                 ) -> tuple[int, int, int] | None:
    """Fold a decoded message into ``pw``'s windows when nothing in it needs the one-reading
    path (see the module docstring): returns (accepted, 0, 0), or None to take that path."""
    n = len(cols)
    if not n or pw.closed_upto == -_INF:
        return None
    ids = pw.series.lookup(cols.sources, cols.metrics)
    if ids is None:
        return None
    width, clock = pw.width, pw.clock
    first, top = cols.span()
    lo, hi = first - first % width, top - top % width  # window starts: monotonic in ts
    if lo < pw.closed_upto or lo + width <= clock or (
            clock > -_INF and top > clock + pw.max_jump):
        return None  # dropped, late or a jump: the one-reading path decides
    values = cols.values
    if lo == hi:
        pw.buffer(lo).append(ids, values)
    else:
        starts = cols.ts - cols.ts % width
        for s in dict.fromkeys(starts.tolist()):
            m = starts == s
            pw.buffer(s).append(ids[m], values[m])
    pw.jump_streak = 0
    top = max(top, clock)
    pw.newest = top
    if top > clock:
        pw.clock = top if top <= cap else max(cap, clock)
    return n, 0, 0
