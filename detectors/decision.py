"""The one place where a series' detectors fire or not: policies, direction, then health
suppression.

For one metric plan and one batch of rows (series), :func:`decide_many` feeds each detector's
score column to its policy's :class:`~detectors.policy_columns.PolicyColumns` and then applies
the **health rule**: while a health detector (``Detector.health``: stuck, silence, physical
range) of a row fires, none of that row's city detectors fires, because a broken sensor
explains its odd values (one anomaly, one alert, on the sensor-health lane). Every policy sees
every score, suppressed or not, so stateful policies (hysteresis, quantiles) keep counting.
:func:`decide_one` is the same decision for one series and one-series policies.

The **direction rule** comes before it: a city detector whose metric alerts on one side only
(``directions[i]`` ``high`` or ``low``, from the catalog's ``harmful`` unless the metric's
config asks for ``both``) fires only where the side of its score (``side_of(i, j)``, asked
only of rows its policy fired on) is harmful (:mod:`detectors.direction`). Health detectors
alert on either side: a broken sensor is broken whichever way it reads.

A multivariate model's vector (:func:`decide_mix`) has one score and one policy; its
direction rule looks at the features that explain the score (``top_metrics``): it fires
only when one of them deviates from its usual value on its harmful side (or on either, for
a feature whose direction is ``both`` or that is not a catalog metric), so an "improving"
combination (cleaner air, better KPIs) raises nothing.

>>> from detectors.policies import Threshold
>>> th = Threshold(0.9).columns(); _ = th.add(2)
>>> fired = decide_many(np.arange(2), 60.0, [np.array([0.95, 0.95])], [th], (False,),
...                     directions=("high",), side_of=lambda i, j: ("high", "low")[j])
>>> fired[0].tolist()
[True, False]

>>> from detectors.policies import Threshold
>>> rows = np.arange(3)
>>> scores = [np.array([0.95, 0.95, 0.1]),   # robust_z (city)
...           np.array([1.0, 0.0, 1.0])]     # physical_range (health)
>>> pols = [Threshold(0.9).columns(), Threshold(0.9).columns()]
>>> _ = [p.add(3) for p in pols]
>>> [f.tolist() for f in decide_many(rows, 60.0, scores, pols, health=(False, True))]
[[False, True, False], [True, False, True]]
>>> decide_one([0.95, 1.0], [Threshold(0.9), Threshold(0.9)], (False, True), ts=60.0)
[False, True]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from detectors.direction import Side, harmful, harmful_cause, top_named
from detectors.masks import some, where
from ioc.catalog_types import Direction

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from detectors.policies import Policy
    from detectors.policy_columns import PolicyColumns

__all__ = ["Mix", "SideOf", "decide_many", "decide_mix", "decide_one", "keep_harmful",
           "suppress_city"]

#: ``side_of(i, j)``: the side of detector ``i``'s score on row ``j`` of the batch
SideOf = Callable[[int, int], "Side | None"]


@dataclass(frozen=True, slots=True)
class Mix:
    """A multivariate decision: firing or not, the features that explain the score (only
    when the policy fired), the one that makes it wanted (``cause``), and ``harmless``: the
    policy fired but every named feature moved on its harmless side."""

    firing: bool
    top: tuple[tuple[str, float], ...] = ()
    cause: str | None = None
    harmless: bool = False


def decide_mix(score: float, policy: Policy, ts: float, *,
               explain: Callable[[], Sequence[tuple[str, float]]],
               side: Callable[[str], Side | None],
               directions: Mapping[str, Direction]) -> Mix:
    """A multivariate model's decision on one vector: its policy, then the direction rule.

    ``explain()`` gives ``(feature, share)`` pairs, largest first (asked only when the
    policy fires), ``side(f)`` where feature ``f`` lies against its usual value,
    ``directions`` each feature's harmful side (a feature not listed: ``both``). The
    policy sees every score, wanted or not, so a stateful policy keeps counting.

    >>> from detectors.policies import Threshold
    >>> top = lambda: [("pm25", 0.7), ("pm10", 0.3)]
    >>> decide_mix(0.95, Threshold(0.9), 60.0, explain=top, side=lambda f: "low",
    ...            directions={"pm25": "high", "pm10": "high"})
    Mix(firing=False, top=(('pm25', 0.7), ('pm10', 0.3)), cause=None, harmless=True)
    >>> decide_mix(0.95, Threshold(0.9), 60.0, explain=top,
    ...            side=lambda f: "high" if f == "pm10" else "low",
    ...            directions={"pm25": "high", "pm10": "high"}).cause
    'pm10'
    """
    if not decide_one([score], [policy], (False,), ts=ts)[0]:
        return Mix(False)
    top = tuple(explain())
    named = top_named(top)
    if not named:  # nothing explains it: an unknown side alerts, as for one metric
        return Mix(True, top)
    cause = harmful_cause(named, {f: side(f) for f in named}, directions)
    return Mix(cause is not None, top, cause, cause is None)


def keep_harmful(firing: Sequence[NDArray[np.bool_]], health: Sequence[bool],
                 directions: Sequence[str], side_of: SideOf) -> list[NDArray[np.bool_]]:
    """The direction rule: clear a city detector's firing on rows whose side is harmless.

    >>> keep_harmful([np.array([True, True])], [False], ["low"], lambda i, j: "high")
    [array([False, False])]
    """
    if not (len(firing) == len(health) == len(directions)):
        raise ValueError("keep_harmful: firing, health and directions differ in length")
    out = []
    for i, (f, h, d) in enumerate(zip(firing, health, directions, strict=True)):
        if h or d == "both" or not some(f):
            out.append(f)
            continue
        kept = f.copy()
        for j in where(f).tolist():
            if not harmful(side_of(i, j), d):  # type: ignore[arg-type]
                kept[j] = False
        out.append(kept)
    return out


def suppress_city(firing: Sequence[NDArray[np.bool_]],
                  health: Sequence[bool]) -> list[NDArray[np.bool_]]:
    """The health rule: clear every city detector's firing where a health detector of the
    same row fires (masks aligned by row).

    >>> suppress_city([np.array([True, True]), np.array([False, True])], [False, True])
    [array([ True, False]), array([False,  True])]
    """
    if len(firing) != len(health):
        raise ValueError(f"{len(firing)} firing masks for {len(health)} health flags")
    sick: NDArray[np.bool_] | None = None
    for f, h in zip(firing, health, strict=True):
        if h:
            sick = f if sick is None else sick | f
    if sick is None or not some(sick):
        return list(firing)
    calm = ~sick
    return [f if h else f & calm for f, h in zip(firing, health, strict=True)]


def decide_many(
    rows: NDArray[np.intp],
    ts: float,
    scores: Sequence[NDArray[np.float64] | None],
    policies: Sequence[PolicyColumns | None],
    health: Sequence[bool],
    *,
    decided: Mapping[int, NDArray[np.bool_]] | None = None,
    directions: Sequence[str] | None = None,
    side_of: SideOf | None = None,
) -> list[NDArray[np.bool_]]:
    """Firing masks of a metric plan's detectors over one batch of rows.

    ``rows`` are the policies' rows (one per series of the batch), ``ts`` the window's end,
    ``scores[i]`` detector ``i``'s scores of those rows, ``policies[i]`` its policy columns,
    ``health[i]`` its ``health`` flag. ``decided`` maps a detector index to a firing mask
    already decided elsewhere (a detector that scores every reading and whose policy ran
    per reading); its score and policy are not used (may be None). Returns one boolean mask
    per detector, the direction rule (:func:`keep_harmful`, when ``directions`` and
    ``side_of`` are given) and the health rule (:func:`suppress_city`) applied.
    """
    if not (len(scores) == len(policies) == len(health)):
        raise ValueError("decide_many: scores, policies and health differ in length")
    given = decided or {}
    rows = np.asarray(rows, dtype=np.intp)
    firing: list[NDArray[np.bool_]] = []
    for i, (s, p) in enumerate(zip(scores, policies, strict=True)):
        if i in given:
            f = np.asarray(given[i], dtype=bool)
        elif p is None or s is None:
            raise ValueError(f"decide_many: detector {i} has neither a policy and scores "
                             "nor a decided mask")
        else:
            f = p.decide_many(rows, s, ts)
        if len(f) != len(rows):
            raise ValueError(f"decide_many: detector {i} gave {len(f)} decisions for "
                             f"{len(rows)} rows")
        firing.append(f)
    if directions is not None and side_of is not None:
        firing = keep_harmful(firing, health, directions, side_of)
    return suppress_city(firing, health)


def decide_one(scores: Sequence[float], policies: Sequence[Policy], health: Sequence[bool],
               ts: float) -> list[bool]:
    """:func:`decide_many` for one series and its one-series policies."""
    if not (len(scores) == len(policies) == len(health)):
        raise ValueError("decide_one: scores, policies and health differ in length")
    firing = [np.array([p.decide(s, ts).firing]) for s, p in zip(scores, policies, strict=True)]
    return [bool(f[0]) for f in suppress_city(firing, health)]
