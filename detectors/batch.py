"""The batch contract: one detector configuration over many series, state held column-wise.

:class:`DetectorColumns` is what :meth:`Detector.columns <detectors.base.Detector.columns>`
returns: rows are series, ``update_many(rows, w)`` scores and learns a
:class:`~detectors.windows.WindowColumns` in one call, and each row agrees exactly with its
own one-series detector. :class:`LoopColumns` is the default form, a list of one-series
clones, so every detector (plugins too) has one; the numpy forms build on
:class:`~detectors.rows.ArrayColumns`. The whole story, with an example, is in
:mod:`detectors.columns`.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

import numpy as np

from detectors.base import Detector, Explanation
from detectors.windows import WindowColumns

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["DetectorColumns", "LoopColumns", "Rows"]


class Rows(abc.ABC):
    """Anything that holds one row per series and follows the series' rows: detector and
    policy columns alike."""

    __slots__ = ()

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of rows."""

    @abc.abstractmethod
    def add(self, n: int = 1) -> int:
        """Append ``n`` rows with a fresh state; returns the index of the first."""

    @abc.abstractmethod
    def keep(self, rows: NDArray[np.intp]) -> None:
        """Keep only ``rows``, in this order (row ``i`` becomes old row ``rows[i]``)."""


class DetectorColumns(Rows):
    """One detector configuration over many rows (series); see the module docstring.

    ``detector`` is the prototype (its ``name``, ``health``, parameters). Rows must be
    distinct within one call. :meth:`explain` and :meth:`recent` of a row are what its
    one-series detector returns after its last update. A window handed to ``score_many``
    and then ``learn_many`` must not change in between (the numpy forms may reuse what the
    score worked out for the same rows and window object).
    """

    __slots__ = ("detector",)

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    @abc.abstractmethod
    def score_many(self, rows: NDArray[np.intp], w: WindowColumns) -> NDArray[np.float64]:
        """Scores of rows ``rows[j]`` on window row ``j`` (no learning)."""

    @abc.abstractmethod
    def learn_many(self, rows: NDArray[np.intp], w: WindowColumns) -> None:
        """Learn window row ``j`` into row ``rows[j]``."""

    def update_many(self, rows: NDArray[np.intp], w: WindowColumns) -> NDArray[np.float64]:
        """Score then learn; returns the scores."""
        s = self.score_many(rows, w)
        self.learn_many(rows, w)
        return s

    @abc.abstractmethod
    def explain(self, row: int) -> Explanation:
        """What the row's one-series ``explain()`` returns after its last update."""

    @abc.abstractmethod
    def recent(self, row: int) -> tuple[float, ...]:
        """The row's recent values (as the one-series ``recent()``)."""

    @abc.abstractmethod
    def get_state(self, row: int) -> bytes:
        """The row's state, byte-identical to its one-series ``get_state()``."""

    @abc.abstractmethod
    def set_state(self, row: int, data: bytes) -> None:
        """Restore a row from one-series state bytes (``ValueError`` if they do not fit)."""

    def get_states(self, rows: NDArray[np.intp]) -> list[bytes]:
        """:meth:`get_state` of many rows (a checkpoint writes every series whose window
        closed); the numpy forms encode them straight from their columns."""
        return [self.get_state(int(r)) for r in np.asarray(rows).tolist()]

    def row_bytes(self) -> int:
        """Approximate memory per row (bytes), for budgets."""
        return 0


class LoopColumns(DetectorColumns):
    """The default batch form: one one-series clone per row, called in a loop.

    >>> from detectors.rules import StaticThreshold
    >>> cols = LoopColumns(StaticThreshold(above=5.0)); cols.add(2)
    0
    >>> w = WindowColumns(start=0, end=60, count=[3, 3], mean=[1.0, 9.0])
    >>> cols.update_many(np.arange(2), w).round(2).tolist()
    [0.0, 1.0]
    """

    __slots__ = ("_dets", "_params")

    def __init__(self, detector: Detector) -> None:
        super().__init__(detector)
        self._params = detector.params()
        self._dets: list[Detector] = []

    def _fresh(self) -> Detector:
        try:
            return type(self.detector)(**self._params)
        except (TypeError, ValueError):
            return self.detector.clone()

    def __len__(self) -> int:
        return len(self._dets)

    def add(self, n: int = 1) -> int:
        first = len(self._dets)
        self._dets.extend(self._fresh() for _ in range(n))
        return first

    def keep(self, rows: NDArray[np.intp]) -> None:
        dets = self._dets
        self._dets = [dets[i] for i in np.asarray(rows).tolist()]

    def score_many(self, rows: NDArray[np.intp], w: WindowColumns) -> NDArray[np.float64]:
        dets = self._dets
        return np.array([dets[r].score_window(w.row(j))
                         for j, r in enumerate(np.asarray(rows).tolist())], dtype=np.float64)

    def learn_many(self, rows: NDArray[np.intp], w: WindowColumns) -> None:
        dets = self._dets
        for j, r in enumerate(np.asarray(rows).tolist()):
            dets[r].learn_window(w.row(j))

    def update_many(self, rows: NDArray[np.intp], w: WindowColumns) -> NDArray[np.float64]:
        dets = self._dets
        return np.array([dets[r].update_window(w.row(j))
                         for j, r in enumerate(np.asarray(rows).tolist())], dtype=np.float64)

    def explain(self, row: int) -> Explanation:
        return self._dets[row].explain()

    def recent(self, row: int) -> tuple[float, ...]:
        return self._dets[row].recent()

    def get_state(self, row: int) -> bytes:
        return self._dets[row].get_state()

    def set_state(self, row: int, data: bytes) -> None:
        self._dets[row].set_state(data)

    def one(self, row: int) -> Detector:
        """The one-series detector behind ``row``."""
        return self._dets[row]
