"""When a partition's windows close: as soon as its clock passes them, or by the idle rule.

:class:`CloseSchedule` asks a partition's windows which are due (at most ``max_catchup`` after
a long gap) and has the :class:`~streams.closing.WindowCloser` close them, either at once
(:meth:`CloseSchedule.close_due`) or ``chunk_rows`` series at a time (:meth:`closing`, a
generator an async caller runs between its event loop's turns). A batch of messages can
settle each partition's due windows as its messages come (:meth:`settle`: a reading for them
is late from then on, as if they had closed) and close them all at the end
(:meth:`flush`): the windows of one group that start together, one per partition, are then
scored with one detector call per metric instead of one per partition. The idle rule moves
the clock of a partition that has been quiet for ``idle_s`` seconds and whose consumer has
caught up (:func:`streams.clocks.idle_target`), so its last windows close without new
readings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

from streams.clocks import idle_target
from streams.closing import Settled, WindowCloser
from streams.partition import PartitionState
from streams.partition_set import PartitionSet

__all__ = ["CloseSchedule"]


class CloseSchedule:
    """Closes the due windows of ``partitions`` with ``closer`` (see the module docstring);
    ``live_lag_s`` is how far behind the wall clock a partition still counts as live."""

    def __init__(self, partitions: PartitionSet, closer: WindowCloser, *, idle_s: float = 2.0,
                 max_catchup: int = 60, chunk_rows: int = 4096,
                 live_lag_s: float = 3600.0) -> None:
        self.partitions = partitions
        self.closer = closer
        self.idle_s = idle_s
        self.max_catchup = max_catchup
        self.chunk_rows = max(1, chunk_rows)
        self.live_lag_s = float(live_lag_s)
        self.settled: list[Settled] = []  # windows taken out, waiting for flush()

    def close_due(self, st: PartitionState) -> int:
        """Close every window of ``st`` the clock allows (and any settled before them);
        returns how many windows of ``st`` closed."""
        starts = self._settle(st)
        self.drain()
        return starts

    def closing(self, group: str, partition: int) -> Iterator[int]:
        """Close every window of a partition the clock allows, ``chunk_rows`` series at a
        time: yields the rows closed after each chunk (a close of 100k series is dozens of
        steps, each a few milliseconds)."""
        self.settle(group, partition)
        return self.flush()

    def settle(self, group: str, partition: int) -> int:
        """Take the windows of a partition the clock allows out of its windows, to close at
        the next :meth:`flush`; returns how many."""
        st = self.partitions.parts.get((group, partition))
        return 0 if st is None else self._settle(st)

    def flush(self) -> Iterator[int]:
        """Close the settled windows, ``chunk_rows`` series per detector call (those of one
        group starting together are scored together); yields the rows closed after each
        call. Run it to its end before the next reading is folded in."""
        settled, self.settled = self.settled, []
        if settled:
            yield from self.closer.close_settled(settled, self.chunk_rows)

    def drain(self) -> None:
        """:meth:`flush` at once."""
        for _ in self.flush():
            pass

    def _settle(self, st: PartitionState) -> int:
        starts = self._due(st)
        self.settled += [self.closer.settle(st, start) for start in starts]
        return len(starts)

    def _due(self, st: PartitionState) -> list[float]:
        starts = st.windows.due(self.max_catchup)
        if starts:
            st.last_close_wall = time.monotonic()
        return starts

    def idle(self, caught_up: Callable[[str, int], bool], now: float | None = None,
             wall: float | None = None) -> int:
        """The timer's rule: a partition without events for ``idle_s`` seconds whose consumer
        has caught up moves its clock (``now`` monotonic, ``wall`` epoch seconds), then its
        due windows close. Returns the windows closed."""
        closed = sum(self._settle(st) for st in self._idle_partitions(caught_up, now, wall))
        self.drain()
        return closed

    def idle_steps(self, caught_up: Callable[[str, int], bool], now: float | None = None,
                   wall: float | None = None) -> Iterator[int]:
        """:meth:`idle` in steps of ``chunk_rows`` series (see :meth:`closing`)."""
        for st in self._idle_partitions(caught_up, now, wall):
            self._settle(st)
        return self.flush()

    def _idle_partitions(self, caught_up: Callable[[str, int], bool], now: float | None,
                         wall: float | None) -> Iterator[PartitionState]:
        """Move each quiet, caught-up partition's clock; yield it for its closes."""
        ps = self.partitions
        now = time.monotonic() if now is None else now
        cap = (time.time() if wall is None else wall) + ps.clock_lead_s
        top = ps.clock()
        for (group, partition), st in list(ps.parts.items()):
            w = st.windows
            quiet = now - st.last_event_wall
            if quiet < self.idle_s or w.clock == -math.inf or not caught_up(group, partition):
                continue
            base = st.event_clock if st.event_clock > -math.inf else w.clock
            w.advance_to(idle_target(base, quiet, top, cap, self.live_lag_s))
            yield st
