"""Score mappings: how a family's raw statistic becomes a score in [0, 1].

Every family maps its statistic (a z-score, a CUSUM sum, a novelty ratio) with one of these,
so one threshold means roughly the same thing across detectors; :func:`squash_at` is the house
mapping (0.9 exactly at the detector's own threshold). :func:`squash_at_many` is its batch
form, bit for bit, for the numpy column forms (:mod:`detectors.columns`).

>>> round(squash_at(4.0, 4.0), 3), round(squash_ratio(3.0, 3.0), 3), squash_logistic(4.0, 4.0, 1.0)
(0.9, 0.632, 0.5)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from detectors.libm import POWER_IS_LIBM

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "SCORE_MAX",
    "SCORE_MIN",
    "clamp01",
    "is_finite",
    "squash_at",
    "squash_at_many",
    "squash_logistic",
    "squash_ratio",
]

SCORE_MIN = 0.0
SCORE_MAX = 1.0

_isfinite = math.isfinite


def is_finite(x: object) -> bool:
    """True for a real, finite number (bool/None/str/NaN/inf are not).

    >>> is_finite(1.5), is_finite(float("nan")), is_finite(None), is_finite(True)
    (True, False, False, False)
    """
    try:
        return _isfinite(x) and x.__class__ is not bool  # type: ignore[arg-type]
    except TypeError:
        return False


def clamp01(s: float) -> float:
    """Clamp a score into [0, 1]; NaN becomes 0 (no evidence of an anomaly).

    >>> clamp01(1.7), clamp01(-0.2), clamp01(float("nan"))
    (1.0, 0.0, 0.0)
    """
    if s != s:  # NaN
        return 0.0
    return 0.0 if s < 0.0 else 1.0 if s > 1.0 else s


def squash_ratio(stat: float, scale: float) -> float:
    """Map a non-negative statistic to [0, 1) with ``1 - exp(-stat / scale)``.

    ``stat == scale`` gives 0.632, ``2 * scale`` 0.865, ``3 * scale`` 0.950. Negative or NaN
    statistics give 0.

    >>> round(squash_ratio(3.0, 3.0), 3), squash_ratio(-1.0, 3.0)
    (0.632, 0.0)
    """
    if not stat > 0.0:
        return 0.0
    if stat == math.inf:
        return 1.0
    return 1.0 - math.exp(-stat / scale)


def squash_at(raw: float, threshold: float, power: float = 4.0) -> float:
    """The house mapping of a raw statistic to a score: ``1 - 10 ** -((raw / threshold) ** power)``.

    0 at ``raw <= 0``, **0.9 exactly at the detector's own threshold**, 0.99 at ``2 **
    (1 / power)`` times it (1.19x for the default power 4), 0.13 at half of it. So the
    default alert policy ``Threshold(0.9)`` reproduces each family's classic rule ("|z| >= 4",
    "CUSUM >= 5") and one threshold means the same across families. NaN gives 0, inf gives 1.

    >>> [round(squash_at(z, 4.0), 3) for z in (0.0, 2.0, 3.0, 4.0, 4.76, 8.0)]
    [0.0, 0.134, 0.517, 0.9, 0.99, 1.0]
    """
    if not raw > 0.0:
        return 0.0
    r = raw / threshold
    if r > 3.0:
        return 1.0
    return 1.0 - 10.0 ** -(r**power)


def squash_at_many(raw: NDArray[np.float64], threshold: float,
                   power: float = 4.0) -> NDArray[np.float64]:
    """:func:`squash_at` of every element, bit for bit.

    The power and the exponential are numpy's where its ``power`` is the C library's
    (:data:`detectors.libm.POWER_IS_LIBM`), otherwise per element with Python floats (a SIMD
    ``power`` may differ in the last bit); either only where the score is neither 0 nor 1.

    >>> squash_at_many(np.array([0.0, 4.0, 100.0, np.nan]), 4.0).tolist()
    [0.0, 0.9, 1.0, 0.0]
    """
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        r = raw / threshold
        mid = (raw > 0.0) & (r <= 3.0)
        if not mid.any():  # a quiet block: every score 0 (or 1)
            return np.where(r > 3.0, 1.0, 0.0)
        if POWER_IS_LIBM:  # every element at once, then 0 and 1 where the mapping says so
            out = 1.0 - np.power(10.0, -np.power(r, power))
            return np.where(mid, out, np.where(r > 3.0, 1.0, 0.0))
        out = np.where(r > 3.0, 1.0, 0.0)
    at = np.flatnonzero(mid)
    out[at] = [1.0 - 10.0 ** -(v**power) for v in r[at].tolist()]
    return out


def squash_logistic(stat: float, center: float, width: float) -> float:
    """Map a statistic to (0, 1) with a logistic curve: 0.5 at ``center``, 0.73 one ``width`` above.

    >>> squash_logistic(4.0, 4.0, 1.0), round(squash_logistic(6.0, 4.0, 1.0), 3)
    (0.5, 0.881)
    """
    if stat != stat:
        return 0.0
    z = (stat - center) / width
    if z < -40.0:
        return 0.0
    if z > 40.0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-z))
