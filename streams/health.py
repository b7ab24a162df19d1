"""Whether a running worker is doing its job: the ``degraded`` rules of its ``/healthz``.

A worker can be up, assigned and consuming and still be blind: readings refused because of
their time (dated in the future, jumping a partition's clock, too late for their window), or
readings arriving while no window closes (so no indicators are published). A
:class:`HealthWatch` keeps two counters the worker bumps per message (no clock read on the hot
path), samples them once a second from the worker's timer, and says why the worker is
degraded over the last ``span_s`` wall seconds:

* ``refused``: at least ``min_refused`` readings, and more than ``refused_ratio`` of those
  seen, were refused for their time;
* ``stalled``: a partition took in readings in the last ``flowing_s`` seconds but closed no
  window for ``stall_widths`` window widths (plus the allowed lateness).

Pure: it reads the partitions' wall-time marks (:class:`~streams.pipeline.PartitionState`)
and is given the time. :class:`WorkerStatus` is what the rebalance hooks say: whether the
worker is ready (partitions assigned, tables recovered) and how often it recovered.

>>> h = HealthWatch(refused_ratio=0.05, min_refused=20)
>>> h.sample(0.0)
>>> h.seen, h.time_refused = 1000, 10
>>> h.sample(1.0); h.reasons([], 1.0)
[]
>>> h.seen, h.time_refused = 1100, 110
>>> h.sample(2.0); h.reasons([], 2.0)[0][:60]
'refused: 110 of 1100 readings in the last 2 s were refused f'
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["TIME_CLASSES", "HealthWatch", "WorkerStatus"]

TIME_CLASSES = frozenset({"future", "clock_jump", "late"})


@dataclass
class WorkerStatus:
    """Whether the worker is ready (partitions assigned and tables recovered), how many
    recoveries it went through, and when it started (monotonic seconds)."""

    ready: bool = False
    recoveries: int = 0
    started: float = field(default_factory=time.monotonic)


class _Windows(Protocol):
    width: float
    lateness: float
    clock: float


class _Partition(Protocol):
    group: str
    partition: int
    last_event_wall: float
    last_close_wall: float

    @property
    def windows(self) -> _Windows: ...


class HealthWatch:
    """Counters bumped per message, sampled by the timer, judged on demand."""

    __slots__ = ("flowing_s", "min_refused", "refused_ratio", "samples", "seen", "span_s",
                 "stall_widths", "time_refused")

    def __init__(self, *, refused_ratio: float = 0.05, span_s: float = 60.0,
                 min_refused: int = 20, stall_widths: float = 3.0,
                 flowing_s: float = 10.0) -> None:
        self.refused_ratio = refused_ratio
        self.span_s = span_s
        self.min_refused = min_refused
        self.stall_widths = stall_widths
        self.flowing_s = flowing_s
        self.seen = 0  # readings seen (valid or refused for any reason)
        self.time_refused = 0  # readings refused for their time
        self.samples: deque[tuple[float, int, int]] = deque()

    def sample(self, now: float) -> None:
        """Record the counters at monotonic time ``now`` (call about once a second)."""
        s = self.samples
        s.append((now, self.seen, self.time_refused))
        while len(s) > 2 and now - s[1][0] >= self.span_s:
            s.popleft()

    def reasons(self, partitions: Iterable[_Partition], now: float) -> list[str]:
        """Why the worker is degraded now (empty: it is not)."""
        out: list[str] = []
        if self.samples:
            t0, seen0, refused0 = self.samples[0]
            seen, refused = self.seen - seen0, self.time_refused - refused0
            if refused >= self.min_refused and refused > self.refused_ratio * seen:
                out.append(f"refused: {refused} of {seen} readings in the last "
                           f"{now - t0:.0f} s were refused for their time (future, clock_jump "
                           f"or late: see ioc.deadletter)")
        for st in partitions:
            w = st.windows
            if w.clock == float("-inf") or now - st.last_event_wall > self.flowing_s:
                continue
            quiet = now - st.last_close_wall
            if quiet > self.stall_widths * w.width + w.lateness:
                out.append(f"stalled: {st.group}[{st.partition}] takes in readings but closed "
                           f"no window (published no indicators) for {quiet:.0f} s")
        return out
