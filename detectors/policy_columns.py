"""The batch form of alert policies: one policy configuration over many rows (series).

:meth:`Policy.columns() <detectors.policies.Policy.columns>` gives a :class:`PolicyColumns`
with no rows; ``add``/``keep`` follow the rows of the detectors' columns
(:mod:`detectors.columns`), :meth:`~PolicyColumns.decide_many` takes one score per row and
returns which rows fire, exactly as each row's one-series :meth:`Policy.decide` would, and
``get_state(row)`` is byte-identical to that policy's ``get_state()``. A plain
:class:`~detectors.policies.Threshold` is vectorised (:class:`ThresholdColumns`, whose
decisions depend on nothing but the score: ``stateless``); any other policy runs as a loop
over one-series clones (:class:`LoopPolicyColumns`).

>>> from detectors.policies import Hysteresis, Threshold
>>> th = Threshold(0.9).columns(); th.add(3)
0
>>> th.decide_many(np.arange(3), np.array([0.95, 0.2, np.nan]), ts=60.0).tolist()
[True, False, False]
>>> th.get_state(1) == Threshold(0.9).get_state(), th.firing(0), th.stateless
(True, True, True)
>>> gated = (Threshold(0.8) | Hysteresis(fire_after=2)).columns(); gated.add(2)
0
>>> [gated.decide_many(np.arange(2), np.array([0.9, 0.1]), ts=t).tolist() for t in (0, 60)]
[[False, False], [True, False]]
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from detectors.batch import Rows
from detectors.columns import RowTable

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from detectors.policies import Policy, Threshold

__all__ = ["LoopPolicyColumns", "PolicyColumns", "ThresholdColumns"]


class PolicyColumns(Rows):
    """One policy configuration over many rows (see the module docstring).

    ``stateless`` is True when decisions depend on the score alone (the state then only
    remembers the last decision, and a checkpoint may skip it).
    """

    __slots__ = ("policy",)
    stateless: ClassVar[bool] = False

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    @abc.abstractmethod
    def decide_many(self, rows: NDArray[np.intp], scores: NDArray[np.float64],
                    ts: float) -> NDArray[np.bool_]:
        """Feed score ``scores[j]`` to row ``rows[j]`` (distinct rows); returns which fire."""

    @abc.abstractmethod
    def get_state(self, row: int) -> bytes:
        """The row's state, byte-identical to its one-series ``Policy.get_state()``."""

    @abc.abstractmethod
    def set_state(self, row: int, data: bytes) -> None:
        """Restore a row from one-series state bytes (``ValueError`` if they do not fit)."""

    @abc.abstractmethod
    def firing(self, row: int) -> bool:
        """Whether the row's last decision was firing."""


class LoopPolicyColumns(PolicyColumns):
    """The default: one one-series clone per row.

    >>> from detectors.policies import MinDuration, Threshold
    >>> p = LoopPolicyColumns(Threshold(0.5) | MinDuration(60)); p.add(1)
    0
    >>> [p.decide_many(np.arange(1), np.array([0.7]), ts=t)[0] for t in (0.0, 60.0)]
    [np.False_, np.True_]
    """

    __slots__ = ("_pols",)

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._pols: list[Policy] = []

    def __len__(self) -> int:
        return len(self._pols)

    def add(self, n: int = 1) -> int:
        first = len(self._pols)
        self._pols.extend(self.policy.clone() for _ in range(n))
        return first

    def keep(self, rows: NDArray[np.intp]) -> None:
        pols = self._pols
        self._pols = [pols[i] for i in np.asarray(rows).tolist()]

    def decide_many(self, rows: NDArray[np.intp], scores: NDArray[np.float64],
                    ts: float) -> NDArray[np.bool_]:
        pols = self._pols
        return np.array([pols[r].decide(s, ts).firing for r, s in
                         zip(np.asarray(rows).tolist(), np.asarray(scores).tolist(),
                             strict=True)], dtype=bool)

    def get_state(self, row: int) -> bytes:
        return self._pols[row].get_state()

    def set_state(self, row: int, data: bytes) -> None:
        self._pols[row].set_state(data)

    def firing(self, row: int) -> bool:
        return self._pols[row].firing


class ThresholdColumns(PolicyColumns):
    """:class:`~detectors.policies.Threshold` over many rows: ``scores >= t`` (NaN never
    fires); per row only the last decision (one byte), for byte-identical state."""

    __slots__ = ("_scratch", "_t")
    stateless = True
    policy: Threshold

    def __init__(self, policy: Threshold) -> None:
        super().__init__(policy)
        self._scratch = policy.clone()
        self._t = RowTable({"firing": (np.bool_, False, 0)})

    def __len__(self) -> int:
        return self._t.n

    def add(self, n: int = 1) -> int:
        return self._t.add(n)

    def keep(self, rows: NDArray[np.intp]) -> None:
        self._t.keep(rows)

    def decide_many(self, rows: NDArray[np.intp], scores: NDArray[np.float64],
                    ts: float) -> NDArray[np.bool_]:
        # a comparison never warns; NaN compares false
        fire: NDArray[np.bool_] = np.asarray(scores, dtype=np.float64) >= self.policy.t
        self._t["firing"][np.asarray(rows, dtype=np.intp)] = fire
        return fire

    def _row(self, row: int) -> int:
        if not 0 <= row < self._t.n:
            raise IndexError(f"row {row} out of range 0..{self._t.n - 1}")
        return int(row)

    def get_state(self, row: int) -> bytes:
        p: Any = self._scratch
        p._firing = bool(self._t["firing"][self._row(row)])
        return p.get_state()

    def set_state(self, row: int, data: bytes) -> None:
        row = self._row(row)
        self._scratch.set_state(data)
        self._t["firing"][row] = bool(self._scratch.firing)

    def firing(self, row: int) -> bool:
        return bool(self._t["firing"][self._row(row)])
