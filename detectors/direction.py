"""Which side of its baseline a score is on, and whether that side harms the city.

Detectors score both sides of a baseline (a drop scores as high as a rise); the catalog states
per metric which side is harmful (:attr:`ioc.catalog.MetricSpec.harmful`: ``high``, ``low`` or
``both``). :func:`side_of` reads the side from what a detector explains (its ``detail`` when it
names one: the static threshold's ``side`` ``above``/``below``, CUSUM's ``direction``
``up``/``down``; else the value against the baseline), and :func:`harmful` says whether an
alert on that side is wanted. The decision itself is :func:`detectors.decision.decide_many`.

A multivariate model's alert names the features that explain it most (:func:`top_named`); it
is wanted when one of them moved on its harmful side (:func:`harmful_cause`, the rule of
:func:`detectors.decision.decide_mix`): a cleaner-air combination is not a warning.

>>> side_of(31.0, 24.0), side_of(9.0, 24.0, {"direction": "up"}), side_of(5.0, float("nan"))
('high', 'high', None)
>>> harmful("low", "high"), harmful("high", "high"), harmful(None, "low"), harmful("low", "both")
(False, True, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ioc import catalog
from ioc.catalog_types import Direction

__all__ = ["TOP_SHARE", "Side", "harmful", "harmful_cause", "harmful_side", "side_of",
           "top_named"]

Side = Literal["high", "low"]

#: a feature explains a multivariate score when its share of it is at least this
TOP_SHARE = 0.15

_NAMED: dict[str, Side] = {"above": "high", "up": "high", "high": "high",
                           "below": "low", "down": "low", "low": "low"}


def side_of(value: float, baseline: float, detail: Mapping[str, Any] | None = None
            ) -> Side | None:
    """``high`` or ``low``: where the scored value lies against the detector's baseline
    (None when neither says: a value on the baseline, or a NaN)."""
    if detail:
        for key in ("side", "direction"):
            named = detail.get(key)
            if isinstance(named, str) and named in _NAMED:
                return _NAMED[named]
    if not (math.isfinite(value) and math.isfinite(baseline)) or value == baseline:
        return None
    return "high" if value > baseline else "low"


def harmful(side: Side | None, direction: Direction) -> bool:
    """Whether an alert on ``side`` is wanted for a metric whose harmful side is
    ``direction`` (an unknown side alerts: better one alert too many than a blind spot)."""
    return direction == "both" or side is None or side == direction


def harmful_side(key: tuple[str, str, str]) -> Direction:
    """The side a (group, source, metric) key's alerts are wanted on: its catalog metric's
    ``harmful`` (``both`` for a key outside the catalog).

    >>> harmful_side(("environment", "air-HC-01", "pm25")), harmful_side(("nab", "x", "value"))
    ('high', 'both')
    """
    g = catalog.GROUPS.get(key[0])
    spec = g.metrics_by_name.get(key[2]) if g is not None else None
    return spec.harmful if spec is not None else "both"


def top_named(top: Sequence[tuple[str, float]], most: int = 3) -> tuple[str, ...]:
    """The features an explanation names: ``(feature, share)`` pairs, largest first, with a
    share of at least :data:`TOP_SHARE`, at most ``most`` (the first one when none has).

    >>> top_named([("pm25", 0.6), ("pm10", 0.3), ("o3", 0.1)]), top_named([("a", 0.1)])
    (('pm25', 'pm10'), ('a',))
    """
    named = tuple(f for f, share in top if share >= TOP_SHARE)[:most]
    return named or tuple(f for f, _ in top[:1])


def harmful_cause(named: Sequence[str], sides: Mapping[str, Side | None],
                  directions: Mapping[str, Direction]) -> str | None:
    """The first of ``named`` whose deviation (``sides[f]``: its value against its usual
    value) is on its harmful side (``directions[f]``; ``both`` for a feature it does not
    list), None when every one moved on its harmless side.

    >>> harmful_cause(["pm25", "o3"], {"pm25": "low", "o3": "high"}, {"pm25": "high"})
    'o3'
    >>> harmful_cause(["pm25"], {"pm25": "low"}, {"pm25": "high"}) is None
    True
    """
    for f in named:
        if harmful(sides.get(f), directions.get(f, "both")):
            return f
    return None
