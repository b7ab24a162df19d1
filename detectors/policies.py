"""Alert policies: the yes/no decision on top of a detector's score, kept apart from it.

A *trigger* turns a score into "over the line or not" (:class:`Threshold`,
:class:`RollingQuantile`); *gates* shape that condition over time (:class:`Hysteresis`,
:class:`MinDuration`). Compose them left to right with ``|``; every policy answers
:meth:`Policy.decide` with a :class:`Decision` (is it firing now, did that just change) and is
stateful and serialisable like a detector (``get_state``/``set_state``, ``clone``).

>>> p = Threshold(0.8) | Hysteresis(fire_after=2, clear_after=2)
>>> [p.decide(s, ts=t).firing for t, s in enumerate([0.9, 0.95, 0.1, 0.9, 0.1, 0.1])]
[False, True, True, True, True, False]
>>> p.decide(0.99, ts=6)
Decision(firing=False, changed=False)
"""

from __future__ import annotations

import abc
import array
import bisect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

import msgspec

from detectors.base import dump_attrs, load_attrs

if TYPE_CHECKING:
    from detectors.policy_columns import PolicyColumns, ThresholdColumns

_ENC = msgspec.msgpack.Encoder()

__all__ = [
    "Chain",
    "Decision",
    "Gate",
    "Hysteresis",
    "MinDuration",
    "Policy",
    "RollingQuantile",
    "Threshold",
]


@dataclass(frozen=True, slots=True)
class Decision:
    """``firing``: the alert condition holds now; ``changed``: it differs from the last call."""

    firing: bool
    changed: bool


class _Stateful:
    """get_state/set_state/params/clone shared by triggers and gates."""

    __slots__ = ()
    state_attrs: ClassVar[tuple[str, ...]] = ()
    param_attrs: ClassVar[tuple[str, ...]] = ()
    tag: ClassVar[str] = "1"

    def params(self) -> dict[str, Any]:
        return {a: getattr(self, a) for a in self.param_attrs}

    def get_state(self) -> bytes:
        return dump_attrs(self, self.state_attrs, self.tag)

    def set_state(self, data: bytes) -> None:
        load_attrs(self, self.state_attrs, self.tag, data, what=type(self).__name__)

    def clone(self) -> Self:
        return type(self)(**self.params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class Policy(_Stateful, abc.ABC):
    """Decides from a score (in [0, 1]) and its time whether an alert is firing."""

    __slots__ = ("_firing",)

    def __init__(self) -> None:
        self._firing = False

    @abc.abstractmethod
    def _condition(self, score: float, ts: float) -> bool:
        """Whether the alert condition holds at this score (may update internal state)."""

    def decide(self, score: float, ts: float) -> Decision:
        """Feed one score; NaN scores count as "not over the line"."""
        firing = self._condition(score, ts)
        changed = firing != self._firing
        self._firing = firing
        return Decision(firing, changed)

    @property
    def firing(self) -> bool:
        return self._firing

    def columns(self) -> PolicyColumns:
        """The batch form of this policy over many series (:mod:`detectors.policy_columns`),
        with no rows yet; by default a loop over clones."""
        from detectors.policy_columns import LoopPolicyColumns

        return LoopPolicyColumns(self)

    def __or__(self, gate: Gate) -> Chain:
        if not isinstance(gate, Gate):
            return NotImplemented
        return Chain(self, gate)


class Gate(_Stateful, abc.ABC):
    """Shapes a boolean condition over time (needs a trigger in front: ``trigger | gate``)."""

    __slots__ = ()

    @abc.abstractmethod
    def gate(self, active: bool, ts: float) -> bool:
        """Feed the upstream condition, return the shaped one."""


class Threshold(Policy):
    """Over the line when ``score >= t``.

    >>> Threshold(0.9).decide(0.95, ts=0)
    Decision(firing=True, changed=True)
    """

    __slots__ = ("t",)
    param_attrs = ("t",)
    state_attrs = ("_firing",)

    def __init__(self, t: float = 0.9) -> None:
        if not (0.0 <= t <= 1.0):
            raise ValueError(f"Threshold: t must be in [0, 1], got {t!r}")
        super().__init__()
        self.t = float(t)

    def _condition(self, score: float, ts: float) -> bool:
        return score >= self.t

    def columns(self) -> ThresholdColumns:
        from detectors.policy_columns import ThresholdColumns

        return ThresholdColumns(self)


class RollingQuantile(Policy):
    """Over the line when the score exceeds the ``q`` quantile of the last ``window`` scores.

    The score is compared with the scores *before* it, then added. Nothing fires before
    ``window // 2`` scores are seen, nor below ``floor`` (so a quiet stream of near-zero
    scores does not alert a fixed fraction of the time).

    >>> p = RollingQuantile(0.9, window=20, floor=0.3)
    >>> [p.decide(s, ts=i).firing for i, s in enumerate([0.2, 0.3] * 10 + [0.8])][-3:]
    [False, False, True]
    """

    __slots__ = ("_ring", "_sorted", "floor", "q", "window")
    param_attrs = ("q", "window", "floor")
    state_attrs = ("_firing", "_ring", "_sorted")

    def __init__(self, q: float = 0.99, window: int = 200, floor: float = 0.5) -> None:
        if not (0.0 < q < 1.0):
            raise ValueError(f"RollingQuantile: q must be in (0, 1), got {q!r}")
        if window < 4:
            raise ValueError(f"RollingQuantile: window must be >= 4, got {window!r}")
        super().__init__()
        self.q = float(q)
        self.window = int(window)
        self.floor = float(floor)
        self._ring = array.array("d")  # arrival order, oldest first
        self._sorted = array.array("d")

    def quantile(self) -> float:
        """The current ``q`` quantile (NaN while empty)."""
        n = len(self._sorted)
        if not n:
            return math.nan
        return self._sorted[min(n - 1, int(self.q * n))]

    def _condition(self, score: float, ts: float) -> bool:
        if score != score:
            return False
        fire = (
            len(self._sorted) >= self.window // 2
            and score >= self.floor
            and score > self.quantile()
        )
        if len(self._ring) >= self.window:
            old = self._ring.pop(0)
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self._ring.append(score)
        bisect.insort(self._sorted, score)
        return fire


class Chain(Policy):
    """A trigger followed by gates, applied left to right (built by ``|``)."""

    __slots__ = ("gates", "trigger")
    state_attrs = ("_firing",)

    def __init__(self, trigger: Policy, *gates: Gate) -> None:
        super().__init__()
        self.trigger = trigger
        self.gates = gates

    def params(self) -> dict[str, Any]:
        return {
            "trigger": {type(self.trigger).__name__: self.trigger.params()},
            "gates": [{type(g).__name__: g.params()} for g in self.gates],
        }

    def clone(self) -> Self:
        return type(self)(self.trigger.clone(), *(g.clone() for g in self.gates))

    def get_state(self) -> bytes:
        parts = [super().get_state(), self.trigger.get_state()]
        parts += [g.get_state() for g in self.gates]
        return _ENC.encode(parts)

    def set_state(self, data: bytes) -> None:
        try:
            parts = msgspec.msgpack.decode(data)
        except msgspec.DecodeError as exc:
            raise ValueError(f"Chain: state is not msgpack: {exc}") from None
        if not isinstance(parts, list) or len(parts) != 2 + len(self.gates):
            raise ValueError("Chain: state does not match this chain")
        super().set_state(parts[0])
        self.trigger.set_state(parts[1])
        for g, s in zip(self.gates, parts[2:], strict=True):
            g.set_state(s)

    def _condition(self, score: float, ts: float) -> bool:
        active = self.trigger.decide(score, ts).firing
        for g in self.gates:
            active = g.gate(active, ts)
        return active

    def __or__(self, gate: Gate) -> Chain:
        if not isinstance(gate, Gate):
            return NotImplemented
        return Chain(self.trigger, *self.gates, gate)

    def __repr__(self) -> str:
        return " | ".join(repr(p) for p in (self.trigger, *self.gates))


class Hysteresis(Gate):
    """Fire after ``fire_after`` consecutive active inputs, clear after ``clear_after`` quiet ones.

    >>> h = Hysteresis(fire_after=2, clear_after=1)
    >>> [h.gate(a, ts=0) for a in (True, False, True, True, False)]
    [False, False, False, True, False]
    """

    __slots__ = ("_on", "_run", "clear_after", "fire_after")
    param_attrs = ("fire_after", "clear_after")
    state_attrs = ("_on", "_run")

    def __init__(self, fire_after: int = 1, clear_after: int = 1) -> None:
        if fire_after < 1 or clear_after < 1:
            raise ValueError("Hysteresis: fire_after and clear_after must be >= 1")
        self.fire_after = int(fire_after)
        self.clear_after = int(clear_after)
        self._on = False
        self._run = 0  # consecutive inputs disagreeing with the current output

    def gate(self, active: bool, ts: float) -> bool:
        if active == self._on:
            self._run = 0
            return self._on
        self._run += 1
        if self._run >= (self.clear_after if self._on else self.fire_after):
            self._on = active
            self._run = 0
        return self._on


class MinDuration(Gate):
    """Pass the condition on only once it has held for ``seconds`` (by event time); clear at once.

    >>> m = MinDuration(120)
    >>> [m.gate(a, ts=t) for a, t in ((True, 0), (True, 60), (True, 120), (False, 180))]
    [False, False, True, False]
    """

    __slots__ = ("_since", "seconds")
    param_attrs = ("seconds",)
    state_attrs = ("_since",)

    def __init__(self, seconds: float = 0.0) -> None:
        if not seconds >= 0:
            raise ValueError(f"MinDuration: seconds must be >= 0, got {seconds!r}")
        self.seconds = float(seconds)
        self._since = math.nan  # when the condition became active (NaN: inactive)

    def gate(self, active: bool, ts: float) -> bool:
        if not active:
            self._since = math.nan
            return False
        if self._since != self._since:
            self._since = float(ts)
        return ts - self._since >= self.seconds
