"""An example ioc-monitor detector plugin: the rate of change of a metric.

A flood-depth tower that reads 4 cm, then 19 cm a minute later, may still be under the
breach threshold, but water does not rise that fast on a dry day. :class:`RateOfChange`
learns how fast a metric usually moves and scores moves that are many times faster.
"""

from __future__ import annotations

import math

from detectors.base import Detector, is_finite, squash_at

__all__ = ["RateOfChange"]


class RateOfChange(Detector):
    """Score ``|dx/dt|`` against the typical rate of change of the same metric.

    ``raw`` is the current rate divided by the typical rate (an exponentially weighted mean
    of past rates, weight ``alpha``); the score is 0.9 when it reaches ``threshold``.
    ``min_samples`` rates are learned before anything scores. Readings with the same or an
    earlier timestamp than the previous one are ignored.

    >>> d = RateOfChange()
    >>> for t in range(30):
    ...     _ = d.update(4.0 + 0.2 * (t % 2), ts=60.0 * t)
    >>> round(d.score_one(4.3, ts=1800.0), 2), round(d.score_one(19.0, ts=1800.0), 2)
    (0.0, 1.0)
    """

    name = "rate_of_change"
    version = "1"
    # everything get_state()/set_state() must carry to continue identically after a restart
    state_attrs = ("_prev", "_prev_ts", "_rate", "_n")
    __slots__ = ("_n", "_prev", "_prev_ts", "_rate", "alpha", "min_samples", "threshold")

    def __init__(self, *, threshold: float = 6.0, alpha: float = 0.05, min_samples: int = 10):
        if not threshold > 1.0:
            raise ValueError(f"rate_of_change: threshold must be > 1, got {threshold!r}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"rate_of_change: alpha must be in (0, 1), got {alpha!r}")
        super().__init__()
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.min_samples = int(min_samples)
        self._prev = math.nan
        self._prev_ts = math.nan
        self._rate = 0.0  # typical |dx/dt|, units per second
        self._n = 0

    def _current_rate(self, x: float, ts: float) -> float | None:
        if not (is_finite(x) and is_finite(ts) and is_finite(self._prev)):
            return None
        dt = ts - self._prev_ts
        if not dt > 0:
            return None
        return abs(x - self._prev) / dt

    def score_one(self, x: float, ts: float) -> float:
        rate = self._current_rate(x, ts)
        if rate is None or self._n < self.min_samples:
            return self._scored(0.0, raw=0.0, baseline=self._rate)
        typical = self._rate or 1e-12
        raw = rate / typical
        return self._scored(squash_at(raw, self.threshold), raw=raw, baseline=typical)

    def learn_one(self, x: float, ts: float) -> None:
        rate = self._current_rate(x, ts)
        if rate is not None:
            self._n += 1
            a = max(self.alpha, 1.0 / self._n)
            self._rate += a * (rate - self._rate)
        if is_finite(x) and is_finite(ts) and not ts <= self._prev_ts:
            self._prev, self._prev_ts = float(x), float(ts)

    def recent(self) -> tuple[float, ...]:
        return (self._prev,) if is_finite(self._prev) else ()
