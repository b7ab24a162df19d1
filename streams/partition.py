"""The state of one topic partition: its open windows and its tracked series, per metric.

>>> from streams.runtime import DetectorRuntime
>>> st = PartitionState("flooding", 0, lateness=0.0)
>>> plan = DetectorRuntime.build().plan("flooding", "rainfall")
>>> st.track(plan, "rain-HC-01", "Hai Chau")
('rain-HC-01', 'rainfall')
>>> len(st.series), st.blocks["rainfall"].row(("rain-HC-01", "rainfall"))
(1, 0)
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence

from ioc import catalog
from streams.budget import SeriesBudget
from streams.plan_columns import PlanColumns
from streams.runtime import MetricPlan
from streams.series import Key, SeriesBlock
from streams.windows import PartitionWindows

__all__ = ["PartitionState"]

_DISTRICTS = {name: name for name in catalog.DISTRICT_NAMES}


class PartitionState:
    """The windows and series of one topic partition.

    ``series`` maps each tracked key to the one key object its windows and tables share;
    ``blocks`` holds the series of each metric column-wise. ``event_clock`` is the windows'
    clock right after the last message with readings, at ``last_event_wall`` (monotonic
    seconds); ``last_close_wall`` is when a window last closed. ``replayed_offset`` is the last
    input offset the restored checkpoints had folded in: input up to it is read again after a
    restart (readings of its closed windows are skipped quietly), input after it is new (a
    reading for a closed window is late, and refused).
    """

    __slots__ = ("blocks", "dirty", "event_clock", "group", "last_close_wall",
                 "last_event_wall", "last_offset", "partition", "reading_metrics",
                 "replayed_offset", "series", "shared", "windows")

    def __init__(self, group: str, partition: int, *, lateness: float,
                 reading_metrics: frozenset[str] = frozenset(), max_jump: float = math.inf,
                 budget: SeriesBudget | None = None,
                 shared: dict[str, PlanColumns] | None = None) -> None:
        self.group = group
        self.partition = partition
        self.windows = PartitionWindows(group, partition,
                                        width=float(catalog.group(group).window_s),
                                        lateness=lateness, max_jump=max_jump)
        self.series: dict[Key, Key] = {}
        self.blocks: dict[str, SeriesBlock] = {}
        self.windows.known = self.series
        self.windows.budget = budget
        self.dirty: set[Key] = set()
        self.last_event_wall = self.last_close_wall = time.monotonic()
        self.event_clock = -math.inf
        self.last_offset = -1
        self.replayed_offset = -1
        self.reading_metrics = reading_metrics
        # metric -> the detector columns this partition's blocks share with the worker's
        # other partitions of the group (streams.plan_columns)
        self.shared = {} if shared is None else shared

    def track(self, plan: MetricPlan, source: str, district: str) -> Key:
        """Start tracking (source, plan's metric) with fresh state; returns its key object."""
        return self.track_many(plan, [source], [district])[0]

    def track_many(self, plan: MetricPlan, sources: Sequence[str], districts: Sequence[str]
                   ) -> list[Key]:
        """:meth:`track` of many sources of one metric at once (their block grows once)."""
        # one string object per id, shared by every structure that names it
        metric = plan.metric
        keys = [(sys.intern(source), metric) for source in sources]
        block = self.blocks.get(metric)
        if block is None:
            columns = self.shared.get(metric)
            if columns is None or columns.plan is not plan:
                columns = self.shared[metric] = PlanColumns(plan)
            block = self.blocks[metric] = SeriesBlock(plan, columns)
        block.add_many(keys, [_DISTRICTS.get(d, d) for d in districts])
        series = self.series
        for key in keys:
            series[key] = key
        return keys

    def block_of(self, key: Key) -> tuple[SeriesBlock, int] | None:
        """The block and row of a tracked key."""
        block = self.blocks.get(key[1])
        if block is None:
            return None
        row = block.rows.get(key)
        return None if row is None else (block, row)

    def release(self) -> None:
        """Give the blocks' slots in the shared columns back (the partition was revoked)."""
        for block in self.blocks.values():
            block.release()

    def forget(self, block: SeriesBlock, rows: list[int]) -> list[Key]:
        """Stop tracking ``rows`` of ``block``; returns their keys."""
        gone = set(rows)
        keys = [block.keys[r] for r in rows]
        block.keep([r for r in range(len(block)) if r not in gone])
        drop = self.windows.series.drop
        for key in keys:
            del self.series[key]
            self.dirty.discard(key)
            drop(key)
        return keys
