"""Online calibration of a raw statistic to a tail probability, from the past of the series.

A raw statistic ("1.5 % of the range beyond anything seen", "|z| = 4") means different things
on a smooth stream and a spiky one: the same rule alarms once a month on one and daily on the
other. :class:`TailCalibrator` remembers the last ``size`` statistics of one series and turns
a new one into its **tail probability** among them, ``P(past >= s)`` (with one pseudo-count,
so it is never 0), then into a *level* in units of a target tail probability ``target``::

    level = log(tail) / log(target)      (1 exactly when tail == target)

so that :func:`~detectors.squash.squash_at` of ``level`` (threshold 1) scores 0.9 at the
target and 0.99 at the target squared. A detector that requires both its own rule and the
calibrated level (the smaller of the two, each in units of its threshold) alerts only on
values that are extreme *and* rare for this series, whatever the series; 0.9 then means "at
the threshold" out of sample because nothing but the series' own past is used. Until
``warmup`` statistics are remembered the level is 0 (nothing is rare yet).

>>> cal = TailCalibrator(size=1000, target=0.01, warmup=100)
>>> for i in range(1000):
...     cal.observe(float(i % 100))          # 0..99, ten times each
>>> round(cal.tail(99.0), 4), round(cal.level(99.0), 2)   # the top 1 %
(0.011, 0.98)
>>> round(cal.level(50.0), 2), cal.level(500.0) > 1.4     # ordinary; beyond anything seen
(0.15, True)
"""

from __future__ import annotations

import array
import math
from bisect import bisect_left

__all__ = ["TailCalibrator"]


class TailCalibrator:
    """Tail probability of a statistic among the last ``size`` observed (module docstring).

    Statistics are non-negative (a novelty, a |z|); those at or below 0 count in the sample
    but are not kept in the sorted copy (their tail is 1 whatever the sample), which keeps
    the common case of "nothing unusual" cheap. State: the ring of statistics and its
    position (``8 * size`` bytes); the sorted copy is derived (:meth:`resort` after a
    restore).
    """

    __slots__ = ("_per_target", "pos", "ring", "size", "sorted", "target", "warmup")

    def __init__(self, *, size: int = 2000, target: float = 0.01, warmup: int = 100) -> None:
        if not isinstance(size, int) or size < 2:
            raise ValueError(f"calibration: size must be an int >= 2, got {size!r}")
        if not (math.isfinite(target) and 0.0 < target < 1.0):
            raise ValueError(f"calibration: target must be in (0, 1), got {target!r}")
        if not isinstance(warmup, int) or not 1 <= warmup <= size:
            raise ValueError(f"calibration: warmup must be an int in [1, size], got {warmup!r}")
        self.size = size
        self.target = float(target)
        self._per_target = 1.0 / math.log(1.0 / self.target)
        self.warmup = warmup
        self.ring = array.array("d")  # grows to `size`, then overwritten at `pos`
        self.sorted = array.array("d")
        self.pos = 0

    def __len__(self) -> int:
        return len(self.ring)

    def observe(self, stat: float) -> None:
        """Remember a statistic (non-finite ones are ignored)."""
        if not math.isfinite(stat):
            return
        ring, s = self.ring, self.sorted
        if len(ring) < self.size:
            ring.append(stat)
        else:
            old = ring[self.pos]
            ring[self.pos] = stat
            self.pos = (self.pos + 1) % self.size
            if old > 0.0:
                del s[bisect_left(s, old)]
        if stat > 0.0:
            s.insert(bisect_left(s, stat), stat)

    def tail(self, stat: float) -> float:
        """``(1 + #remembered >= stat) / (1 + #remembered)``; 1 for NaN and for ``stat <= 0``."""
        if not stat > 0.0:
            return 1.0
        s = self.sorted
        return (len(s) - bisect_left(s, stat) + 1.0) / (len(self.ring) + 1.0)

    def level(self, stat: float) -> float:
        """The tail in units of the target (``log tail / log target``); 0 during warm-up.

        Beyond everything remembered the tail is the sample's smallest, ``1 / (n + 1)``, so
        the level tops out at ``log(n + 1) / log(1 / target)`` (1.65 for 2,000 statistics and
        a 1 % target): how far beyond is the detector's own rule to say.
        """
        n = len(self.ring)
        if n < self.warmup or not stat > 0.0:
            return 0.0
        s = self.sorted
        return math.log((n + 1.0) / (len(s) - bisect_left(s, stat) + 1.0)) * self._per_target

    def resort(self) -> None:
        """Rebuild the sorted copy from the ring (after the state is restored)."""
        self.sorted = array.array("d", sorted(v for v in self.ring if v > 0.0))
