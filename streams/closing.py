"""Closing a partition's window: every tracked series gets its window as one batch.

:meth:`WindowCloser.settle` takes the window's values out of the partition's windows;
:meth:`WindowCloser.close_settled` starts tracking the keys seen for the first time, and then,
per metric block: cuts the window's statistics into columns (an empty window for a series that
sent nothing, so a silent source is seen), scores and decides the blocks of the windows that
start together in one go (:func:`streams.scoring.score_blocks`), hands
the verdicts of the rows that need them to the :class:`~streams.lifecycle.AlertBook`, queues
the block's window summaries as one pack of columns (:class:`~ioc.events.WindowSummaries`,
:mod:`streams.summaries`) and folds its value into its district's
indicator roll-up (:class:`~streams.indicators.DistrictRollup`). Series silent for longer than
``evict_after_s`` stop being tracked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from detectors.columns import WindowColumns
from detectors.masks import every, some, where
from ioc.catalog import MetricSpec
from ioc.events import Alert, Incident, WindowSummaries
from streams.budget import SeriesBudget
from streams.indicators import DistrictRollup, IndicatorPart
from streams.lifecycle import CITY, HEALTH, AlertBook, lane_key
from streams.partition import PartitionState
from streams.runtime import DetectorRuntime
from streams.scoring import Piece, score_blocks
from streams.series import DISTRICT_NAMES, SeriesBlock, series_key
from streams.silences import SilenceBook
from streams.summaries import SummaryPacks
from streams.window_columns import WindowBuffer

if TYPE_CHECKING:
    from streams.metrics import WorkerMetrics

__all__ = ["Output", "Settled", "WindowCloser"]

_NAN = math.nan


@dataclass
class Output:
    """Records a step produced, ready to publish."""

    alerts: list[Alert | Incident] = field(default_factory=list)
    summaries: dict[str, SummaryPacks] = field(default_factory=dict)  # group -> them
    parts: list[IndicatorPart] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.alerts or self.summaries or self.parts)


class WindowCloser:
    """Closes windows of partitions (see the module docstring); ``published(records,
    partition)`` receives the alert records each close produced."""

    def __init__(self, runtime: DetectorRuntime, book: AlertBook, silences: SilenceBook, *,
                 budget: SeriesBudget, published: Callable[[list[Alert], int], None],
                 open_counts: Callable[[str, int], dict[str, dict[str, int]]],
                 evict_after_s: float, metrics: WorkerMetrics | None = None) -> None:
        self.runtime = runtime
        self.book = book
        self.silences = silences
        self.budget = budget
        self.published = published
        self.open_counts = open_counts
        self.evict_after_s = evict_after_s
        self.metrics = metrics
        self.out = Output()
        self.evicted: list[tuple[str, int]] = []  # (table key, partition) of evicted series

    def settle(self, st: PartitionState, start: float) -> Settled:
        """Take the window of ``st`` starting at ``start`` out of its windows (a reading for
        it is late from now on); :meth:`close_settled` closes it."""
        buf, lates = st.windows.pop(start)
        return Settled(st, start, start + st.windows.width, buf, lates)

    def close_settled(self, settled: list[Settled], chunk: int = 4096) -> Iterator[int]:
        """Close settled windows, each partition's in the order of their starts. The windows
        of one group that start together (one per partition) close together: each metric's
        blocks are scored with one detector call per ``chunk`` series (see
        :func:`~streams.scoring.score_blocks`). Yields the rows closed after each call."""
        together: dict[tuple[str, float], list[Settled]] = {}
        for x in settled:
            together.setdefault((x.st.group, x.start), []).append(x)
        for key in sorted(together, key=lambda k: k[1]):
            yield from self._close_together(together[key], chunk)

    def _close_together(self, items: list[Settled], chunk: int) -> Iterator[int]:
        rollups = []
        for x in items:
            x.accs = _WindowStats(x.buf)
            self._track_fresh(x.st, x.accs)
            rollups.append(DistrictRollup(x.st.group))
        metrics = list(dict.fromkeys(m for x in items for m in x.st.blocks))
        for metric in metrics:
            batch: list[tuple[int, Piece]] = []
            size = 0  # rows in batch
            for k, x in enumerate(items):
                block = x.st.blocks.get(metric)
                if block is None or not len(block):
                    continue
                for piece in self._pieces(x, block, chunk):
                    if batch and (batch[0][1][0].columns is not piece[0].columns
                                  or size + len(piece[1]) > chunk):
                        self._score(items, batch, rollups)
                        yield size
                        batch, size = [], 0
                    batch.append((k, piece))
                    size += len(piece[1])
            if batch:
                self._score(items, batch, rollups)
                yield size
            for x in items:
                block = x.st.blocks.get(metric)
                if block is not None and x.evict.get(metric):
                    self._evict(x.st, block, x.evict.pop(metric))
        for x, rollup in zip(items, rollups, strict=True):
            st = x.st
            if self.metrics is not None:
                self.metrics.windows_closed(st.group, sum(map(len, st.blocks.values())))
            self.out.parts += rollup.parts(st.partition, x.start, x.end,
                                           self.open_counts(st.group, st.partition))

    def _track_fresh(self, st: PartitionState, present: _WindowStats) -> None:
        w = st.windows
        if not w.fresh:
            return
        by_metric: dict[str, tuple[list[str], list[str]]] = {}
        for key in [k for k in w.fresh if k in present]:
            district = w.fresh.pop(key)
            got = by_metric.get(key[1])
            if got is None:
                got = by_metric[key[1]] = ([], [])
            got[0].append(key[0])
            got[1].append(district)
        for metric, (sources, districts) in by_metric.items():
            try:
                plan = self.runtime.plan(st.group, metric)
            except KeyError:
                for source in sources:
                    self.budget.release(st.group, source)
                    w.series.drop((source, metric))
                continue
            st.track_many(plan, sources, districts)

    def _pieces(self, x: Settled, block: SeriesBlock, chunk: int) -> Iterator[Piece]:
        """The block's rows due to close, ``chunk`` at a time, with their windows' columns
        (rows to evict are set aside in ``x.evict``)."""
        n, plan, end, accs = len(block), block.plan, x.end, x.accs
        assert accs is not None, "a settled window's statistics are taken when it closes"
        due = where(block.closed_upto[:n] < end)  # else restored ahead: closed
        rhythm = plan.spec.rhythm((x.start + end) / 2)
        for lo in range(0, len(due), chunk):
            cols, rows, gone = _columns(block, due[lo:lo + chunk], accs, end,
                                        self.evict_after_s)
            if gone:
                x.evict.setdefault(plan.metric, []).extend(gone)
            if len(rows):
                count, mean, low, high, last, std = cols
                yield block, rows, WindowColumns(
                    start=x.start, end=end, count=count, mean=mean, min=low, max=high,
                    last=last, std=std, kind=plan.kind, rhythm=rhythm)

    def _score(self, items: list[Settled], batch: list[tuple[int, Piece]],
               rollups: list[DistrictRollup]) -> None:
        """Score one batch of pieces, then hand each piece's verdicts to the alert book and
        its windows to the summaries and roll-ups."""
        m = self.metrics
        verdicts = score_blocks([p for _, p in batch], timer=m.detector_time if m else None,
                                failed=m.detector_failed if m else None)
        for (k, (block, rows, wc)), got in zip(batch, verdicts, strict=True):
            x = items[k]
            for row, row_verdicts in got:
                self._observe(x.st, block, row, row_verdicts, x.end)
            block.closed_upto[rows] = x.end
            self._summarise(x.st, block, rows, wc, x.lates, rollups[k])

    def _evict(self, st: PartitionState, block: SeriesBlock, rows: list[int]) -> None:
        for key in st.forget(block, rows):
            self.budget.release(st.group, key[0])
            self.evicted.append((series_key(st.group, key[0], key[1]), st.partition))

    def _observe(self, st: PartitionState, block: SeriesBlock, row: int, verdicts: list,
                 end: float) -> None:
        source, metric = block.keys[row]
        records = self.book.observe(group=st.group, district=block.districts[row],
                                    source=source, metric=metric, verdicts=verdicts, ts=end,
                                    silences=self.silences, partition=st.partition)
        if records:
            self.out.alerts.extend(records)
            self.published(records, st.partition)
        if block.lanes[row] != 3:
            store, g = self.book.store, st.group
            block.lanes[row] = ((1 if lane_key(g, source, metric, CITY) in store else 0)
                                | (2 if lane_key(g, source, metric, HEALTH) in store else 0))

    def _summarise(self, st: PartitionState, block: SeriesBlock, rows: np.ndarray,
                   wc: WindowColumns, lates: dict | None, rollup: DistrictRollup) -> None:
        """The rows' summaries as one pack, and their values into their districts'
        roll-ups."""
        group = st.group
        breach = _breach(block.plan.spec, wc.value)
        dropped = st.windows.dropped
        groups = None
        if len(rows) == len(block):  # the whole block (rows ascend): its names as listed
            names = block.names()
            row_keys, sources, districts = names.keys, names.sources, names.districts
            groups = names.groups
        else:
            row_list = rows.tolist()
            row_keys = [block.keys[r] for r in row_list]
            sources = [k[0] for k in row_keys]
            districts = [block.districts[r] for r in row_list]
        st.dirty.update(row_keys)
        zeros = [0] * len(row_keys)
        empty = wc.count == 0  # an empty window's summary carries zeros
        stats = (wc.mean, wc.min, wc.max, wc.last, wc.std)
        mean, low, high, last, std = ((np.where(empty, 0.0, c) for c in stats) if some(empty)
                                      else stats)
        packs = self.out.summaries.get(group)
        if packs is None:
            packs = self.out.summaries[group] = SummaryPacks()
        packs.add(WindowSummaries(  # positional: the fields' order
            group, block.plan.metric, wc.start, wc.end, block.plan.kind == "count", sources,
            districts, wc.count.tolist(), mean.tolist(), low.tolist(),
            high.tolist(), last.tolist(), std.tolist(),
            [lates.get(k, 0) for k in row_keys] if lates else zeros,
            [dropped.pop(k, 0) for k in row_keys] if dropped else zeros, breach.tolist()))
        rollup.add_many(block.district_codes[rows], DISTRICT_NAMES, sources,
                        block.plan.metric, wc.count, wc.value, breach, groups)


def _breach(spec: MetricSpec, values: np.ndarray) -> np.ndarray:
    """Which window values cross the metric's static breach threshold (NaN: none)."""
    out = np.zeros(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        if spec.breach_above is not None:
            out |= values > spec.breach_above
        if spec.breach_below is not None:
            out |= values < spec.breach_below
    return out


class Settled:
    """A window taken out of its partition's windows, waiting for its close: its
    statistics (``accs``, once closing) and the rows to evict, per metric (``evict``)."""

    __slots__ = ("accs", "buf", "end", "evict", "lates", "st", "start")

    def __init__(self, st: PartitionState, start: float, end: float, buf: WindowBuffer,
                 lates: dict | None) -> None:
        self.st, self.start, self.end, self.buf, self.lates = st, start, end, buf, lates
        self.accs: _WindowStats | None = None
        self.evict: dict[str, list[int]] = {}


class _WindowStats:
    """A closing window's statistics for every series in it, computed once
    (:meth:`~streams.window_columns.WindowBuffer.stats`), and where each series id's row of
    them is (``pos[sid]``, -1 for a series without readings in the window)."""

    __slots__ = ("ids", "pos", "stats")

    def __init__(self, buf: WindowBuffer) -> None:
        present, self.stats = buf.stats()
        self.ids = buf.series.ids
        self.pos = np.full(len(buf.series.keys), -1, dtype=np.int64)
        self.pos[present] = np.arange(len(present))

    def __contains__(self, key: object) -> bool:
        i = self.ids.get(key)  # type: ignore[call-overload]
        return i is not None and i < len(self.pos) and self.pos[i] >= 0

    def rows_of(self, block: SeriesBlock, due: np.ndarray) -> np.ndarray:
        """The statistics' row of each ``due`` row of ``block`` (-1: no readings); a row's
        series id is looked up once and kept in :attr:`SeriesBlock.sids`."""
        sids = block.sids[due]
        miss = where(sids < 0)
        if len(miss):
            get, keys = self.ids.get, block.keys
            for j, row in zip(miss.tolist(), due[miss].tolist(), strict=True):
                i = get(keys[row])
                if i is not None:
                    sids[j] = block.sids[row] = i
        known = (sids >= 0) & (sids < len(self.pos))
        if every(known):
            return self.pos[sids]
        return np.where(known, self.pos[np.where(known, sids, 0)], -1)


def _columns(block: SeriesBlock, due: np.ndarray, accs: _WindowStats, end: float,
             evict_after: float) -> tuple[tuple[np.ndarray, ...], np.ndarray, list[int]]:
    """The window statistics of the ``due`` rows as columns (count, mean, min, max, last,
    std: the sample one, two passes), the rows they belong to, and the rows to evict (no
    reading for ``evict_after`` seconds). Rows without readings get an empty window."""
    last_seen = block.last_seen
    at = accs.rows_of(block, due)
    has = at >= 0
    sizes, *stats = accs.stats
    counted = block.plan.kind == "count"
    if every(has):  # every series reported: take the statistics' rows as they are
        last_seen[due] = end
        cols = [np.full(len(due), fill) for fill in _COUNTED] if counted else \
            [got[at] for got in stats]
        return (sizes[at], *cols), due, []
    evict: list[int] = []
    seen = last_seen[due]
    gone = ~has & (seen > -math.inf) & (end - seen > evict_after)
    if some(gone):
        evict = due[gone].tolist()
        kept = ~gone
        due, has, at = due[kept], has[kept], at[kept]
    n = len(due)
    count = np.zeros(n, dtype=np.int64)
    cols = [np.full(n, _NAN) for _ in range(5)]  # mean, min, max, last, std
    js = where(has)
    if len(js):
        last_seen[due[js]] = end
        sel = at[js]
        count[js] = sizes[sel]
        for col, got in zip(cols, _COUNTED if counted else [g[sel] for g in stats],
                            strict=True):
            col[js] = got
    return (count, *cols), due, evict


_COUNTED = (1.0, 1.0, 1.0, 1.0, 0.0)  # a counted series' mean, min, max, last, std
