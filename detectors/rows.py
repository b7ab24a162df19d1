"""Numpy storage for the batch forms: named columns one row per series, and the base class
of the vectorised detectors that keep their state in them.

:class:`RowTable` holds the columns (capacity doubles as rows are added, :meth:`RowTable.keep`
compacts after eviction); :class:`ArrayColumns` is the base of the numpy
:class:`~detectors.batch.DetectorColumns`: a subclass declares its columns, moves one row to and
from a one-series detector, and vectorises the verbs, and gets ``get_state``, ``set_state``,
``explain`` and ``recent`` byte for byte from the one-series detector.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from detectors.base import Detector, Explanation
from detectors.batch import DetectorColumns
from detectors.masks import every
from detectors.windows import WindowColumns

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["ArrayColumns", "RowTable"]

_ENC = msgspec.msgpack.Encoder()
_NAN = float("nan")


class RowTable:
    """Named numpy columns, one row per series, whose capacity doubles as rows are added.

    >>> t = RowTable({"n": (np.int64, 0, 0), "ring": (np.float32, 0.0, 4)})
    >>> t.add(3), t["ring"].shape[1], t.add(2), len(t)
    (0, 4, 3, 5)
    >>> t["n"][:5] = [10, 11, 12, 13, 14]; t.keep(np.array([4, 1])); t["n"][:2].tolist()
    [14, 11]
    """

    __slots__ = ("_cols", "_spec", "cap", "n")

    def __init__(self, spec: dict[str, tuple[Any, Any, int]]) -> None:
        """``spec``: name -> (dtype, fresh value, width; 0 for a scalar per row)."""
        self._spec = spec
        self.n = 0
        self.cap = 0
        self._cols: dict[str, np.ndarray] = {
            name: np.empty((0, width) if width else 0, dtype=dtype)
            for name, (dtype, _, width) in spec.items()}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, name: str) -> np.ndarray:
        """The whole column (capacity rows; only the first ``len`` are live)."""
        return self._cols[name]

    def add(self, k: int) -> int:
        first = self.n
        need = first + k
        if need > self.cap:
            cap = max(need, 2 * self.cap, 16)
            for name, (dtype, _, width) in self._spec.items():
                old = self._cols[name]
                new = np.empty((cap, width) if width else cap, dtype=dtype)
                new[:first] = old[:first]
                self._cols[name] = new
            self.cap = cap
        for name, (_, fresh, _) in self._spec.items():
            self._cols[name][first:need] = fresh
        self.n = need
        return first

    def keep(self, rows: NDArray[np.intp]) -> None:
        rows = np.asarray(rows, dtype=np.intp)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.n):
            raise IndexError(f"keep: rows out of range 0..{self.n - 1}")
        for col in self._cols.values():
            col[: len(rows)] = col[rows]
        self.n = len(rows)

    def row_bytes(self) -> int:
        return sum(c.itemsize * (c.shape[1] if c.ndim == 2 else 1) for c in self._cols.values())


class ArrayColumns(DetectorColumns):
    """Base of the numpy batch forms: state in a :class:`RowTable`, plus per row the last
    score, raw statistic and baseline (for :meth:`explain`).

    Subclasses declare their columns in :meth:`_spec`, move one row to and from a one-series
    *scratch* detector in :meth:`_export`/:meth:`_import` (which gives ``get_state``,
    ``set_state``, ``explain`` and ``recent`` for free, byte for byte) and vectorise
    ``score_many``/``learn_many``; rare rows may take the one-series path
    (:meth:`_score_one`, :meth:`_learn_one`). What ``score_many`` works out that
    ``learn_many`` of the same rows and window needs again may be handed over
    (:meth:`_hold`, :meth:`_held`): the worker scores a block, then learns it.
    """

    __slots__ = ("_hand", "_scratch", "t")

    def __init__(self, detector: Detector) -> None:
        super().__init__(detector)
        self._scratch = detector.clone()
        self._hand: tuple[bytes, WindowColumns, Any] | None = None
        base: dict[str, tuple[Any, Any, int]] = {
            "_score": (np.float64, 0.0, 0), "_raw": (np.float64, 0.0, 0),
            "_base": (np.float64, _NAN, 0)}
        self.t = RowTable(base | self._spec())

    @abc.abstractmethod
    def _spec(self) -> dict[str, tuple[Any, Any, int]]:
        """The state columns: name -> (dtype, fresh value, width)."""

    @abc.abstractmethod
    def _export(self, row: int, det: Any) -> None:
        """Write row ``row``'s state into the one-series detector ``det``."""

    @abc.abstractmethod
    def _import(self, row: int, det: Any) -> None:
        """Read the one-series detector ``det``'s state into row ``row``."""

    def __len__(self) -> int:
        return self.t.n

    def add(self, n: int = 1) -> int:
        self._hand = None
        return self.t.add(n)

    def keep(self, rows: NDArray[np.intp]) -> None:
        self._hand = None
        self.t.keep(rows)

    def _hold(self, rows: NDArray[np.intp], w: WindowColumns, work: Any) -> None:
        """Keep ``work`` (derived from the state of ``rows`` and the window ``w``) for the
        next :meth:`_held` of the same rows and window."""
        self._hand = (rows.tobytes(), w, work)  # rows are intp: equal bytes, equal rows

    def _held(self, rows: NDArray[np.intp], w: WindowColumns) -> Any:
        """What the last ``score_many`` held, if it scored these rows (same values) on this
        window (the same object) and no row changed since; else None. Taken once."""
        hand, self._hand = self._hand, None
        if hand is None or hand[1] is not w or hand[0] != rows.tobytes():
            return None
        return hand[2]

    def row_bytes(self) -> int:
        return self.t.row_bytes()

    def _check(self, row: int) -> int:
        if not 0 <= row < self.t.n:
            raise IndexError(f"row {row} out of range 0..{self.t.n - 1}")
        return int(row)

    def _load(self, row: int) -> Detector:
        """The scratch detector holding row ``row`` (state and last score)."""
        row = self._check(row)
        det, t = self._scratch, self.t
        det._last_score = float(t["_score"][row])
        det._last_raw = float(t["_raw"][row])
        det._last_baseline = float(t["_base"][row])
        self._export(row, det)
        return det

    def _store(self, row: int, det: Detector) -> None:
        self._hand = None
        t = self.t
        t["_score"][row] = det._last_score
        t["_raw"][row] = det._last_raw
        t["_base"][row] = det._last_baseline
        self._import(row, det)

    def _scored(self, rows: NDArray[np.intp], score: Any, raw: Any, base: Any) -> None:
        """Remember the last score, raw statistic and baseline of ``rows``."""
        t = self.t
        t["_score"][rows] = score
        t["_raw"][rows] = raw
        t["_base"][rows] = base

    @staticmethod
    def _value_inputs(w: WindowColumns) -> tuple[NDArray[np.bool_], NDArray[np.float64], float]:
        """What a rhythm-aware value detector sees (:meth:`Detector.score_window`): (rows
        whose window is not an empty measured one, ``value / rhythm``, the rhythm)."""
        r = w.rhythm_factor
        live = (w.count > 0) if w.kind == "measure" else np.ones(len(w), dtype=bool)
        if r >= 1.0:  # the quotient cannot overflow (NaN and inf divide quietly)
            return live, w.value / r, r
        with np.errstate(over="ignore"):
            return live, w.value / r, r

    def _scored_live(self, rows: NDArray[np.intp], live: NDArray[np.bool_], score: Any,
                     raw: Any, base: Any) -> None:
        """:meth:`_scored` of the ``live`` rows (``score``, ``raw``, ``base`` per row of
        ``rows``), :meth:`_scored_empty` of the others."""
        if every(live):
            self._scored(rows, score, raw, base)
        else:
            self._scored(rows[live], score[live], raw[live], base[live])
            self._scored_empty(rows[~live])

    def _scored_empty(self, rows: NDArray[np.intp]) -> None:
        """Rows given an empty measured window: score 0, raw 0, the baseline kept (as
        :meth:`Detector.score_window`)."""
        t = self.t
        t["_score"][rows] = 0.0
        t["_raw"][rows] = 0.0

    def _score_one(self, rows: NDArray[np.intp], w: WindowColumns, js: Any,
                   out: NDArray[np.float64]) -> None:
        """Score window rows ``js`` on the one-series path (into ``out[js]``)."""
        for j in np.asarray(js).tolist():
            row = int(rows[j])
            det = self._load(row)
            out[j] = det.score_window(w.row(j))
            self._store(row, det)

    def _learn_one(self, rows: NDArray[np.intp], w: WindowColumns, js: Any) -> None:
        """Learn window rows ``js`` on the one-series path."""
        for j in np.asarray(js).tolist():
            row = int(rows[j])
            det = self._load(row)
            det.learn_window(w.row(j))
            self._store(row, det)

    def explain(self, row: int) -> Explanation:
        return self._load(row).explain()

    def recent(self, row: int) -> tuple[float, ...]:
        return self._load(row).recent()

    def get_state(self, row: int) -> bytes:
        return self._load(row).get_state()

    def get_states(self, rows: NDArray[np.intp]) -> list[bytes]:
        """Many rows' states encoded from the columns, without a one-series detector per
        row: state attribute ``_x`` is column ``x`` (as :meth:`_export` writes it);
        subclasses whose attributes map otherwise override :meth:`_state_column`."""
        rows = np.asarray(rows, dtype=np.intp)
        cols = [self._state_column(a, rows) for a in self.detector.state_attrs]
        head = [self.detector.version]
        encode = _ENC.encode
        if not cols:  # stateless: the version alone
            return [encode(head)] * len(rows)
        return [encode(head + list(vals)) for vals in zip(*cols, strict=True)]

    def _state_column(self, attr: str, rows: NDArray[np.intp]) -> list[Any]:
        """The values of one state attribute for ``rows``, typed as the one-series detector
        holds them (Python ints and floats)."""
        return self.t[attr.lstrip("_")][rows].tolist()

    def set_state(self, row: int, data: bytes) -> None:
        det = self._load(row)
        det.set_state(data)  # raises ValueError and changes nothing on bad bytes
        self._hand = None
        self._import(row, det)
