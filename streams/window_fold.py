"""Readings into a partition's windows one at a time: the reference path.

:meth:`streams.windows.PartitionWindows.add` folds a clean decoded message with numpy
(:func:`streams.window_columns.fold_columns`); everything else comes here, one reading at a
time, and is written to the same per-window chunks: :func:`fold_each` judges each reading
against the partition's clock (dropped after its window closed, refused for a clock jump,
counted late) and gives it its series id (a key not tracked yet is recorded in ``fresh``
after the series budget admitted its source, or refused for ``series_limit``).

>>> from ioc.events import Reading
>>> from streams.windows import PartitionWindows
>>> pw = PartitionWindows("flooding", 0, width=60.0, lateness=30.0)
>>> r = Reading(group="flooding", source="rain-HC-01", metric="rainfall", value=2.0,
...             ts=1795410000.0, district="Hai Chau")
>>> fold_each(pw, [r], 1e12), pw.fresh
((1, 0, 0), {('rain-HC-01', 'rainfall'): 'Hai Chau'})
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from sys import intern
from typing import TYPE_CHECKING

import numpy as np

from ioc.events import Reading

if TYPE_CHECKING:
    from streams.windows import Key, PartitionWindows

__all__ = ["JUMP_CONFIRM", "fold_each", "iso"]

JUMP_CONFIRM = 100  # readings in a row beyond the jump bound that make the jump real
_INF = math.inf
_NAN = math.nan


def iso(ts: float) -> str:
    """Epoch seconds as an RFC 3339 UTC time (for reasons people read).

    >>> iso(1795410000.0), iso(-math.inf)
    ('2026-11-23T05:00:00Z', '-inf')
    """
    if not math.isfinite(ts):
        return str(ts)
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def fold_each(pw: PartitionWindows, readings: Sequence[Reading], cap: float
              ) -> tuple[int, int, int]:
    """Fold ``readings`` into ``pw`` one at a time; returns (accepted, late, dropped), as
    :meth:`~streams.windows.PartitionWindows.add` does."""
    f = _Fold(pw)
    for r in readings:
        ts: float = r.ts  # type: ignore[assignment]  # always float once decoded
        if not f.lo <= ts < f.hi and not f.enter(r, ts, cap):
            continue
        kid = f.series_id(r)
        if kid < 0:
            continue
        f.ids.append(kid)
        value = r.value
        f.values.append(_NAN if value is None else value)
        if f.lates is not None:
            key = pw.series.keys[kid]
            f.lates[key] = f.lates.get(key, 0) + 1
            f.late += 1
        if ts > f.top:
            f.top = ts
    return f.finish(len(readings), cap)


class _Fold:
    """One call of :func:`fold_each`: the window the last reading fell into (``lo``..``hi``,
    ``hi`` at most the jump ceiling), per window start the ids and values of this call
    (written as one chunk each at the end), and the counts."""

    __slots__ = ("ceiling", "clock", "dropped", "hi", "ids", "late", "lates", "lo",
                 "opened", "pending", "pw", "refused", "top", "values")

    def __init__(self, pw: PartitionWindows) -> None:
        self.pw = pw
        self.clock = clock = pw.clock
        self.ceiling = clock + pw.max_jump if clock > -_INF else _INF
        self.lo = self.hi = _INF
        self.pending: dict[float, tuple[list[int], list[float]]] = {}
        self.ids: list[int] = []
        self.values: list[float] = []
        self.lates: dict[Key, int] | None = None  # late counts of that window, if it ended
        self.top = clock
        self.late = self.dropped = self.refused = self.opened = 0

    def enter(self, r: Reading, ts: float, cap: float) -> bool:
        """Move to the window of ``r`` (time ``ts``); False when ``r`` is dropped (its
        window closed) or refused (a clock jump)."""
        pw = self.pw
        width = pw.width
        start = ts - ts % width
        if start < pw.closed_upto:
            key = (r.source, r.metric)
            pw.dropped[key] = pw.dropped.get(key, 0) + 1
            self.dropped += 1
            if start >= pw.replayed_upto:  # else read again after a restart
                pw.refused.append(("late", "$.ts", late_reason(pw, ts, start, self.clock), r))
            return False
        if ts > self.ceiling:
            pw.jump_streak += 1
            if pw.jump_streak < JUMP_CONFIRM:
                self.refused += 1
                pw.refused.append(("clock_jump", "$.ts", jump_reason(pw, ts, self.clock), r))
                return False
            self.ceiling = _INF  # the gap is real: the data has moved on
        if pw.closed_upto == -_INF:  # a fresh partition starts at its first reading
            pw.closed_upto = start if start <= cap else cap - cap % width
        self.lo, self.hi = start, min(start + width, self.ceiling)
        got = self.pending.get(start)
        if got is None:
            got = self.pending[start] = ([], [])
        self.ids, self.values = got
        self.lates = pw.late.setdefault(start, {}) if start + width <= self.clock else None
        return True

    def series_id(self, r: Reading) -> int:
        """The series id of ``r``'s key, admitting a new key (-1: refused by the budget)."""
        pw = self.pw
        series = pw.series
        key = (r.source, r.metric)
        kid = series.ids.get(key)
        if kid is not None and series.admitted(kid):
            return kid
        # a key neither tracked nor waiting to be: key it by the tracked series' own key
        # object (or canonical strings), not this message's copies
        owner = pw.known.get(key)
        if owner is not None:
            key = owner
        elif key in pw.fresh:
            key = (intern(key[0]), intern(key[1]))
        else:
            budget = pw.budget
            if budget is not None:
                if not budget.admit(pw.group, key[0], self.opened):
                    self.refused += 1
                    pw.refused.append(("series_limit", "$.source",
                                       f"a new series of an unregistered source: "
                                       f"{budget.reason}", r))
                    return -1
                self.opened += 1
            key = (intern(key[0]), intern(key[1]))
            pw.fresh[key] = r.district
        return series.admit(key)

    def finish(self, n: int, cap: float) -> tuple[int, int, int]:
        """Write the chunks, move the clock (not beyond ``cap``); the counts."""
        pw = self.pw
        for start, (ids, values) in self.pending.items():
            if ids:
                pw.buffer(start).append(np.array(ids, dtype=np.int64),
                                        np.array(values, dtype=np.float64))
        accepted = n - self.dropped - self.refused
        if accepted:
            pw.jump_streak = 0
        top = self.top
        pw.newest = top
        if top > pw.clock:
            pw.clock = top if top <= cap else max(cap, pw.clock)
        return accepted, self.late, self.dropped


def late_reason(pw: PartitionWindows, ts: float, start: float, clock: float) -> str:
    """Why a reading at ``ts`` was dropped: its window had closed."""
    return (f"late: the window {iso(start)}..{iso(start + pw.width)} of this reading "
            f"({iso(ts)}) closed before it came (partition {pw.group}[{pw.partition}] "
            f"clock {iso(clock)}, allowed lateness {pw.lateness:g} s, "
            f"IOC_ALLOWED_LATENESS_S); replay it into a backfill if it matters")


def jump_reason(pw: PartitionWindows, ts: float, clock: float) -> str:
    """Why a reading at ``ts`` was refused: too far ahead of the partition's clock."""
    return (f"clock jump: this reading ({iso(ts)}) is {ts - clock:,.0f} s ahead of "
            f"partition {pw.group}[{pw.partition}]'s clock ({iso(clock)}), more than "
            f"IOC_MAX_CLOCK_JUMP_S={pw.max_jump:g}; it moved no clock")
