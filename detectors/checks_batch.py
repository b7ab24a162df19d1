"""The conformance check of a detector's batch form (:meth:`Detector.columns`) against its
one-series form: part of the public suite (:data:`detectors.checks.CHECKS`).

:func:`check_batch_matches_one_series` drives a :class:`~detectors.columns.DetectorColumns`
and one one-series detector per row through the same random windows (many rows with their own
levels, noise, flat stretches, spikes and empty windows; rows added, rows dropped and the rest
reordered midway, rows restored from one-series state) and requires exact agreement after
every step: scores, ``get_state`` bytes, ``explain()`` and ``recent()``.

>>> from detectors.changepoint import CUSUM
>>> check_batch_matches_one_series(CUSUM, steps=60)
'batch = one-series over 60 steps x 2 kinds (up to 18 rows)'
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import numpy as np

from detectors.base import Detector, WindowStats
from detectors.checks_streams import failure, target_factory
from detectors.columns import DetectorColumns, WindowColumns

if TYPE_CHECKING:
    from detectors.checks_streams import Target

__all__ = ["check_batch_matches_one_series"]

_T0 = 1_700_000_000.0
_RHYTHMS = (1.0, 1.0, 1.0, 0.6, 1.4, 0.0, math.nan)


class _Row:
    """The shape of one row's random series."""

    def __init__(self, rng: random.Random) -> None:
        self.level = rng.choice([0.0, 1.0, 7.25, 50.0, 2e3, -30.0])
        self.noise = rng.choice([0.0, 0.01, 0.5, 2.0, 0.1 * abs(self.level)])
        self.rate = rng.choice([0.05, 1.0, 4.0, 30.0])
        self.quiet = rng.choice([0.0, 0.05, 0.3])  # chance of an empty window
        self.flat = rng.random() < 0.2

    def window(self, rng: random.Random, start: float, kind: Literal["measure", "count"],
               rhythm: float) -> WindowStats:
        end = start + 60.0
        if rng.random() < self.quiet:
            return WindowStats.empty(start, end, kind=kind, rhythm=rhythm)
        if kind == "count":
            n = max(1, int(rng.expovariate(1.0 / self.rate)))
            if rng.random() < 0.03:
                n *= 10  # a surge
            vals = [1.0] * n
        else:
            n = rng.randint(1, 8)
            x = self.level + (0.0 if self.flat else rng.gauss(0.0, self.noise))
            if rng.random() < 0.03:
                x += rng.choice([-1.0, 1.0]) * (10.0 + 20.0 * self.noise)
            vals = [x] * n if self.flat else [x + rng.gauss(0.0, self.noise) for _ in range(n)]
        w = WindowStats.of(vals, start, end, kind=kind)
        return WindowStats(w.start, w.end, w.count, w.mean, w.min, w.max, w.last, w.std, kind,
                           rhythm)


def _same_expl(a: object, b: object) -> bool:
    return repr(a) == repr(b)  # exact floats, NaN equal to NaN


def _compare(cols: DetectorColumns, ones: list[Detector], rows: list[int], where: str,
             fail: Callable[[str], AssertionError]) -> None:
    for r in rows:
        if cols.get_state(r) != ones[r].get_state():
            raise fail(f"get_state of row {r} differs from one series ({where})")
        if not _same_expl(cols.explain(r), ones[r].explain()):
            raise fail(f"explain() of row {r} is {cols.explain(r)!r}, one series "
                       f"{ones[r].explain()!r} ({where})")
        if cols.recent(r) != ones[r].recent():
            raise fail(f"recent() of row {r} differs from one series ({where})")
    if cols.get_states(np.asarray(rows, dtype=np.intp)) != [ones[r].get_state() for r in rows]:
        raise fail(f"get_states of rows {rows} differ from one series ({where})")


class _Trial:
    """One run of the check: a batch form and, per row, a one-series detector and the shape
    of its random series; every step compares the two exactly."""

    def __init__(self, make: Callable[[], Detector], kind: Literal["measure", "count"],
                 seed: int, fail: Callable[[str], AssertionError]) -> None:
        self.rng = random.Random(seed)
        self.make, self.kind, self.fail = make, kind, fail
        self.cols = make().columns()
        if len(self.cols) != 0:
            raise fail("columns() must start with no rows")
        self.ones: list[Detector] = []
        self.shapes: list[_Row] = []

    def add(self, k: int) -> None:
        """Add ``k`` fresh rows."""
        cols, ones = self.cols, self.ones
        first = cols.add(k)
        if first != len(ones):
            raise self.fail(f"add() returned {first}, expected {len(ones)}")
        for _ in range(k):
            ones.append(self.make())
            self.shapes.append(_Row(self.rng))
        _compare(cols, ones, list(range(first, len(ones))), "fresh rows", self.fail)

    def evict(self) -> None:
        """Drop five rows and reorder the rest."""
        ones, shapes = self.ones, self.shapes
        keep = self.rng.sample(range(len(ones)), len(ones) - 5)
        self.cols.keep(np.array(keep, dtype=np.intp))
        ones[:] = [ones[i] for i in keep]
        shapes[:] = [shapes[i] for i in keep]
        _compare(self.cols, ones, list(range(len(ones))), "after keep()", self.fail)

    def restore(self) -> None:
        """Add four rows restored from other rows' one-series state."""
        ones, shapes = self.ones, self.shapes
        donors = self.rng.sample(range(len(ones)), 4)
        first = self.cols.add(len(donors))
        for k, i in enumerate(donors):
            data = ones[i].get_state()
            self.cols.set_state(first + k, data)
            twin = self.make()
            twin.set_state(data)
            ones.append(twin)
            shapes.append(shapes[i])

    def step(self, step: int) -> None:
        """Score a random batch of rows on one window each, batch and one series alike."""
        rng, kind, fail, cols, ones = self.rng, self.kind, self.fail, self.cols, self.ones
        batch = list(range(len(ones)))
        rng.shuffle(batch)
        if rng.random() < 0.3:
            batch = batch[: rng.randint(1, len(batch))]
        start = _T0 + 60.0 * step
        rhythm = rng.choice(_RHYTHMS)
        stats = [self.shapes[r].window(rng, start, kind, rhythm) for r in batch]
        w = WindowColumns.of(stats)
        rows = np.array(batch, dtype=np.intp)
        for j in range(len(batch)):
            if w.row(j) != stats[j] and not _same_expl(w.row(j), stats[j]):
                raise fail(f"WindowColumns.row({j}) is {w.row(j)!r}, not {stats[j]!r}")
        if step % 2:
            got = cols.update_many(rows, w)
        else:
            got = cols.score_many(rows, w)
            cols.learn_many(rows, w)
        want = [ones[r].update_window(s) for r, s in zip(batch, stats, strict=True)]
        for j, r in enumerate(batch):
            g = float(got[j])
            if not (g == want[j] or (g != g and want[j] != want[j])):
                raise fail(f"row {r} scored {g!r} in a batch, {want[j]!r} alone "
                           f"(step {step}, {kind}, window {stats[j]!r})")
        _compare(cols, ones, batch, f"step {step}, {kind}", fail)


def _run(make: Callable[[], Detector], kind: Literal["measure", "count"], steps: int, seed: int,
         fail: Callable[[str], AssertionError]) -> int:
    """Run one trial of ``steps`` steps (rows added, evicted and restored on the way); the
    most rows it held."""
    trial = _Trial(make, kind, seed, fail)
    trial.add(12)
    most = 0
    for step in range(steps):
        if step == steps // 3:
            trial.add(6)
        if step == steps // 2:  # evict some rows, reorder the rest
            trial.evict()
        if step == 2 * steps // 3:  # restore rows from one-series state
            trial.restore()
        most = max(most, len(trial.ones))
        trial.step(step)
    return most


def check_batch_matches_one_series(target: Target, *, steps: int = 150, seed: int = 11) -> str:
    """``columns()`` and one-series detectors agree exactly on random streams of many rows
    (measured and counted windows, gaps, changing rhythm), through ``add``, ``keep`` and
    ``set_state`` of one-series bytes: scores, ``get_state`` bytes, ``explain()``,
    ``recent()``."""
    make = target_factory(target)
    probe = make()

    def fail(msg: str) -> AssertionError:
        return failure(probe, f"batch form ({type(probe.columns()).__name__}): {msg}")

    most = 0
    for k, kind in enumerate(("measure", "count")):
        most = max(most, _run(make, kind, steps, seed + k, fail))  # type: ignore[arg-type]
    return f"batch = one-series over {steps} steps x 2 kinds (up to {most} rows)"
