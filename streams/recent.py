"""The recent window values of every series, for an alert's sparkline.

Why this exists: an alert's evidence showed an empty dotted line when no detector of its
series holds recent values. Only some detectors keep them (robust z keeps a ring, CUSUM and
EWMA a single smoothed value); count surge, stuck, silence, threshold and physical range keep
none. So a counted metric (tickets, dossiers, missions: count surge only), and a source's
silence on such a metric, never had a sparkline, and a CUSUM alert had a single dot.

:class:`RecentRing` remembers the last :data:`KEEP` window values of each row of a series
block (in the metric's units: the count of counted events, else the mean; an empty window is
NaN, which the evidence drops) with one vectorised write per closed block. The scoring step
(:func:`streams.scoring.score_block`) feeds it before scoring, and the evidence takes the
longest of the ring and the detectors' own values. It lives in memory only: after a restart
it fills again window by window (the detectors' restored values cover the meantime).

>>> import numpy as np
>>> ring = RecentRing()
>>> for v in (1.0, 2.0, 3.0):
...     ring.write(np.array([0, 2]), np.array([v, 10 * v]))
>>> ring.values(0), ring.values(2), ring.values(1)
((1.0, 2.0, 3.0), (10.0, 20.0, 30.0), ())
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["KEEP", "RecentRing", "ring_of"]

KEEP = 32  # values per series: a 5-minute window's ring spans over two and a half hours


class RecentRing:
    """The last :data:`KEEP` values of each row (rows grow as the block adds series)."""

    __slots__ = ("_filled", "_pos", "_values")

    def __init__(self) -> None:
        self._values: NDArray[np.float64] = np.full((0, KEEP), np.nan)
        self._pos: NDArray[np.int64] = np.zeros(0, dtype=np.int64)     # next slot per row
        self._filled: NDArray[np.int64] = np.zeros(0, dtype=np.int64)  # values held per row

    def _grow(self, n: int) -> None:
        have = len(self._pos)
        if n <= have:
            return
        n = max(n, 2 * have)
        self._values = np.vstack([self._values, np.full((n - have, KEEP), np.nan)])
        self._pos = np.concatenate([self._pos, np.zeros(n - have, dtype=np.int64)])
        self._filled = np.concatenate([self._filled, np.zeros(n - have, dtype=np.int64)])

    def write(self, rows: NDArray[Any], values: NDArray[np.float64]) -> None:
        """Append ``values[j]`` to row ``rows[j]`` (each row at most once per call)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return
        self._grow(int(rows.max()) + 1)
        pos = self._pos[rows]
        self._values[rows, pos] = values
        self._pos[rows] = (pos + 1) % KEEP
        self._filled[rows] = np.minimum(self._filled[rows] + 1, KEEP)

    def values(self, row: int) -> tuple[float, ...]:
        """Row ``row``'s values, oldest first (empty windows as NaN)."""
        if row >= len(self._pos) or not self._filled[row]:
            return ()
        ordered = np.roll(self._values[row], -int(self._pos[row]))
        return tuple(float(v) for v in ordered[KEEP - int(self._filled[row]):])


_RINGS: dict[int, tuple[Any, RecentRing]] = {}


def ring_of(block: Any) -> RecentRing:
    """The ring of a series block (made on first use; held with the block itself, so a new
    block that reuses a dropped block's ``id`` never reads the old block's values)."""
    held = _RINGS.get(id(block))
    if held is None or held[0] is not block:
        held = _RINGS[id(block)] = (block, RecentRing())
    return held[1]
