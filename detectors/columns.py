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

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import numpy as np

from detectors.base import Detector, Explanation, WindowStats

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "ArrayColumns",
    "DetectorColumns",
    "LoopColumns",
    "RowTable",
    "WindowColumns",
    "squash_at_many",
]

Kind = Literal["measure", "count"]
_ENC = msgspec.msgpack.Encoder()
_NAN = float("nan")


class WindowColumns:
    """Statistics of many series' windows that closed together (one row per series).

    ``count`` (int64) and ``mean``, ``min``, ``max``, ``last``, ``std`` (float64) are per row;
    missing statistics default to ``mean``; rows with ``count == 0`` hold NaN statistics
    (as :meth:`WindowStats.empty`). ``value`` is the count for counted events, else the mean.

    >>> w = WindowColumns.of([WindowStats(0, 60, 2, 1.5, 1.0, 2.0, 2.0, 0.7),
    ...                       WindowStats.empty(0, 60)])
    >>> len(w), w.value.tolist()[0], w.row(1) == WindowStats.empty(0.0, 60.0)
    (2, 1.5, True)
    """

    __slots__ = ("count", "end", "kind", "last", "max", "mean", "min", "rhythm", "start", "std",
                 "value")

    def __init__(
        self, *, start: float, end: float, count: Any, mean: Any, min: Any = None,
        max: Any = None, last: Any = None, std: Any = None,
        kind: Kind = "measure", rhythm: float = 1.0,
    ) -> None:
        self.start = float(start)
        self.end = float(end)
        self.kind: Kind = kind
        self.rhythm = float(rhythm)
        self.count: NDArray[np.int64] = np.asarray(count, dtype=np.int64)
        n = len(self.count)
        empty = self.count == 0
        has_empty = bool(empty.any())

        def col(v: Any, default: NDArray[np.float64] | None) -> NDArray[np.float64]:
            a = np.asarray(v, dtype=np.float64) if v is not None else default
            if a is None:
                a = np.zeros(n)
            if a.shape != (n,):
                raise ValueError(f"WindowColumns: a column has shape {a.shape}, expected ({n},)")
            return np.where(empty, _NAN, a) if has_empty else a

        self.mean = col(mean, None)
        self.min = col(min, self.mean)
        self.max = col(max, self.mean)
        self.last = col(last, self.mean)
        self.std = col(std, np.zeros(n))
        self.value: NDArray[np.float64] = (
            self.count.astype(np.float64) if kind == "count" else self.mean)

    def __len__(self) -> int:
        return len(self.count)

    @property
    def is_count(self) -> bool:
        return self.kind == "count"

    @property
    def rhythm_factor(self) -> float:
        """``rhythm`` when usable (finite, within (1e-6, 1e6)), else 1.0 (as WindowStats)."""
        r = self.rhythm
        return r if 1e-6 < r < 1e6 else 1.0

    def row(self, i: int) -> WindowStats:
        """The :class:`WindowStats` of row ``i`` (what the one-series path gets)."""
        c = int(self.count[i])
        if c == 0:
            return WindowStats.empty(self.start, self.end, kind=self.kind, rhythm=self.rhythm)
        return WindowStats(self.start, self.end, c, float(self.mean[i]), float(self.min[i]),
                           float(self.max[i]), float(self.last[i]), float(self.std[i]),
                           self.kind, self.rhythm)

    def take(self, js: NDArray[np.intp]) -> WindowColumns:
        """The windows of rows ``js`` (in that order)."""
        return WindowColumns(start=self.start, end=self.end, count=self.count[js],
                             mean=self.mean[js], min=self.min[js], max=self.max[js],
                             last=self.last[js], std=self.std[js], kind=self.kind,
                             rhythm=self.rhythm)

    @classmethod
    def of(cls, stats: Sequence[WindowStats]) -> WindowColumns:
        """Columns of one-series windows that share start, end, kind and rhythm."""
        if not stats:
            raise ValueError("WindowColumns.of: no windows")
        w0 = stats[0]
        for w in stats:
            if (w.start, w.end, w.kind) != (w0.start, w0.end, w0.kind) or not (
                    w.rhythm == w0.rhythm or (w.rhythm != w.rhythm and w0.rhythm != w0.rhythm)):
                raise ValueError("WindowColumns.of: windows differ in start, end, kind or rhythm")
        return cls(start=w0.start, end=w0.end, kind=w0.kind, rhythm=w0.rhythm,
                   count=[w.count for w in stats], mean=[w.mean for w in stats],
                   min=[w.min for w in stats], max=[w.max for w in stats],
                   last=[w.last for w in stats], std=[w.std for w in stats])


def squash_at_many(raw: NDArray[np.float64], threshold: float,
                   power: float = 4.0) -> NDArray[np.float64]:
    """:func:`~detectors.base.squash_at` of every element, bit for bit.

    The power and the exponential are taken per element with Python floats (numpy's own
    ``**`` may differ from the C library in the last bit), only where the score is neither 0
    nor 1.

    >>> squash_at_many(np.array([0.0, 4.0, 100.0, np.nan]), 4.0).tolist()
    [0.0, 0.9, 1.0, 0.0]
    """
    out = np.zeros(len(raw))
    with np.errstate(invalid="ignore", over="ignore"):
        r = raw / threshold
        out[r > 3.0] = 1.0
        mid = np.flatnonzero((raw > 0.0) & (r <= 3.0))
    if len(mid):
        out[mid] = [1.0 - 10.0 ** -(v**power) for v in r[mid].tolist()]
    return out


class DetectorColumns(abc.ABC):
    """One detector configuration over many rows (series); see the module docstring.

    ``detector`` is the prototype (its ``name``, ``health``, parameters). Rows must be
    distinct within one call. :meth:`explain` and :meth:`recent` of a row are what its
    one-series detector returns after its last update.
    """

    __slots__ = ("detector",)

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of rows."""

    @abc.abstractmethod
    def add(self, n: int = 1) -> int:
        """Append ``n`` rows with a fresh state; returns the index of the first."""

    @abc.abstractmethod
    def keep(self, rows: NDArray[np.intp]) -> None:
        """Keep only ``rows``, in this order (row ``i`` becomes old row ``rows[i]``)."""

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
    (:meth:`_score_one`, :meth:`_learn_one`).
    """

    __slots__ = ("_scratch", "t")

    def __init__(self, detector: Detector) -> None:
        super().__init__(detector)
        self._scratch = detector.clone()
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
        return self.t.add(n)

    def keep(self, rows: NDArray[np.intp]) -> None:
        self.t.keep(rows)

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
        with np.errstate(invalid="ignore", over="ignore"):
            return live, w.value / r, r

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
        self._import(row, det)
