"""Seasonal baseline: a mean and variance per hour of day, for weekdays and weekends apart.

City metrics follow the clock: traffic volume peaks at 7-8 h and 17-18 h on weekdays, air
quality follows traffic, hotline tickets drop at night and on weekends. This detector keeps
48 slots (24 hours x {weekday, weekend}) of an exponentially weighted mean and variance, in
``array('f')`` (float32) arrays: about 0.5 KB per instance. Local time is
``ts + tz_offset_hours * 3600`` (Da Nang is UTC+7 all year, no daylight saving).

``raw`` is the z-score of the value against its slot, ``|x - mean| / sd``; while a slot has
fewer than ``min_samples`` values the detector falls back to a global (all-hours) mean and
variance. The standard deviation is floored at ``rel_floor * |mean|`` so a slot that has
always seen the same value does not turn tiny changes into huge z-scores. Windows are placed
by their midpoint. The score is :func:`~detectors.base.squash_at` of ``raw`` (0.9 at
``threshold``).
"""

from __future__ import annotations

import array
import math

from detectors.base import Detector, WindowStats, is_finite, squash_at

__all__ = ["SeasonalBaseline", "season_slot"]

_DAY = 86400.0
_SLOTS = 48


def season_slot(ts: float, tz_offset_hours: float = 7.0) -> int:
    """The slot of an epoch time: ``hour`` on weekdays, ``24 + hour`` on weekends (local time).

    >>> season_slot(0.0)  # 1970-01-01 07:00 in Da Nang, a Thursday
    7
    >>> season_slot(2 * 86400.0 + 3 * 3600.0)  # Saturday 10:00 local
    34
    """
    local = ts + tz_offset_hours * 3600.0
    day = math.floor(local / _DAY)
    hour = int((local - day * _DAY) // 3600.0)
    weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday (weekday 3)
    return hour + 24 if weekend else hour


class SeasonalBaseline(Detector):
    """Hour-of-day x weekday/weekend baseline with exponentially weighted slots.

    ``alpha`` is each slot's forgetting weight (a slot sees one hour a day, so 0.1 remembers
    about ten days of that hour), ``threshold`` the z scoring 0.9.

    >>> d = SeasonalBaseline()
    >>> for day in range(14):  # two weeks of hourly values: 100 at 8 h, 20 otherwise
    ...     for h in range(24):
    ...         ts = day * 86400.0 + (h - 7) * 3600.0
    ...         _ = d.update((100.0 if h == 8 else 20.0) + (day % 3), ts=ts)
    >>> rush = 14 * 86400.0 + 1 * 3600.0  # 8 h local on day 14
    >>> round(d.score_one(101.0, ts=rush), 2), round(d.score_one(20.0, ts=rush), 2)
    (0.0, 1.0)
    >>> d.explain().detail["slot"]
    'weekday 08h'
    """

    name = "seasonal"
    version = "1"
    state_attrs = ("_mean", "_var", "_n", "_gmean", "_gvar", "_gn")
    __slots__ = (
        "_gmean",
        "_gn",
        "_gvar",
        "_mean",
        "_n",
        "_slot",
        "_var",
        "alpha",
        "min_samples",
        "rel_floor",
        "threshold",
        "tz_offset_hours",
    )

    def __init__(
        self,
        *,
        alpha: float = 0.1,
        threshold: float = 6.0,
        min_samples: int = 3,
        tz_offset_hours: float = 7.0,
        rel_floor: float = 0.01,
    ) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"seasonal: alpha must be in (0, 1), got {alpha!r}")
        if not threshold > 0:
            raise ValueError(f"seasonal: threshold must be > 0, got {threshold!r}")
        if not 1 <= min_samples <= 255:
            raise ValueError("seasonal: min_samples must be in [1, 255]")
        if not -12.0 <= tz_offset_hours <= 14.0:
            raise ValueError("seasonal: tz_offset_hours must be in [-12, 14]")
        super().__init__()
        self.alpha = float(alpha)
        self.threshold = float(threshold)
        self.min_samples = int(min_samples)
        self.tz_offset_hours = float(tz_offset_hours)
        self.rel_floor = float(rel_floor)
        self._mean = array.array("f", bytes(4 * _SLOTS))
        self._var = array.array("f", bytes(4 * _SLOTS))
        self._n = array.array("B", bytes(_SLOTS))  # saturates at 255
        self._gmean = 0.0
        self._gvar = 0.0
        self._gn = 0
        self._slot = -1

    def _baseline(self, slot: int) -> tuple[float, float] | None:
        if self._n[slot] >= self.min_samples:
            m, v = float(self._mean[slot]), float(self._var[slot])
        elif self._gn >= self.min_samples:
            m, v = self._gmean, self._gvar
        else:
            return None
        sd = max(math.sqrt(v), self.rel_floor * abs(m), 1e-9)
        return m, sd

    def score_one(self, x: float, ts: float) -> float:
        if not (is_finite(x) and is_finite(ts)):
            return self._scored(0.0, raw=0.0, baseline=math.nan)
        slot = self._slot = season_slot(ts, self.tz_offset_hours)
        base = self._baseline(slot)
        if base is None:
            return self._scored(0.0, raw=0.0, baseline=math.nan)
        m, sd = base
        z = abs(x - m) / sd
        return self._scored(squash_at(z, self.threshold), raw=z, baseline=m)

    def learn_one(self, x: float, ts: float) -> None:
        if not (is_finite(x) and is_finite(ts)):
            return
        slot = season_slot(ts, self.tz_offset_hours)
        n = self._n[slot]
        if n < 255:
            self._n[slot] = n + 1
        a = max(self.alpha, 1.0 / (n + 1))
        m = float(self._mean[slot])
        d = x - m
        self._mean[slot] = m + a * d
        self._var[slot] = (1.0 - a) * (float(self._var[slot]) + a * d * d)
        self._gn += 1
        g = max(self.alpha / 24.0, 1.0 / self._gn)
        d = x - self._gmean
        self._gmean += g * d
        self._gvar = (1.0 - g) * (self._gvar + g * d * d)

    def score_window(self, w: WindowStats) -> float:
        if w.count <= 0 and w.kind == "measure":
            return self._scored(0.0, raw=0.0, baseline=math.nan)
        return self.score_one(w.value, 0.5 * (w.start + w.end))

    def learn_window(self, w: WindowStats) -> None:
        if w.count <= 0 and w.kind == "measure":
            return
        self.learn_one(w.value, 0.5 * (w.start + w.end))

    def detail(self) -> dict[str, float | str]:
        s = self._slot
        if s < 0:
            return {}
        label = f"{'weekend' if s >= 24 else 'weekday'} {s % 24:02d}h"
        return {"slot": label, "slot_samples": float(self._n[s])}
