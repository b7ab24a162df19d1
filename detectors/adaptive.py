"""Adaptive novelty: how far a value lies from everything recently seen, with alarm memory.

Most anomalies an operator cares about are values the stream has not produced lately: a spike
past anything in the last days, a level shift into new territory, a drop to a level never
visited. This detector keeps the last ``memory`` values (a ring, plus a sorted copy for
``O(log n)`` look-ups) and measures, for a new value ``x``,

    novelty = min |x - v| over remembered v  /  (max - min of the remembered values)

i.e. the gap between ``x`` and its nearest remembered neighbour as a share of the remembered
range, less one step of the data's resolution (the smallest gap between values seen, 1 for
counts: a whole number never seen between two seen ones is no news). Values inside
well-visited territory score 0 however noisy the stream is; a value 1.5 % of the range beyond
anything seen (the default ``threshold``) is *novel*. Because it is a ratio of the stream's
own range it needs no per-stream scale and one threshold fits streams of any unit.

Novel is not enough: a stream that sets a new high every hour would alarm every hour. The
novelty is also **calibrated** against this series' own past (:mod:`detectors.calibration`):
its tail probability among the last ``rarity_memory`` novelties, in units of ``rarity`` (1 %).
The score is :func:`~detectors.base.squash_at` of the smaller of the two (novelty in units of
``threshold``, rarity in units of ``rarity``), so 0.9 means "novel *and* rare for this series",
learned from the past only.

Two more habits make it rare-alarm and early, which is what operators (and NAB) reward:

* **alarm memory** — after an alarm it stays quiet for ``quiet_rows`` readings' worth of
  event time at the series' cadence (learned online, :class:`~detectors.cadence.Cadence`: 12
  hours of five-minute readings, 6 days of hourly ones), unless a value is ``escalate`` times
  more novel than the one that raised the alarm (a second, much bigger step still gets
  through);
* **fast absorption** — an alarming value enters the memory at once, so the same new level
  does not alarm again; the memory forgets values older than ``memory`` updates, so territory
  abandoned long ago becomes novel again.

A second, slower signal catches a change of pattern that stays within the usual values (a
daily peak that fails to come, spikes growing denser): the **day mean**. Readings are summed
into half-hour buckets of event time (``day / 48``); whenever a bucket opens, the mean of the
previous ``day`` seconds is compared with the last ``day_memory`` such means in the same way
(gap to the nearest remembered mean over their range) and ``day_threshold`` of that range
scores 0.9. The louder of the two signals (each in units of its own threshold) is the one
calibrated and subject to the alarm memory. It needs a whole day of readings and ``warmup``
remembered means before it speaks, and only the first reading of a bucket can carry it.

Scoring is pure (the alarm memory and the buckets change only in ``learn_one``). The parts:
:class:`~detectors.novelty_memory.SortedRing` remembers values (and, again, day means) with a
sorted copy, :class:`~detectors.novelty_memory.DayMeans` keeps the buckets and the remembered
day means (both in :mod:`detectors.novelty_memory`), and :class:`AdaptiveNovelty` judges,
keeps the alarm memory and holds the state. State: the ring (``8 * memory`` bytes), the day
means (``8 * day_memory``), the past novelties (``8 * rarity_memory``), 48 buckets, 15 gaps of
the cadence and a few numbers; the sorted copies are rebuilt on ``set_state``. An instance
holds about ``16 * (memory + day_memory + rarity_memory)`` bytes (125 KB by default): for a
fleet of 100,000 keys use smaller memories (1,000, 100 and 500: about 29 KB each).

On the Numenta Anomaly Benchmark (v1.0, 58 files, defaults, no look-ahead) it scores 71.7 on
the standard profile with NAB's optimised threshold and 71.6 at a fixed 0.9, and 69.4
cross-validated over categories (``benchmarks/nab_eval.py``; ``ioc detectors evaluate
--dataset NAB --detector adaptive --threshold 0.9 --folds 3``).

>>> d = AdaptiveNovelty(memory=100, warmup=10, quiet_rows=60, rarity=0.05)
>>> for t in range(200):
...     _ = d.update(10.0 + (t % 5), ts=60.0 * t)      # values 10..14
>>> d.score_one(12.0, ts=12000.0)                       # well-visited territory
0.0
>>> d.score_one(15.0, ts=12000.0)     # one step of the data's resolution (1) beyond the max
0.0
>>> round(d.score_one(15.05, ts=12000.0), 3)            # and 1.25 % of the range further
0.671
>>> round(d.update(20.0, ts=12000.0), 3)                # far beyond, and rare: an alarm
1.0
>>> d.score_one(22.0, ts=12060.0)                       # more of the same, 60 readings quiet
0.0
>>> d.explain().detail["suppressed"]
'yes'
"""

from __future__ import annotations

import math

from detectors.base import Detector, is_finite, squash_at
from detectors.cadence import Cadence
from detectors.calibration import TailCalibrator
from detectors.novelty_memory import DayMeans, SortedRing

__all__ = ["AdaptiveNovelty", "DayMeans", "SortedRing"]


def _check_params(memory: int, threshold: float, quiet_rows: int, escalate: float, warmup: int,
                  day: float, day_threshold: float, day_memory: int) -> None:
    """Raise ``ValueError`` naming the first unusable parameter of :class:`AdaptiveNovelty`."""
    if not isinstance(memory, int) or memory < 2:
        raise ValueError(f"adaptive: memory must be an int >= 2, got {memory!r}")
    if not (is_finite(threshold) and 0.0 < threshold < 1.0):
        raise ValueError(f"adaptive: threshold must be in (0, 1), got {threshold!r}")
    if not isinstance(quiet_rows, int) or quiet_rows < 0:
        raise ValueError(f"adaptive: quiet_rows must be an int >= 0, got {quiet_rows!r}")
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


class AdaptiveNovelty(Detector):
    """Novelty of a value against the remembered range, with alarm memory (module docstring).

    Parameters: ``memory`` values remembered (5,000 by default: about 17 days of five-minute
    windows); ``threshold`` the novelty (gap / remembered range) that scores 0.9;
    ``quiet_rows`` readings (event time at the learned cadence) after an alarm during which
    only an escalation scores; ``escalate`` how many times
    more novel than the alarm's value an escalation must be; ``warmup`` values remembered
    before anything scores above 0; ``day`` the span (seconds) of the slow mean,
    ``day_threshold`` its novelty (gap / range of remembered day means) that scores 0.9,
    ``day_memory`` how many day means (one per half-hour bucket of ``day``) are remembered;
    ``rarity`` the tail probability, among the last ``rarity_memory`` novelties of this
    series, at which a novelty counts as rare (:mod:`detectors.calibration`).
    """

    name = "adaptive"
    rhythm_aware = True
    version = "3"  # 3: the quiet period in readings at the learned cadence
    state_attrs = (
        "_values.ring",
        "_values.pos",
        "_quantum",
        "_quiet_until",
        "_alarm_novelty",
        "_days.sums",
        "_days.counts",
        "_days.ids",
        "_days.bucket",
        "_days.first_bucket",
        "_days.means.ring",
        "_days.means.pos",
        "_cadence.gaps",
        "_cadence.pos",
        "_cadence.last",
        "_rarity.ring",
        "_rarity.pos",
    )
    __slots__ = (
        "_alarm_novelty",
        "_cache",
        "_cadence",
        "_day_nov",
        "_days",
        "_gap",
        "_nearest",
        "_quantum",
        "_quiet_until",
        "_rarity",
        "_suppressed",
        "_values",
        "day",
        "day_memory",
        "day_threshold",
        "escalate",
        "memory",
        "quiet_rows",
        "rarity",
        "rarity_memory",
        "threshold",
        "warmup",
    )

    def __init__(
        self,
        *,
        memory: int = 5000,
        threshold: float = 0.015,
        quiet_rows: int = 144,
        escalate: float = 6.0,
        warmup: int = 150,
        day: float = 86400.0,
        day_threshold: float = 0.5,
        day_memory: int = 500,
        rarity: float = 0.01,
        rarity_memory: int = 2000,
    ) -> None:
        _check_params(memory, threshold, quiet_rows, escalate, warmup, day, day_threshold,
                      day_memory)
        super().__init__()
        self.memory = memory
        self.threshold = float(threshold)
        self.quiet_rows = quiet_rows
        self.escalate = float(escalate)
        self.warmup = warmup
        self.day = float(day)
        self.day_threshold = float(day_threshold)
        self.day_memory = day_memory
        self._values = SortedRing(memory)
        self._quiet_until = -math.inf
        self._cadence = Cadence()
        try:
            # no extra warm-up: below 1 / rarity statistics the level cannot reach 1 anyway
            self._rarity = TailCalibrator(size=rarity_memory, target=rarity, warmup=1)
        except ValueError as exc:
            raise ValueError(f"adaptive: {exc}".replace("calibration: size", "rarity_memory")
                             .replace("calibration: target", "rarity")) from None
        self.rarity = float(rarity)
        self.rarity_memory = rarity_memory
        self._alarm_novelty = 0.0
        self._nearest = math.nan
        self._quantum = math.inf  # the smallest positive gap between values seen (resolution)
        self._suppressed = False  # whether the last score_one was quieted (for explain)
        # (x, ts, novelty, alarm?, raw gap) of the last score_one, reused by learn_one
        self._cache: tuple[float, float, float, bool, float] | None = None
        self._gap = math.inf  # the raw gap behind the last novelty (reused by learn_one)
        self._days = DayMeans(day=self.day, memory=day_memory, warmup=warmup)
        self._day_nov = 0.0  # the day-mean novelty behind the last score_one (for explain)

    # --- the statistic ----------------------------------------------------------------------
    def _novelty(self, x: float) -> float:
        """Gap to the nearest remembered value over the remembered range (may exceed 1)."""
        lo, hi, i = self._values.gaps(x)
        s = self._values.sorted
        if lo <= hi:
            gap, self._nearest = lo, s[i - 1]
        else:
            gap, self._nearest = hi, s[i]
        self._gap = gap
        q = self._quantum
        if q < math.inf:
            gap = gap - q if gap > q else 0.0  # a gap of one resolution step is no news
        span = s[-1] - s[0]
        if span > 0.0:
            return gap / span
        return math.inf if gap > 0.0 else 0.0

    def _judge(self, x: float, ts: float) -> tuple[float, float, bool, bool]:
        """(novelty in thresholds, the level scored, alarm?, suppressed?) for x at ts; changes
        no state. The level is the smaller of the novelty and its calibrated rarity."""
        days = self._days
        self._day_nov = days.novelty(days.bucket_of(ts))
        r = max(self._novelty(x) / self.threshold, self._day_nov / self.day_threshold)
        level = min(r, self._rarity.level(r)) if r > 0.0 else 0.0
        loud = level >= 1.0
        # escalations compare raw novelties: the calibrated level saturates at the sample's end
        quiet = ts < self._quiet_until and r < self.escalate * self._alarm_novelty
        return r, level, loud and not quiet, loud and quiet

    # --- the two verbs ----------------------------------------------------------------------
    def score_one(self, x: float, ts: float) -> float:
        self._suppressed = False
        if not is_finite(x) or len(self._values) < self.warmup:
            self._cache = None
            return self._scored(0.0, raw=0.0, baseline=math.nan)
        t = float(ts) if is_finite(ts) else -math.inf
        r, level, alarm, suppressed = self._judge(float(x), t)
        self._cache = (float(x), t, r, alarm, self._gap)
        self._suppressed = suppressed
        score = 0.0 if suppressed else squash_at(level, 1.0)
        return self._scored(score, raw=min(r * self.threshold, 1e9), baseline=self._nearest)

    def learn_one(self, x: float, ts: float) -> None:
        if not is_finite(x):
            return
        v = float(x)
        if len(self._values) >= self.warmup:
            t = float(ts) if is_finite(ts) else -math.inf
            c = self._cache
            if c is not None and c[0] == v and c[1] == t:
                r, alarm, g = c[2], c[3], c[4]
            else:
                r, _, alarm, _ = self._judge(v, t)
                g = self._gap
            if alarm:
                self._quiet_until = t + self._cadence.span(self.quiet_rows)
                self._alarm_novelty = min(r, 1e9)
            self._rarity.observe(min(r, 1e9))
        elif self._values.ring:
            lo, hi, _ = self._values.gaps(v)
            g = lo if lo < hi else hi
        else:
            g = math.inf
        self._cache = None
        if 0.0 < g < self._quantum:
            self._quantum = g
        self._values.add(v)
        if is_finite(ts):
            self._days.count_in(v, float(ts))
            self._cadence.observe(float(ts))

    # --- state, explanation -----------------------------------------------------------------
    def set_state(self, data: bytes) -> None:
        super().set_state(data)
        self._values.resort()
        self._days.means.resort()
        self._rarity.resort()
        self._cache = None

    def recent(self) -> tuple[float, ...]:
        return tuple(self._values.in_order()[-32:])

    def detail(self) -> dict[str, float | str]:
        s = self._values.sorted
        out: dict[str, float | str] = {"remembered": float(len(s))}
        if s:
            out["low"], out["high"] = s[0], s[-1]
        out["day_novelty"] = min(self._day_nov, 1e9)
        out["suppressed"] = "yes" if self._suppressed else "no"
        return out
