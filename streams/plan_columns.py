"""The detector and policy columns of one metric plan, shared by its blocks on every partition.

A worker owns several partitions of a group, and each keeps the series of a metric in a
:class:`~streams.series.SeriesBlock`. The blocks' detector states live in one
:class:`PlanColumns` per plan: a block holds its rows' ``slots`` in it. So the windows of many
partitions that close together are scored with one detector call (per-call costs are most of
a close of a few hundred series), while each partition still owns its series, summaries,
alerts and checkpoints.

A slot is never reused: :meth:`PlanColumns.take` appends fresh rows, :meth:`release` counts
the rows a block gave up, and once they are half the columns :meth:`compact` keeps only the
slots still held and renumbers the blocks' slots.

>>> from streams.runtime import DetectorRuntime
>>> pc = PlanColumns(DetectorRuntime.build().plan("flooding", "rainfall"))
>>> pc.take(3).tolist(), pc.take(2).tolist(), len(pc)
([0, 1, 2], [3, 4], 5)
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Protocol

import numpy as np

from detectors.columns import DetectorColumns
from detectors.policy_columns import PolicyColumns

if TYPE_CHECKING:
    from streams.runtime import MetricPlan

__all__ = ["PlanColumns", "SlotHolder"]

_MIN_COMPACT = 4096  # released slots below this never trigger a compaction


class SlotHolder(Protocol):
    """What :meth:`PlanColumns.compact` renumbers: a block's rows' slots."""

    slots: np.ndarray

    def __len__(self) -> int: ...


class PlanColumns:
    """Per detector of ``plan``: its columns (None for a per-reading detector, whose
    instances stay with each block) and its policy's columns, over every block's slots."""

    __slots__ = ("cols", "holders", "plan", "pols", "released", "size")

    def __init__(self, plan: MetricPlan) -> None:
        self.plan = plan
        self.cols: list[DetectorColumns | None] = []
        self.pols: list[PolicyColumns | None] = []
        for d in plan.detectors:
            self.cols.append(None if d.per_reading else d.proto.columns())
            self.pols.append(None if d.per_reading else d.policy.columns())
        self.size = 0
        self.released = 0
        self.holders: weakref.WeakSet[SlotHolder] = weakref.WeakSet()

    def __len__(self) -> int:
        return self.size

    def take(self, n: int, holder: SlotHolder | None = None) -> np.ndarray:
        """``n`` fresh slots (every detector and policy column grown once), for ``holder``."""
        first = self.size
        for cols, pols in zip(self.cols, self.pols, strict=True):
            if cols is not None:
                cols.add(n)
                pols.add(n)  # type: ignore[union-attr]
        self.size += n
        if holder is not None:
            self.holders.add(holder)
        return np.arange(first, first + n, dtype=np.int64)

    def release(self, n: int) -> None:
        """A holder gave up ``n`` slots; compact once they are half the columns."""
        self.released += n
        if self.released >= max(_MIN_COMPACT, self.size // 2):
            self.compact()

    def compact(self) -> None:
        """Keep only the slots the holders still hold, renumbered from 0 in order.

        >>> from streams.runtime import DetectorRuntime
        >>> pc = PlanColumns(DetectorRuntime.build().plan("flooding", "rainfall"))
        >>> class Rows:
        ...     def __init__(self, slots): self.slots = slots
        ...     def __len__(self): return len(self.slots)
        >>> a, b = Rows(pc.take(3)), Rows(pc.take(3))
        >>> pc.holders.update([a, b]); a.slots = a.slots[[0, 2]]
        >>> pc.compact(); a.slots.tolist(), b.slots.tolist(), len(pc)
        ([0, 1], [2, 3, 4], 5)
        """
        holders = list(self.holders)
        held = [h.slots[: len(h)] for h in holders]
        kept = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
        renumber = np.full(self.size, -1, dtype=np.int64)
        renumber[kept] = np.arange(len(kept))
        for cols, pols in zip(self.cols, self.pols, strict=True):
            if cols is not None:
                cols.keep(kept)
                pols.keep(kept)  # type: ignore[union-attr]
        for h, slots in zip(holders, held, strict=True):
            h.slots[: len(h)] = renumber[slots]
        self.size, self.released = len(kept), 0
