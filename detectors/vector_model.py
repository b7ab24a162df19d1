"""One subject's live multivariate model: reservoir, schedule, the fitted model, its policy.

:class:`VectorModel` is everything a worker keeps for one subject (an air station, a group's
indicators in a district). :meth:`VectorModel.step` takes one closed window's vector: it
**scores before it learns** (with the model fitted so far), decides through the subject's
policy and the direction rule (:func:`detectors.decision.decide_mix`, the one decision site:
a feature that explains the score must have moved on its harmful side, ``harmful`` giving
each feature's side), then offers the vector to the reservoir and says whether a fit is
due. The fit runs elsewhere (:func:`detectors.forest_model.fit_model` on
:meth:`fit_request`'s rows) and comes back
through :meth:`install`, which swaps the model in one assignment, newer versions only.
A vector whose window is not after the last one learned (input read again after a restart)
changes nothing.

>>> import random
>>> from detectors.forest_model import fit_model
>>> from detectors.policies import Threshold
>>> m = VectorModel(("a", "b"), Threshold(0.9), IsoParams(min_samples=32, reservoir=64,
...                 n_estimators=20, max_samples=32))
>>> rng = random.Random(2)
>>> for t in range(40):
...     a = rng.gauss(10, 1)
...     step = m.step([a, a + rng.gauss(0, 0.1)], end=60.0 * (t + 1))
...     if step.fit_due:
...         _ = m.install(fit_model(**m.fit_request()))
>>> m.model.version, m.step([11.0, 11.05], end=3000.0).firing
(1, False)
>>> s = m.step([11.0, 8.0], end=3060.0)    # each value usual, together not
>>> s.firing, s.top[0][0] in ("a", "b")
(True, True)
>>> twin = VectorModel.from_state(m.state(), Threshold(0.9), m.params)
>>> twin.install_bytes(m.model.to_bytes()), twin.step([11.0, 8.0], end=3120.0).firing
(True, True)
>>> twin.harmful = {"a": "low", "b": "high"}  # a rose and b fell: both harmless ways
>>> s = twin.step([11.0, 8.0], end=3180.0)
>>> s.firing, s.harmless
(False, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import msgspec

from detectors.decision import decide_mix
from detectors.direction import Side, side_of
from detectors.forest import IsolationForest
from detectors.forest_model import ForestModel
from detectors.multivariate import Reservoir, Schedule
from detectors.policies import Policy
from ioc.catalog_types import Direction

__all__ = ["IsoParams", "Step", "VectorModel", "usual_values"]

_STATE_TAG = "ioc.vector"
_ENC = msgspec.msgpack.Encoder()


@dataclass(frozen=True, slots=True)
class IsoParams:
    """The isolation forest's parameters for live use (``[params.isolation_forest]`` of the
    detector config; validated by :class:`~detectors.forest.IsolationForest`)."""

    n_estimators: int = 60
    max_samples: int = 128
    reservoir: int = 256
    refit_every: int = 288
    min_samples: int = 48
    threshold: float = 0.75
    seed: int = 0

    def __post_init__(self) -> None:
        IsolationForest(**{k: v for k, v in asdict(self).items()})

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Step:
    """What one vector did: its score and raw isolation, whether it fires (policy and
    direction rule), the features that explain it most (only when the policy fired), the
    one that makes it wanted (``cause``), whether a fit is due, and ``harmless``: the policy
    fired but every feature named moved on its harmless side."""

    score: float
    raw: float
    firing: bool
    fit_due: bool
    top: tuple[tuple[str, float], ...] = ()
    replayed: bool = False
    cause: str | None = None
    harmless: bool = False


class VectorModel:
    """A subject's reservoir, refit schedule, fitted model and policy (see the module doc)."""

    __slots__ = ("asked_seen", "features", "fitted_seen", "harmful", "last_end", "model",
                 "params", "pending", "policy", "reservoir", "schedule")

    def __init__(self, features: Sequence[str], policy: Policy, params: IsoParams, *,
                 harmful: Mapping[str, Direction] | None = None) -> None:
        self.features = tuple(features)
        self.harmful: Mapping[str, Direction] = harmful or {}  # not listed: both sides
        self.policy = policy
        self.params = params
        self.reservoir = Reservoir(capacity=params.reservoir, d=len(self.features),
                                   seed=params.seed)
        self.schedule = Schedule(params.min_samples, params.refit_every)
        self.model: ForestModel | None = None
        self.last_end = -math.inf
        self.fitted_seen = 0   # reservoir.seen at the installed model's fit (0: none)
        self.asked_seen = 0    # reservoir.seen when the last fit was asked for
        self.pending = False   # a fit was asked for and has not come back

    # --- the verbs -------------------------------------------------------------------------
    def step(self, x: Sequence[float], *, end: float) -> Step:
        """Score, decide and learn one window's vector (NaN: a metric without readings)."""
        if end <= self.last_end:
            return Step(0.0, 0.0, False, False, replayed=True)
        model = self.model
        score, raw = model.score(x) if model is not None else (0.0, 0.0)
        mix = decide_mix(score, self.policy, end, directions=self.harmful,
                         explain=lambda: model.contributions(x) if model is not None else [],
                         side=lambda f: self._side(f, x))
        self.last_end = end
        row = [float(v) for v in x]
        if len(row) == len(self.features) and all(math.isfinite(v) for v in row):
            self.reservoir.add(row)
        due = not self.pending and self.schedule.due(self.reservoir.seen, self.asked_seen)
        if due:
            self.pending = True
            self.asked_seen = self.reservoir.seen
        return Step(score, raw, mix.firing, due, mix.top, cause=mix.cause,
                    harmless=mix.harmless)

    def _side(self, feature: str, x: Sequence[float]) -> Side | None:
        """Where ``feature``'s value in ``x`` lies against its usual value."""
        if self.model is None:
            return None
        return side_of(float(x[self.features.index(feature)]), self.model.usual(feature))

    def fit_request(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~detectors.forest_model.fit_model` for the next fit
        (a copy of the reservoir: the fit may run in another thread)."""
        p = self.params
        version = (self.model.version if self.model is not None else 0) + 1
        return {"rows": self.reservoir.rows(), "features": self.features, "version": version,
                "n_estimators": p.n_estimators, "max_samples": p.max_samples, "seed": p.seed,
                "threshold": p.threshold}

    def install(self, model: ForestModel | None, *, restored: bool = False) -> bool:
        """Swap in a fitted model (None: the fit failed, ask again at the next vector);
        False if it is not newer. ``restored``: a stored model, not the answer to a fit."""
        if not restored:
            self.pending = False
        if model is None or model.features != self.features or (
                self.model is not None and model.version <= self.model.version):
            if not restored:
                self.asked_seen = self.fitted_seen
            return False
        self.model = model
        if not restored:
            self.fitted_seen = self.asked_seen
        return True

    def install_bytes(self, data: bytes) -> bool:
        """:meth:`install` a stored model (``ValueError`` if the bytes do not check)."""
        return self.install(ForestModel.from_bytes(data), restored=True)

    # --- state -----------------------------------------------------------------------------
    def state(self) -> bytes:
        """Everything but the model (stored apart, only when its version changes)."""
        version = self.model.version if self.model is not None else 0
        return _ENC.encode([_STATE_TAG, 1, list(self.features), self.reservoir.state(),
                            self.last_end, self.fitted_seen, version,
                            self.policy.get_state()])

    @classmethod
    def from_state(cls, data: bytes, policy: Policy, params: IsoParams, *,
                   harmful: Mapping[str, Direction] | None = None) -> VectorModel:
        """A subject from :meth:`state` without its model (install it with
        :meth:`install_bytes`); ``ValueError`` if the bytes do not fit."""
        try:
            tag, fmt, features, res, last_end, fitted_seen, _version, pol = \
                msgspec.msgpack.decode(data)
        except (msgspec.DecodeError, ValueError, TypeError) as exc:
            raise ValueError(f"not a vector model state: {exc}") from None
        if tag != _STATE_TAG or fmt != 1:
            raise ValueError("not a vector model state")
        m = cls([str(f) for f in features], policy, params, harmful=harmful)
        m.reservoir = Reservoir.from_state(res)
        if m.reservoir.d != len(m.features):
            raise ValueError("vector model state: reservoir width differs from its features")
        m.last_end, m.fitted_seen = float(last_end), int(fitted_seen)
        m.asked_seen = m.fitted_seen  # a fit in flight when the state was taken: ask again
        policy.set_state(bytes(pol))
        return m

    @staticmethod
    def model_version_of(data: bytes) -> int:
        """The model version a state was written with (0: none)."""
        try:
            return int(msgspec.msgpack.decode(data)[6])
        except (msgspec.DecodeError, ValueError, TypeError, IndexError):
            return 0


def usual_values(model: ForestModel, x: Sequence[float],
                 scale: Sequence[float] | None = None) -> dict[str, float]:
    """Each feature's value and its usual value, for an explanation's detail; ``scale``
    multiplies both back into the metric's units (vectors divided by a rhythm).

    >>> import numpy as np
    >>> from detectors.forest_model import fit_model
    >>> rows = np.column_stack([np.arange(20.0), np.arange(20.0)])
    >>> m = fit_model(rows, ("a", "b"), version=1, n_estimators=5, max_samples=8, seed=0,
    ...               threshold=0.75)
    >>> usual_values(m, [1.0, 2.0])
    {'value.a': 1.0, 'usual.a': 9.5, 'value.b': 2.0, 'usual.b': 9.5}
    """
    out: dict[str, float] = {}
    scale = scale or [1.0] * len(x)
    for f, v, k in zip(model.features, x, scale, strict=True):
        out[f"value.{f}"] = float(v) * k
        out[f"usual.{f}"] = model.usual(f) * k
    return out
