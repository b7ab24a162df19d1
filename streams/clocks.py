"""The stream clocks' rules: the worker's clock, and how a quiet partition's clock moves.

Event time moves with the readings (:class:`~streams.windows.PartitionWindows`); these rules
cover the partitions that have none for a while, so their windows still close and a silent
source is still seen, without letting one partition (one bad reading) move another.

>>> worker_clock([100.0, 9e9, 200.0, -math.inf])
200.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["idle_target", "worker_clock"]


def worker_clock(clocks: Iterable[float]) -> float:
    """The lower median of the partitions' clocks (-inf before any event), so no one
    partition pushes the worker's clock (alert ticks, escalation, incidents)."""
    known = sorted(c for c in clocks if c > -math.inf)
    return known[(len(known) - 1) // 2] if known else -math.inf


def idle_target(base: float, quiet_s: float, top: float, cap: float, live_lag_s: float) -> float:
    """Where a quiet, caught-up partition's clock moves: to the worker's clock ``top`` and,
    when its input is live (its clock ``base`` within ``live_lag_s`` of the wall clock), to
    ``base`` plus the wall-clock seconds it has been quiet (``quiet_s``) if that is later; never
    beyond ``cap`` (the wall clock plus the allowed lead).

    The median lets a partition whose sources all went silent keep closing windows in step
    with the others in compressed time (a replay, the simulator). Input from the past (a
    replay, a backfill, a producer that paused) gains no time from the wall: its next readings
    are not late because the sender paused.

    >>> idle_target(1000.0, 30.0, 900.0, 1100.0, 3600.0)   # live: its own clock + 30 s
    1030.0
    >>> idle_target(1000.0, 30.0, 900.0, 1e9, 3600.0)      # days behind: no wall time
    900.0
    >>> idle_target(1000.0, 500.0, 900.0, 1100.0, 3600.0)  # never past the wall clock
    1100.0
    """
    target = top
    if base >= cap - live_lag_s:
        target = max(base + quiet_s, top)
    return min(target, cap)
