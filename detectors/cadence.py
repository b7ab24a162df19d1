"""A series' cadence learned online: the typical gap between readings, from the past only.

Quiet periods and warm-ups that mean "a while" should mean the same number of readings on a
five-minute stream and an hourly one, yet still end on time when a stream goes silent. So
they are counted in readings and converted to event time with :class:`Cadence`: the median
of the last ``size`` positive gaps between readings (ties and out-of-order rows are not gaps).
It knows nothing before the second reading, and never looks ahead.

>>> c = Cadence()
>>> c.seconds, c.span(10)
(nan, 0.0)
>>> for t in (0.0, 300.0, 600.0, 600.0, 900.0, 4500.0, 4800.0):
...     c.observe(t)
>>> c.seconds, c.span(12)             # one long gap does not move the median
(300.0, 3600.0)
"""

from __future__ import annotations

import array
import math

__all__ = ["Cadence"]


class Cadence:
    """The median of the last ``size`` positive gaps between observed times (seconds).

    State: the ring of gaps, its position and the last time (``8 * size + 16`` bytes).
    """

    __slots__ = ("gaps", "last", "pos", "size")

    def __init__(self, size: int = 15) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"cadence: size must be an int >= 1, got {size!r}")
        self.size = size
        self.gaps = array.array("d")  # grows to `size`, then overwritten at `pos`
        self.pos = 0
        self.last = -math.inf

    def observe(self, ts: float) -> None:
        """Learn from a reading stamped ``ts`` (non-finite times are ignored)."""
        if not math.isfinite(ts):
            return
        gap = ts - self.last
        if gap > 0.0 and math.isfinite(gap):
            if len(self.gaps) < self.size:
                self.gaps.append(gap)
            else:
                self.gaps[self.pos] = gap
                self.pos = (self.pos + 1) % self.size
        if ts > self.last:
            self.last = ts

    @property
    def seconds(self) -> float:
        """The typical gap (the lower median of the remembered gaps); NaN before two times."""
        if not self.gaps:
            return math.nan
        s = sorted(self.gaps)
        return s[(len(s) - 1) >> 1]

    def span(self, readings: float) -> float:
        """Event time that ``readings`` readings take at the learned cadence (0 while unknown).

        >>> c = Cadence(); c.observe(0.0); c.observe(60.0); c.span(30)
        1800.0
        """
        s = self.seconds
        return readings * s if s == s else 0.0
