"""What adaptive novelty (:mod:`detectors.adaptive`) remembers: recent values in a ring with a
sorted copy (:class:`SortedRing`, for ``O(log n)`` nearest-neighbour look-ups) and the day
means of half-hour buckets of event time (:class:`DayMeans`, the slow signal). Only the rings,
their positions and the buckets are state; the sorted copies are rebuilt after a restore.
"""

from __future__ import annotations

import array
import math
from bisect import bisect_left

__all__ = ["BUCKETS", "DayMeans", "SortedRing"]

#: buckets per day for the day mean (half-hour buckets by default)
BUCKETS = 48


class SortedRing:
    """The last ``size`` values in arrival order (a ring) and a sorted copy of them, for
    ``O(log n)`` look-ups of a value's nearest neighbours. Only the ring and ``pos`` are
    state; :meth:`resort` rebuilds the sorted copy after they are restored.

    >>> r = SortedRing(3)
    >>> for v in (5.0, 1.0, 3.0, 4.0):
    ...     r.add(v)
    >>> list(r.sorted), list(r.in_order()), r.gaps(3.5)
    ([1.0, 3.0, 4.0], [1.0, 3.0, 4.0], (0.5, 0.5, 2))
    """

    __slots__ = ("pos", "ring", "size", "sorted")

    def __init__(self, size: int) -> None:
        self.size = size
        self.ring = array.array("d")  # grows to `size`, then overwritten at `pos`
        self.sorted = array.array("d")  # the ring's values in order (derived, not state)
        self.pos = 0

    def __len__(self) -> int:
        return len(self.ring)

    def add(self, v: float) -> None:
        """Remember ``v``, forgetting the oldest value once ``size`` are remembered."""
        ring, s = self.ring, self.sorted
        if len(ring) < self.size:
            ring.append(v)
        else:
            old = ring[self.pos]
            ring[self.pos] = v
            self.pos = (self.pos + 1) % self.size
            del s[bisect_left(s, old)]
        s.insert(bisect_left(s, v), v)

    def gaps(self, x: float) -> tuple[float, float, int]:
        """(distance down to the nearest value below ``x``, up to the nearest at or above it,
        the sorted index of the latter); inf where there is none."""
        s = self.sorted
        i = bisect_left(s, x)
        lo = x - s[i - 1] if i > 0 else math.inf
        hi = s[i] - x if i < len(s) else math.inf
        return lo, hi, i

    def resort(self) -> None:
        """Rebuild the sorted copy from the ring."""
        self.sorted = array.array("d", sorted(self.ring))

    def in_order(self) -> array.array[float]:
        """The remembered values, oldest first."""
        ring = self.ring
        if len(ring) < self.size:
            return ring
        return ring[self.pos :] + ring[: self.pos]


class DayMeans:
    """The slow signal: readings summed into :data:`BUCKETS` buckets of event time per ``day``;
    when a bucket opens, the mean of the day before it is remembered (``memory`` of them).

    :meth:`novelty` is the gap between the day mean that closes when a bucket opens and its
    nearest remembered mean, as a share of their range (0 until ``warmup`` means, or
    ``memory`` if smaller, are remembered).

    >>> days = DayMeans(day=4800.0, memory=10, warmup=3)        # 100-second buckets
    >>> for t in range(0, 48_000, 100):                        # 10, 11, 12, 10, ...
    ...     days.count_in(10.0 + (t // 100) % 3, float(t))
    >>> len(days.means), days.novelty(days.bucket_of(48_000.0))  # a day like the others
    (10, 0.0)
    >>> days.count_in(40.0, 48_000.0)                           # then a reading far above
    >>> days.novelty(days.bucket_of(48_100.0)) > 1
    True
    """

    __slots__ = ("bucket", "counts", "day", "first_bucket", "ids", "means", "need", "sums")

    def __init__(self, *, day: float, memory: int, warmup: int) -> None:
        self.day = day
        self.need = min(warmup, memory)
        # BUCKETS slots of (sum, count, bucket number) of `day / BUCKETS` each
        self.sums = array.array("d", bytes(8 * BUCKETS))
        self.counts = array.array("d", bytes(8 * BUCKETS))
        self.ids = array.array("d", [-1.0] * BUCKETS)
        self.bucket = -math.inf  # the bucket the latest reading fell in
        self.first_bucket = math.inf
        self.means = SortedRing(memory)  # past day means (one per closed bucket)

    def bucket_of(self, ts: float) -> float:
        """The bucket number of ``ts`` (-inf without a usable time; late rows stay put)."""
        if ts == -math.inf:
            return -math.inf
        return max(float(math.floor(ts * BUCKETS / self.day)), self.bucket)

    def mean_before(self, b: float) -> float:
        """Mean of the readings in the BUCKETS buckets before bucket ``b`` (NaN if none or
        if no whole day has been seen yet)."""
        if b - self.first_bucket < BUCKETS:
            return math.nan
        total = count = 0.0
        lo = b - BUCKETS
        for k in range(BUCKETS):
            if lo <= self.ids[k] < b:
                total += self.sums[k]
                count += self.counts[k]
        return total / count if count > 0.0 else math.nan

    def novelty(self, b: float) -> float:
        """Novelty of the day mean that closes when bucket ``b`` opens, as a share of the
        range of remembered day means (0 within a bucket: that mean is remembered already)."""
        if not b > self.bucket or len(self.means) < self.need:
            return 0.0
        m = self.mean_before(b)
        if m != m:
            return 0.0
        lo, hi, _ = self.means.gaps(m)
        gap = min(lo, hi)
        s = self.means.sorted
        # floor the span so that rounding noise of a constant day mean is not novel
        span = max(s[-1] - s[0], 1e-9 * (abs(s[-1]) + abs(s[0])))
        if span > 0.0:
            return gap / span
        return math.inf if gap > 0.0 else 0.0

    def count_in(self, v: float, ts: float) -> None:
        """Add a reading to its bucket; when a bucket opens, remember the day mean before it."""
        b = self.bucket_of(ts)
        if b > self.bucket:
            m = self.mean_before(b) if self.bucket > -math.inf else math.nan
            if m == m:
                self.means.add(m)
            if self.bucket == -math.inf:
                self.first_bucket = b
            self.bucket = b
        k = int(b % BUCKETS)
        if self.ids[k] != b:
            self.ids[k], self.sums[k], self.counts[k] = b, 0.0, 0.0
        self.sums[k] += v
        self.counts[k] += 1.0
