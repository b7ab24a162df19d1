"""Simulated time against wall time: how fast a run goes (``--rate``) and the pacer that holds
a loop to it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from ioc.errors import UsageError

__all__ = ["Pacer", "speed_for_rate"]


def speed_for_rate(rate: float | None, natural_rate: float) -> float | None:
    """Simulated seconds per wall second for ``--rate`` readings per wall second:
    ``None`` (no rate) = real time, ``0`` = as fast as possible (returns ``None``).

    >>> speed_for_rate(None, 32.6), speed_for_rate(0, 32.6), speed_for_rate(326, 32.6)
    (1.0, None, 10.0)
    """
    if rate is None:
        return 1.0
    if rate < 0 or not math.isfinite(rate):
        raise UsageError(f"--rate must be a number >= 0 (0 = as fast as possible), got {rate!r}")
    if rate == 0:
        return None
    return rate / natural_rate


class Pacer:
    """Holds a loop to ``speed`` simulated seconds per wall second (``None``: no waiting).

    >>> now = [0.0]
    >>> pacer = Pacer(2.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    >>> pacer.wait(10.0), now[0]
    (5.0, 5.0)
    """

    def __init__(self, speed: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.speed = speed
        self._clock = clock
        self._sleep = sleep
        self._t0 = clock()

    def wait(self, elapsed: float) -> float:
        """Sleep until ``elapsed`` simulated seconds are due; return the seconds slept."""
        if not self.speed:
            return 0.0
        delay = self._t0 + elapsed / self.speed - self._clock()
        if delay > 0:
            self._sleep(delay)
            return delay
        return 0.0
