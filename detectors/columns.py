"""The batch form of detectors: many series' windows scored in one call, state held column-wise.

A worker closes the windows of thousands of series at once. :class:`WindowColumns` holds the
statistics of windows that closed together (one row per series, the same ``start``, ``end``,
``kind`` and ``rhythm``), and :class:`DetectorColumns` is one detector configuration over many
rows: ``score_many(rows, w)`` scores row ``rows[j]`` on window row ``j`` of ``w``,
``learn_many`` learns, and ``update_many`` does both, as one call per batch. Each row behaves
*exactly* like its own one-series detector fed the same windows (:meth:`WindowColumns.row`):
the same scores, the same :meth:`~DetectorColumns.get_state` bytes (so checkpoints keep their
format), the same :meth:`~DetectorColumns.explain` after a row's update.
:meth:`~detectors.base.Detector.columns` builds the batch form of any detector: the built-ins
that run by default have numpy forms, any other (plugins too) gets :class:`LoopColumns`, a list
of one-series clones.

Rows are plain indexes: :meth:`~DetectorColumns.add` appends fresh rows and returns the first
index, :meth:`~DetectorColumns.keep` keeps some rows in a given order (after eviction). The
``rows`` passed to one call must be distinct.

>>> import numpy as np
>>> from detectors.statistical import RobustZScore
>>> proto = RobustZScore(window=8, min_samples=4)
>>> cols = proto.columns()
>>> cols.add(3), len(cols)
(0, 3)
>>> rows = np.arange(3)
>>> history = [WindowColumns(start=60.0 * t, end=60.0 * t + 60, count=np.full(3, 6),
...                          mean=np.array([10.0, 20.0, 30.0]) + t % 2) for t in range(8)]
>>> for w in history:
...     _ = cols.update_many(rows, w)
>>> spike = WindowColumns(start=480.0, end=540.0, count=np.full(3, 6),
...                       mean=np.array([10.5, 20.5, 90.0]))
>>> cols.update_many(rows, spike).round(3).tolist()
[0.0, 0.0, 1.0]
>>> alone = proto.clone()                   # row 2 as its own one-series detector
>>> for w in [*history, spike]:
...     _ = alone.update_window(w.row(2))
>>> cols.get_state(2) == alone.get_state(), cols.explain(2) == alone.explain()
(True, True)
>>> cols.keep(np.array([2, 0])); len(cols), cols.recent(0)[-1]
(2, 90.0)
"""

from __future__ import annotations

from detectors.batch import DetectorColumns, LoopColumns
from detectors.rows import ArrayColumns, RowTable
from detectors.squash import squash_at_many
from detectors.windows import WindowColumns

# the batch contract in its rooms: windows.py (the input), batch.py (the contract and its
# default loop form), rows.py (numpy storage), squash.py (the score mapping); importable here
__all__ = [
    "ArrayColumns",
    "DetectorColumns",
    "LoopColumns",
    "RowTable",
    "WindowColumns",
    "squash_at_many",
]
