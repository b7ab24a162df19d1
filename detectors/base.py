"""The detector contract every built-in and plugin detector follows.

**Scores are floats in [0, 1]; higher is more anomalous.** 0 means "as expected", values near
1 mean "very unlikely under the learned baseline". Each family documents how it maps its raw
statistic (a z-score, a CUSUM sum, a tail probability) onto [0, 1], so one threshold means
roughly the same thing across detectors. A detector never decides whether to alert: that is a
:mod:`detectors.policies` policy.

A detector has two verbs (as in river's ``score_one``/``learn_one``): it **scores a value
before learning from it**, so a spike is judged against the baseline that preceded it.
:meth:`Detector.update` does both in that order. Streams call the window verbs once per closed
window (:class:`WindowStats`); by default they feed ``w.value`` (the mean of a measured metric,
the count of a counted event) to the value verbs, and window-native detectors (stuck value,
silence) override them and set ``input = "window"``.

**Batches.** A worker scores the windows that close together as one batch per detector
configuration: :meth:`Detector.columns` gives the batch form (a
:class:`~detectors.columns.DetectorColumns`, state held column-wise, one row per series) whose
``update_many(rows, w)`` takes a :class:`~detectors.columns.WindowColumns` and agrees exactly
with each row's one-series detector (scores, ``get_state`` bytes, ``explain()``); the default
is a loop over clones, so every plugin has one, and the built-ins that run by default are
vectorised with numpy. Decisions go through :func:`detectors.decision.decide_many`.

>>> import numpy as np
>>> from detectors.columns import WindowColumns
>>> from detectors.statistical import RobustZScore
>>> cols = RobustZScore(window=8, min_samples=4).columns(); cols.add(2)
0
>>> for t in range(6):
...     w = WindowColumns(start=60.0 * t, end=60.0 * t + 60, count=[5, 5], mean=[1.0 + t % 2, 40.0])
...     scores = cols.update_many(np.array([0, 1]), w)
>>> spike = WindowColumns(start=360.0, end=420.0, count=[5, 5], mean=[1.5, 90.0])
>>> cols.update_many(np.array([0, 1]), spike).tolist(), cols.explain(1).baseline
([0.0, 1.0], 40.0)

State must survive a worker restart: :meth:`Detector.get_state` returns compact bytes
(msgpack of primitives) and :meth:`Detector.set_state` restores them so that subsequent
scores are identical. Declaring the state in ``state_attrs`` gives both for free
(:mod:`detectors.state`). The score mappings (:func:`squash_at` and kin) live in
:mod:`detectors.squash`, the window statistics in :mod:`detectors.windows`; all are
importable from here.

>>> class Jump(Detector):
...     '''Score the absolute change from the previous value, squashed by ``scale``.'''
...     name = "jump"
...     version = "1"
...     state_attrs = ("_prev",)
...     __slots__ = ("scale", "_prev")
...     def __init__(self, *, scale: float = 10.0) -> None:
...         super().__init__()
...         self.scale = scale
...         self._prev = float("nan")
...     def score_one(self, x: float, ts: float) -> float:
...         if not (is_finite(x) and is_finite(self._prev)):
...             return self._scored(0.0, raw=0.0, baseline=self._prev)
...         d = abs(x - self._prev)
...         return self._scored(squash_ratio(d, self.scale), raw=d, baseline=self._prev)
...     def learn_one(self, x: float, ts: float) -> None:
...         if is_finite(x):
...             self._prev = x
>>> d = Jump(scale=10.0)
>>> [round(d.update(x, ts=t), 3) for t, x in enumerate([5.0, 6.0, 26.0])]
[0.0, 0.095, 0.865]
>>> d.explain().raw
20.0
>>> d.params()
{'scale': 10.0}
>>> twin = d.clone(); twin.set_state(d.get_state()); twin.score_one(30.0, 3) == d.score_one(30.0, 3)
True
"""

from __future__ import annotations

import abc
import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from detectors.squash import (
    SCORE_MAX,
    SCORE_MIN,
    clamp01,
    is_finite,
    squash_at,
    squash_logistic,
    squash_ratio,
)
from detectors.state import dump_attrs, load_attrs
from detectors.windows import WindowStats

if TYPE_CHECKING:
    from detectors.batch import DetectorColumns

# the contract lives here; the score mappings, the state helpers and the window statistics
# have rooms of their own and stay importable from here, where plugins import them
__all__ = [
    "SCORE_MAX",
    "SCORE_MIN",
    "Detector",
    "Explanation",
    "VectorDetector",
    "WindowStats",
    "clamp01",
    "dump_attrs",
    "is_finite",
    "load_attrs",
    "squash_at",
    "squash_logistic",
    "squash_ratio",
]


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why the last score is what it is (evidence attached to an alert).

    ``raw`` is the family's raw statistic (a z-score, a CUSUM sum, a count tail), ``baseline``
    the expected value, ``threshold`` the raw level the detector itself considers anomalous
    (None if it has none), ``contributing`` recent values (oldest first) for a sparkline,
    ``detail`` family-specific numbers or words.
    """

    score: float
    raw: float
    baseline: float
    threshold: float | None = None
    contributing: tuple[float, ...] = ()
    detail: dict[str, float | str] = field(default_factory=dict)


class Detector(abc.ABC):
    """Base class of every detector (see the module docstring for the contract).

    Subclasses set ``name`` (registry key, ``[a-z0-9_.-]``), ``version`` (bump it when the
    state layout or the scoring changes), take only keyword-only constructor arguments stored
    under the same attribute names (so :meth:`params` and :meth:`clone` work), implement
    :meth:`score_one` and :meth:`learn_one`, and either list their state attributes in
    ``state_attrs`` or override :meth:`get_state`/:meth:`set_state`.

    ``health = True`` marks sensor-health detectors (stuck, silence, physical range): their
    alerts go to engineers rather than operators. Use ``__slots__`` and ``array('d')`` rings:
    a worker keeps one instance per (source, metric), up to 100,000 of them.
    """

    __slots__ = ("_last_baseline", "_last_raw", "_last_score")

    name: ClassVar[str]
    version: ClassVar[str]
    input: ClassVar[Literal["value", "window"]] = "value"
    health: ClassVar[bool] = False
    #: compare window values against the city's known rhythm (see :class:`WindowStats`)
    rhythm_aware: ClassVar[bool] = False
    #: attribute names whose values make up the state (primitives, tuples/lists of them,
    #: or array.array; a dotted name reaches into a part, see :mod:`detectors.state`);
    #: get_state/set_state round-trip exactly these
    state_attrs: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._last_score = 0.0
        self._last_raw = 0.0
        self._last_baseline = math.nan

    # --- the two verbs ----------------------------------------------------------------------
    @abc.abstractmethod
    def score_one(self, x: float, ts: float) -> float:
        """Score ``x`` observed at ``ts`` (epoch seconds) in [0, 1] without learning from it.

        Must not raise on NaN/inf/None (score 0.0 then) nor on a jump in ``ts``.
        """

    @abc.abstractmethod
    def learn_one(self, x: float, ts: float) -> None:
        """Update the baseline with ``x`` (ignore non-finite values)."""

    def update(self, x: float, ts: float) -> float:
        """Score ``x`` then learn from it; returns the score."""
        s = self.score_one(x, ts)
        self.learn_one(x, ts)
        return s

    # --- windows ----------------------------------------------------------------------------
    def score_window(self, w: WindowStats) -> float:
        """Score a closed window; default: ``score_one(w.value, w.end)`` (empty windows: 0).

        A ``rhythm_aware`` detector scores ``w.value / w.rhythm`` instead and reports its
        baseline back in the metric's units at this hour (baseline x rhythm)."""
        if w.count <= 0 and w.kind == "measure":
            return self._scored(0.0, raw=0.0, baseline=self._last_baseline)
        if not self.rhythm_aware:
            return self.score_one(w.value, w.end)
        r = w.rhythm_factor
        s = self.score_one(w.value / r, w.end)
        self._last_baseline *= r
        return s

    def learn_window(self, w: WindowStats) -> None:
        """Learn from a closed window; default: ``learn_one(w.value, w.end)`` unless empty
        (``w.value / w.rhythm`` for a ``rhythm_aware`` detector)."""
        if w.count <= 0 and w.kind == "measure":
            return
        if self.rhythm_aware:
            self.learn_one(w.value / w.rhythm_factor, w.end)
        else:
            self.learn_one(w.value, w.end)

    def update_window(self, w: WindowStats) -> float:
        """Score a window then learn from it."""
        s = self.score_window(w)
        self.learn_window(w)
        return s

    # --- explanation --------------------------------------------------------------------------
    def _scored(self, score: float, *, raw: float, baseline: float) -> float:
        """Remember the last score (for :meth:`explain`) and return it clamped to [0, 1]."""
        s = clamp01(score)
        self._last_score = s
        self._last_raw = raw
        self._last_baseline = baseline
        return s

    def raw_threshold(self) -> float | None:
        """The raw-statistic level this detector treats as anomalous (its ``threshold`` param)."""
        t = getattr(self, "threshold", None)
        return float(t) if t is not None and is_finite(t) else None

    def recent(self) -> tuple[float, ...]:
        """Recent values the detector holds (oldest first), for a sparkline."""
        return ()

    def explain(self) -> Explanation:
        """Explain the last score returned by a ``score_*`` call."""
        return Explanation(
            score=self._last_score,
            raw=self._last_raw,
            baseline=self._last_baseline,
            threshold=self.raw_threshold(),
            contributing=self.recent(),
            detail=self.detail(),
        )

    def detail(self) -> dict[str, float | str]:
        """Family-specific numbers for :meth:`explain` (override to add some)."""
        return {}

    # --- parameters, clones -------------------------------------------------------------------
    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """Names of the keyword-only constructor parameters."""
        sig = inspect.signature(cls.__init__)
        return tuple(
            p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
        )

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Constructor parameters and their defaults (``inspect.Parameter.empty`` if required)."""
        sig = inspect.signature(cls.__init__)
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }

    def params(self) -> dict[str, Any]:
        """The constructor parameters of this instance (JSON-able)."""
        return {n: _jsonable(getattr(self, n)) for n in self.param_names()}

    def clone(self) -> Self:
        """A new instance with the same parameters and a fresh state."""
        return type(self)(**self.params())

    def columns(self) -> DetectorColumns:
        """The batch form of this configuration over many series (:mod:`detectors.columns`),
        with no rows yet; by default a loop over one-series clones of this detector."""
        from detectors.batch import LoopColumns

        return LoopColumns(self)

    # --- state --------------------------------------------------------------------------------
    def get_state(self) -> bytes:
        """Compact bytes (msgpack) holding everything needed to continue scoring."""
        return dump_attrs(self, self.state_attrs, self.version)

    def set_state(self, data: bytes) -> None:
        """Restore a state produced by :meth:`get_state` of the same name and version.

        Raises ``ValueError`` if the bytes do not fit this detector (then start fresh).
        """
        load_attrs(self, self.state_attrs, self.version, data, what=self.name)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class VectorDetector(Detector):
    """A detector over a group's metrics at once (one vector per tick, fixed order).

    ``score_vector``/``learn_vector`` are the verbs; the scalar verbs treat ``x`` as a vector
    of length one, so the single-value conformance checks still apply.
    """

    __slots__ = ()

    @abc.abstractmethod
    def score_vector(self, x: Sequence[float], ts: float) -> float:
        """Score a vector in [0, 1] without learning from it (NaN entries must not raise)."""

    @abc.abstractmethod
    def learn_vector(self, x: Sequence[float], ts: float) -> None:
        """Learn from a vector."""

    def update_vector(self, x: Sequence[float], ts: float) -> float:
        s = self.score_vector(x, ts)
        self.learn_vector(x, ts)
        return s

    def score_one(self, x: float, ts: float) -> float:
        return self.score_vector((x,), ts)

    def learn_one(self, x: float, ts: float) -> None:
        self.learn_vector((x,), ts)


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(i) for i in v]
    return v
