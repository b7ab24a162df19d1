"""The partitions a worker owns: their state, their clocks, and readings folded into them.

:class:`PartitionSet` makes a partition's :class:`~streams.partition.PartitionState` on first
use, folds a message's readings into its open windows (the readings the windows refuse wait
in :attr:`PartitionSet.refused` for the dead-letter topic), and forgets partitions taken
away by a rebalance. Closing the windows is :mod:`streams.close_schedule`'s job.

>>> ps = PartitionSet(lateness=0.0)
>>> for part, t in enumerate([100.0, 200.0, 9e9]):
...     ps.state("flooding", part).windows.clock = t
>>> ps.clock(), ps.closed_upto("flooding", 7)
(200.0, -inf)
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ioc.events import Reading
from streams.budget import SeriesBudget
from streams.clocks import worker_clock
from streams.partition import PartitionState
from streams.plan_columns import PlanColumns
from streams.scoring import score_reading
from streams.windows import Refused

if TYPE_CHECKING:
    from streams.metrics import WorkerMetrics

__all__ = ["PartitionSet"]


class PartitionSet:
    """The :class:`PartitionState` of every (group, partition) a worker owns (``parts``).

    ``reading_metrics`` names, per group, the metrics whose detectors see every reading;
    ``max_jump_s`` bounds a clock jump, ``clock_lead_s`` how far a clock may lead the wall
    clock.
    """

    def __init__(self, *, lateness: float, max_jump_s: float = 86_400.0,
                 clock_lead_s: float = 0.0, budget: SeriesBudget | None = None,
                 reading_metrics: dict[str, frozenset[str]] | None = None,
                 metrics: WorkerMetrics | None = None) -> None:
        self.lateness = float(lateness)
        self.max_jump_s = float(max_jump_s)
        self.clock_lead_s = float(clock_lead_s)
        self.budget = SeriesBudget() if budget is None else budget
        self.reading_metrics = reading_metrics or {}
        self.metrics = metrics
        self.parts: dict[tuple[str, int], PartitionState] = {}
        # group -> metric -> the detector columns its partitions share (streams.plan_columns)
        self.shared: dict[str, dict[str, PlanColumns]] = {}
        # readings the windows refused (group, partition, (class, field, reason, reading)),
        # for the worker to dead-letter
        self.refused: list[tuple[str, int, Refused]] = []

    def state(self, group: str, partition: int) -> PartitionState:
        """The state of a topic partition (created on first use)."""
        st = self.parts.get((group, partition))
        if st is None:
            st = self.parts[(group, partition)] = PartitionState(
                group, partition, lateness=self.lateness,
                reading_metrics=self.reading_metrics.get(group, frozenset()),
                max_jump=self.max_jump_s, budget=self.budget,
                shared=self.shared.setdefault(group, {}))
        return st

    def clock(self) -> float:
        """The worker's stream clock: the lower median of its partitions' clocks
        (:func:`streams.clocks.worker_clock`)."""
        return worker_clock(st.windows.clock for st in self.parts.values())

    def closed_upto(self, group: str, partition: int) -> float:
        """Readings before this time, on this partition, are in closed windows."""
        st = self.parts.get((group, partition))
        return -math.inf if st is None else st.windows.closed_upto

    def revoke(self, partitions: Iterable[int]) -> set[int]:
        """Forget the state of partitions this worker no longer owns (their series leave
        the budget); returns those partition numbers."""
        gone = set(partitions)
        release = self.budget.release
        for k in [k for k in self.parts if k[1] in gone]:
            st = self.parts.pop(k)
            st.release()
            for src, _metric in [*st.series, *st.windows.fresh]:
                release(k[0], src)
        return gone

    def partition_of(self, group: str, source: str, metric: str) -> int | None:
        """The partition whose windows hold a tracked series (None: not tracked here)."""
        key = (source, metric)
        for (g, p), st in self.parts.items():
            if g == group and key in st.series:
                return p
        return None

    def fold(self, group: str, partition: int, readings: Sequence[Reading], *,
             offset: int = -1, now: float | None = None) -> tuple[int, int, int]:
        """Fold one message's valid readings into their partition's open windows (``now``:
        the wall clock, epoch seconds, default now; no clock passes it by more than
        ``clock_lead_s``). Returns (accepted, late, dropped)."""
        st = self.state(group, partition)
        w = st.windows
        if offset > st.replayed_offset and w.replayed_upto > -math.inf:
            w.replayed_upto = -math.inf  # past what the checkpoints had seen: new input
        got = w.add(readings, (time.time() if now is None else now) + self.clock_lead_s)
        if w.refused:
            self.refused += [(group, partition, x) for x in w.take_refused()]
        st.event_clock = w.clock
        st.last_event_wall = time.monotonic()
        if offset > st.last_offset:
            st.last_offset = offset
        m = self.metrics
        if st.reading_metrics:
            failed = m.detector_failed if m is not None else None
            for r in readings:
                if r.metric in st.reading_metrics:
                    score_reading(st, r, failed)
        if m is not None:
            m.readings(group, got[0], got[1], got[2])
        return got

    def take_refused(self) -> list[tuple[str, int, Refused]]:
        """Readings refused since the last call: (group, partition, (reason class, field,
        reason, reading))."""
        out, self.refused = self.refused, []
        return out
