"""The worker's processing, without Faust: window, score, decide, and what to publish.

:class:`Pipeline` holds the in-memory state of the partitions a worker owns and turns decoded
readings into records; the agents (:mod:`streams.agents`) only move bytes in and out and call
it. Everything here is synchronous and deterministic, so it is tested directly. It delegates
each job to a room of its own:

==========================  ==================================================================
:mod:`streams.partition`    a partition's open windows and its tracked series, per metric
:mod:`streams.series`       the series of one metric, column-wise, and their state bytes
:mod:`streams.closing`      closing a window: statistics as columns, summaries, roll-ups
:mod:`streams.scoring`      one detector call per metric, one policy call, the verdicts
:mod:`streams.lifecycle`    alert lanes: dedup, severity, silences, commands
:mod:`streams.checkpoints`  the series' state to the changelog and back
:mod:`streams.openalerts`   the open alerts per group, district and partition
:mod:`streams.clocks`       the worker's clock and a quiet partition's clock
==========================  ==================================================================

>>> from detectors.registry import load_all
>>> from streams.lifecycle import AlertBook
>>> from streams.silences import SilenceBook
>>> from streams.runtime import DetectorRuntime
>>> from ioc.events import Reading
>>> p = Pipeline(DetectorRuntime.build(), AlertBook({}), SilenceBook({}), lateness=0.0)
>>> t0 = 1795410000.0
>>> for i in range(40):   # 40 one-minute windows of a rain gauge, then heavy rain
...     v = 25.0 if i == 39 else 1.0 + (i % 3) * 0.1
...     _ = p.ingest("flooding", 0, [Reading(group="flooding", source="rain-HC-01",
...                  metric="rainfall", value=v, ts=t0 + 60 * i, district="Hai Chau")])
>>> _ = p.ingest("flooding", 0, [Reading(group="flooding", source="rain-HC-01",
...              metric="rainfall", value=1.0, ts=t0 + 60 * 40, district="Hai Chau")])
>>> out = p.take_output()
>>> sorted({(a.detector, a.change) for a in out.alerts})
[('robust_z', 'opened')]
>>> len(out.summaries["flooding"]), len(p.checkpoint())
(40, 1)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from ioc import catalog
from ioc.events import Alert, Command, GroupIndicator, Reading
from streams import checkpoints
from streams.budget import SeriesBudget
from streams.clocks import idle_target, worker_clock
from streams.closing import Output, WindowCloser
from streams.lifecycle import OPEN, AlertBook
from streams.multivariate import MultivariateBook, MultivariateConfig
from streams.openalerts import OpenAlerts
from streams.partition import PartitionState
from streams.publish import default_partition
from streams.runtime import DetectorRuntime
from streams.scoring import score_reading
from streams.series import series_key
from streams.silences import SilenceBook
from streams.windows import Refused

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from streams.metrics import WorkerMetrics

__all__ = ["Output", "PartitionState", "Pipeline", "series_key"]


class Pipeline:
    """Windows, detectors and alert decisions for the partitions a worker owns."""

    def __init__(self, runtime: DetectorRuntime, book: AlertBook, silences: SilenceBook, *,
                 lateness: float, metrics: WorkerMetrics | None = None,
                 idle_s: float = 2.0, max_catchup: int = 60,
                 evict_after_s: float = 7 * 86400.0, max_jump_s: float = 86_400.0,
                 clock_lead_s: float = 0.0, live_lag_s: float = 3600.0,
                 chunk_rows: int = 4096, budget: SeriesBudget | None = None,
                 multivariate: MultivariateConfig | None = None,
                 fit_executor: Executor | None = None) -> None:
        self.runtime = runtime
        self.book = book
        self.silences = silences
        self.lateness = float(lateness)
        self.max_jump_s = float(max_jump_s)
        self.clock_lead_s = float(clock_lead_s)
        self.live_lag_s = float(live_lag_s)
        self.budget = SeriesBudget() if budget is None else budget
        # readings the windows refused (group, partition, (class, field, reason, reading)),
        # for the worker to dead-letter
        self.refused: list[tuple[str, int, Refused]] = []
        self.metrics = metrics
        self.idle_s = idle_s
        self.max_catchup = max_catchup
        self.chunk_rows = max(1, chunk_rows)
        self.parts: dict[tuple[str, int], PartitionState] = {}
        self.open = OpenAlerts()
        self.closer = WindowCloser(runtime, book, silences, budget=self.budget,
                                   published=self._published, open_counts=self.open.counts,
                                   evict_after_s=evict_after_s, metrics=metrics)
        self._reading_metrics = {g: runtime.reading_metrics(g) for g in catalog.GROUPS}
        # live multivariate models (streams.multivariate): off unless a config is given
        self.multivariate = None if multivariate is None or not multivariate.subjects else \
            MultivariateBook(multivariate, book, silences, executor=fit_executor,
                             published=self._published,
                             registry=metrics.registry if metrics is not None else None)

    # --- partitions ------------------------------------------------------------------------
    def state(self, group: str, partition: int) -> PartitionState:
        """The state of a topic partition (created on first use)."""
        st = self.parts.get((group, partition))
        if st is None:
            st = self.parts[(group, partition)] = PartitionState(
                group, partition, lateness=self.lateness,
                reading_metrics=self._reading_metrics.get(group, frozenset()),
                max_jump=self.max_jump_s, budget=self.budget)
        return st

    def clock(self) -> float:
        """The worker's stream clock: the lower median of its partitions' clocks
        (:func:`streams.clocks.worker_clock`).

        >>> p = Pipeline(DetectorRuntime.build(), AlertBook({}), SilenceBook({}), lateness=0)
        >>> for part, t in enumerate([100.0, 200.0, 9e9]):
        ...     p.state("flooding", part).windows.clock = t
        >>> p.clock()
        200.0
        """
        return worker_clock(st.windows.clock for st in self.parts.values())

    def closed_upto(self, group: str, partition: int) -> float:
        """Readings before this time, on this partition, are in closed windows."""
        st = self.parts.get((group, partition))
        return -math.inf if st is None else st.windows.closed_upto

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget the state of partitions this worker no longer owns."""
        gone = set(partitions)
        release = self.budget.release
        for k in [k for k in self.parts if k[1] in gone]:
            st = self.parts.pop(k)
            for src, _metric in [*st.series, *st.windows.fresh]:
                release(k[0], src)
        self.open.forget(gone)
        if self.multivariate is not None:
            self.multivariate.revoke(gone)

    # --- readings --------------------------------------------------------------------------
    def ingest(self, group: str, partition: int, readings: Sequence[Reading], *,
               offset: int = -1, now: float | None = None) -> tuple[int, int, int]:
        """Fold one message's valid readings into their windows and close the windows due.

        ``now`` is the wall clock (epoch seconds, default: now): no partition clock passes
        it by more than ``clock_lead_s``. Returns (accepted, late, dropped); readings the
        windows refused wait in :attr:`refused` (:meth:`take_refused`).
        """
        got = self.fold(group, partition, readings, offset=offset, now=now)
        self.close_due(self.parts[(group, partition)])
        return got

    def fold(self, group: str, partition: int, readings: Sequence[Reading], *,
             offset: int = -1, now: float | None = None) -> tuple[int, int, int]:
        """:meth:`ingest` without closing: fold the readings in; then run :meth:`closing`
        of the partition to its end before the partition's next message (an async caller
        lets its event loop run between the steps)."""
        st = self.state(group, partition)
        w = st.windows
        if offset > st.replayed_offset and w.replayed_upto > -math.inf:
            w.replayed_upto = -math.inf  # past what the checkpoints had seen: new input
        got = w.add(readings, (time.time() if now is None else now) + self.clock_lead_s)
        if w.refused:
            self.refused += [(group, partition, x) for x in w.take_refused()]
        st.event_clock = w.clock
        st.last_event_wall = time.monotonic()
        if offset > st.last_offset:
            st.last_offset = offset
        if st.reading_metrics:
            for r in readings:
                if r.metric in st.reading_metrics:
                    score_reading(st, r)
        m = self.metrics
        if m is not None:
            m.readings(group, got[0], got[1], got[2])
        return got

    def take_refused(self) -> list[tuple[str, int, Refused]]:
        """Readings refused since the last call: (group, partition, (reason class, field,
        reason, reading))."""
        out, self.refused = self.refused, []
        return out

    # --- closing windows -------------------------------------------------------------------
    def close_due(self, st: PartitionState) -> int:
        """Close every window of ``st`` the clock allows; returns how many windows closed."""
        starts = self._due(st)
        for start in starts:
            self.closer.close(st, start)
        return len(starts)

    def closing(self, group: str, partition: int) -> Iterator[int]:
        """Close every window of a partition the clock allows, ``chunk_rows`` series at a
        time: yields the rows closed after each chunk (a close of 100k series is dozens of
        steps, each a few milliseconds)."""
        st = self.parts.get((group, partition))
        if st is None:
            return
        for start in self._due(st):
            yield from self.closer.steps(st, start, self.chunk_rows)

    def _due(self, st: PartitionState) -> list[float]:
        starts = st.windows.due(self.max_catchup)
        if starts:
            st.last_close_wall = time.monotonic()
        return starts

    def idle(self, caught_up: Callable[[str, int], bool], now: float | None = None,
             wall: float | None = None) -> int:
        """The timer's rule: a partition without events for ``idle_s`` seconds whose consumer
        has caught up moves its clock (:func:`streams.clocks.idle_target`; ``now`` monotonic,
        ``wall`` epoch seconds), then its due windows close. Returns the windows closed."""
        return sum(self.close_due(st) for st in self._idle_partitions(caught_up, now, wall))

    def idle_steps(self, caught_up: Callable[[str, int], bool], now: float | None = None,
                   wall: float | None = None) -> Iterator[int]:
        """:meth:`idle` in steps of ``chunk_rows`` series (see :meth:`closing`)."""
        for st in self._idle_partitions(caught_up, now, wall):
            yield from self.closing(st.group, st.partition)

    def _idle_partitions(self, caught_up: Callable[[str, int], bool], now: float | None,
                         wall: float | None) -> Iterator[PartitionState]:
        """Move each quiet, caught-up partition's clock; yield it for its closes."""
        now = time.monotonic() if now is None else now
        cap = (time.time() if wall is None else wall) + self.clock_lead_s
        top = self.clock()
        for (group, partition), st in list(self.parts.items()):
            w = st.windows
            quiet = now - st.last_event_wall
            if quiet < self.idle_s or w.clock == -math.inf or not caught_up(group, partition):
                continue
            base = st.event_clock if st.event_clock > -math.inf else w.clock
            w.advance_to(idle_target(base, quiet, top, cap, self.live_lag_s))
            yield st

    # --- alerts ----------------------------------------------------------------------------
    def _partition_of(self, group: str, source: str, metric: str) -> int | None:
        """The partition whose windows hold a tracked series (None: not tracked here)."""
        key = (source, metric)
        for (g, p), st in self.parts.items():
            if g == group and key in st.series:
                return p
        return None

    def indicator(self, ind: GroupIndicator) -> None:
        """A merged group indicator for the multivariate models (its alerts, if any, come
        out with the next output)."""
        if self.multivariate is not None:
            part = default_partition(f"{ind.group}:{ind.district}",
                                     self.multivariate.config.partitions)
            records = self.multivariate.indicator(ind, part)
            self.closer.out.alerts.extend(records)

    def _published(self, records: Sequence[Alert], partition: int) -> None:
        self.open.record(records, partition)
        m = self.metrics
        if m is not None:
            for a in records:
                m.alert(a.group, a.severity, a.status)

    @property
    def open_alerts(self) -> dict[str, tuple[str, str, str, int]]:
        """alert id -> (group, district, severity, partition) of every open alert."""
        return self.open.by_id

    def open_alert_counts(self) -> dict[tuple[str, str], int]:
        """Open alerts per (group, severity) on this worker (the gauge)."""
        return self.open.per_group_severity()

    def command(self, cmd: Command, partition: int) -> list[Alert]:
        """Apply an operator command (ValidationError for an alert this worker lacks)."""
        records = self.book.command(cmd, now=max(self.clock(), cmd.ts), silences=self.silences)
        self.closer.out.alerts.extend(records)
        self._published(records, partition)
        return records

    def tick(self) -> list[Alert]:
        """Silences and duration escalation at the worker's clock (call every few seconds)."""
        now = self.clock()
        if now == -math.inf:
            return []
        records = self.book.tick(now, self.silences)
        for a in records:
            self.closer.out.alerts.append(a)
            self._published([a], self.open.partition_of(a.alert_id))
        return records

    def rebuild_open_alerts(self, partition_of: Callable[[Alert], int | None]) -> None:
        """Recount open alerts from the alert book (after a restore)."""
        self.open.clear()
        for a in self.book.alerts():
            if a.status in OPEN:
                p = partition_of(a)
                if p is not None:
                    self.open.record([a], p)

    def take_output(self) -> Output:
        """The records queued since the last call."""
        out, self.closer.out = self.closer.out, Output()
        if self.multivariate is not None:
            self.multivariate.observe(out, self._partition_of)
        return out

    # --- checkpoints -----------------------------------------------------------------------
    def checkpoint(self) -> list[tuple[str, int, bytes | None]]:
        """(table key, partition, state) of every series whose window closed since the last
        call, and (key, partition, None) for series evicted after a long silence."""
        states = checkpoints.dirty_states(self.parts.values(), self.closer.evicted)
        if self.multivariate is not None:
            states += self.multivariate.checkpoint()
        return states

    def snapshot(self, partitions: Container[int]) -> list[tuple[str, int, bytes]]:
        """(table key, partition, state) of every series of ``partitions``, as they are now."""
        states = checkpoints.snapshot(self.parts.values(), partitions)
        if self.multivariate is not None:
            states += self.multivariate.snapshot(partitions)
        return states

    def restore(self, blob: bytes, partitions: Container[int] | None = None, *,
                dirty: bool = False) -> tuple[str, int] | None:
        """Put back a series from its checkpoint (:func:`streams.checkpoints.restore`)."""
        if self.multivariate is not None and MultivariateBook.owns(blob):
            return self.multivariate.restore(blob, partitions)
        return checkpoints.restore(blob, runtime=self.runtime, partition_state=self.state,
                                   lanes=self.book.store, counted=self.budget.count,
                                   partitions=partitions, dirty=dirty)
