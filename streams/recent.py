"""The recent window values of every series, for an alert's sparkline.

Why this exists: an alert's evidence showed an empty dotted line when no detector of its
series holds recent values. Only some detectors keep them (robust z keeps a ring, CUSUM and
EWMA a single smoothed value); count surge, stuck, silence, threshold and physical range keep
none. So a counted metric (tickets, dossiers, missions: count surge only), and a source's
silence on such a metric, never had a sparkline, and a CUSUM alert had a single dot.

:class:`RecentRing` remembers the last :data:`KEEP` window values of each row of a series
block (in the metric's units: the count of counted events, else the mean; an empty window is
NaN, which the evidence drops) with one vectorised write per closed block. Each
:class:`~streams.series.SeriesBlock` holds its own (``block.recent``), grown and compacted
with its rows. The scoring step
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

from detectors.rows import RowTable

__all__ = ["KEEP", "RecentRing"]

KEEP = 32  # values per series: a 5-minute window's ring spans over two and a half hours


class RecentRing:
    """The last :data:`KEEP` values of each row (rows grow as the block adds series; a block
    compacts its ring with its rows, :meth:`keep`), held in a
    :class:`~detectors.rows.RowTable`. ``dtype``: how values are held (a series block keeps
    single precision: a sparkline does not need more, and it halves the ring)."""

    __slots__ = ("_t",)

    def __init__(self, dtype: Any = np.float64) -> None:
        # per row: its values, the next slot and how many values it holds
        self._t = RowTable({"values": (dtype, np.nan, KEEP), "pos": (np.uint8, 0, 0),
                            "filled": (np.uint8, 0, 0)})

    @property
    def n(self) -> int:
        """Rows in use."""
        return len(self._t)

    def grow(self, n: int) -> None:
        """Have ``n`` rows (new ones empty)."""
        if n > len(self._t):
            self._t.add(n - len(self._t))

    def keep(self, rows: NDArray[Any]) -> None:
        """Keep only ``rows``, in this order (the block evicted the others).

        >>> ring = RecentRing()
        >>> ring.write(np.array([0, 1, 2]), np.array([1.0, 2.0, 3.0]))
        >>> ring.keep(np.array([2, 0])); ring.values(0), ring.values(1), ring.n
        ((3.0,), (1.0,), 2)
        """
        self._t.keep(rows)

    def write(self, rows: NDArray[Any], values: NDArray[np.float64]) -> None:
        """Append ``values[j]`` to row ``rows[j]`` (each row at most once per call)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return
        self.grow(int(rows.max()) + 1)
        t = self._t
        pos = t["pos"][rows]
        t["values"][rows, pos] = values
        t["pos"][rows] = (pos + 1) % KEEP
        t["filled"][rows] = np.minimum(t["filled"][rows] + 1, KEEP)

    def values(self, row: int) -> tuple[float, ...]:
        """Row ``row``'s values, oldest first (empty windows as NaN; single-precision values
        as the shortest decimals that give them back, 3.1 rather than 3.0999999046325684)."""
        t = self._t
        if row >= len(t) or not t["filled"][row]:
            return ()
        ordered = np.roll(t["values"][row], -int(t["pos"][row]))[KEEP - int(t["filled"][row]):]
        if ordered.dtype == np.float32:
            return tuple(float(str(v)) for v in ordered)
        return tuple(float(v) for v in ordered)
