"""Which side of its baseline a score is on, and whether that side harms the city.

Detectors score both sides of a baseline (a drop scores as high as a rise); the catalog states
per metric which side is harmful (:attr:`ioc.catalog.MetricSpec.harmful`: ``high``, ``low`` or
``both``). :func:`side_of` reads the side from what a detector explains (its ``detail`` when it
names one: the static threshold's ``side`` ``above``/``below``, CUSUM's ``direction``
``up``/``down``; else the value against the baseline), and :func:`harmful` says whether an
alert on that side is wanted. The decision itself is :func:`detectors.decision.decide_many`.

>>> side_of(31.0, 24.0), side_of(9.0, 24.0, {"direction": "up"}), side_of(5.0, float("nan"))
('high', 'high', None)
>>> harmful("low", "high"), harmful("high", "high"), harmful(None, "low"), harmful("low", "both")
(False, True, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from ioc import catalog
from ioc.catalog_types import Direction

__all__ = ["Side", "harmful", "harmful_side", "side_of"]

Side = Literal["high", "low"]

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
