"""The worker's processing, without Faust: window, score, decide, and what to publish.

:class:`Pipeline` holds the in-memory state of the partitions a worker owns and turns decoded
readings into records; the agents (:mod:`streams.agents`) only move bytes in and out and call
it. Everything here is synchronous and deterministic, so it is tested directly. It delegates
each job to a room of its own:

=============================  ===============================================================
:mod:`streams.partition_set`   the partitions a worker owns; readings folded into them
:mod:`streams.partition`       a partition's open windows and its tracked series, per metric
:mod:`streams.series`          the series of one metric, column-wise, and their state bytes
:mod:`streams.close_schedule`  which windows close when (the clock, the idle rule, chunks)
:mod:`streams.closing`         closing a window: statistics as columns, summaries, roll-ups
:mod:`streams.scoring`         one detector call per metric, one policy call, the verdicts
:mod:`streams.alert_desk`      commands and ticks between closes; the open alerts
:mod:`streams.lifecycle`       alert lanes: dedup, severity, silences, commands
:mod:`streams.checkpoints`     the series' state to the changelog and back
:mod:`streams.clocks`          the worker's clock and a quiet partition's clock
=============================  ===============================================================

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

from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from ioc import catalog
from ioc.events import Alert, Command, GroupIndicator, Reading
from streams import checkpoints
from streams.alert_desk import AlertDesk
from streams.budget import SeriesBudget
from streams.close_schedule import CloseSchedule
from streams.closing import Output, WindowCloser
from streams.lifecycle import AlertBook
from streams.multivariate import MultivariateBook, MultivariateConfig
from streams.partition import PartitionState
from streams.partition_set import PartitionSet
from streams.publish import default_partition
from streams.runtime import DetectorRuntime
from streams.series import series_key
from streams.silences import SilenceBook
from streams.windows import Refused

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from streams.metrics import WorkerMetrics

__all__ = ["Output", "PartitionState", "Pipeline", "series_key"]


class Pipeline:
    """Windows, detectors and alert decisions for the partitions a worker owns: the rooms
    of the module docstring wired together, behind the calls the agents make."""

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
        self.metrics = metrics
        self.partitions = PartitionSet(
            lateness=lateness, max_jump_s=max_jump_s, clock_lead_s=clock_lead_s,
            budget=budget, metrics=metrics,
            reading_metrics={g: runtime.reading_metrics(g) for g in catalog.GROUPS})
        self.budget = self.partitions.budget
        self.parts = self.partitions.parts
        self.desk = AlertDesk(book, silences, metrics=metrics)
        self.open = self.desk.open
        self.closer = WindowCloser(runtime, book, silences, budget=self.budget,
                                   published=self.desk.published, open_counts=self.open.counts,
                                   evict_after_s=evict_after_s, metrics=metrics)
        self.schedule = CloseSchedule(self.partitions, self.closer, idle_s=idle_s,
                                      max_catchup=max_catchup, chunk_rows=chunk_rows,
                                      live_lag_s=live_lag_s)
        # live multivariate models (streams.multivariate): off unless a config is given
        self.multivariate = None if multivariate is None or not multivariate.subjects else \
            MultivariateBook(multivariate, book, silences, executor=fit_executor,
                             published=self.desk.published,
                             registry=metrics.registry if metrics is not None else None,
                             direction_of=lambda g, m: runtime.plan(g, m).direction)

    # --- partitions and readings (streams.partition_set) ---------------------------------
    def state(self, group: str, partition: int) -> PartitionState:
        """The state of a topic partition (created on first use)."""
        return self.partitions.state(group, partition)

    def clock(self) -> float:
        """The worker's stream clock: the lower median of its partitions' clocks.

        >>> p = Pipeline(DetectorRuntime.build(), AlertBook({}), SilenceBook({}), lateness=0)
        >>> for part, t in enumerate([100.0, 200.0, 9e9]):
        ...     p.state("flooding", part).windows.clock = t
        >>> p.clock()
        200.0
        """
        return self.partitions.clock()

    def closed_upto(self, group: str, partition: int) -> float:
        """Readings before this time, on this partition, are in closed windows."""
        return self.partitions.closed_upto(group, partition)

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget the state of partitions this worker no longer owns."""
        self.schedule.drain()
        gone = self.partitions.revoke(partitions)
        self.open.forget(gone)
        if self.multivariate is not None:
            self.multivariate.revoke(gone)

    def ingest(self, group: str, partition: int, readings: Sequence[Reading], *,
               offset: int = -1, now: float | None = None) -> tuple[int, int, int]:
        """Fold one message's valid readings into their windows and close the windows due
        (:meth:`PartitionSet.fold`; refused readings wait for :meth:`take_refused`)."""
        got = self.fold(group, partition, readings, offset=offset, now=now)
        self.schedule.close_due(self.parts[(group, partition)])
        return got

    def fold(self, group: str, partition: int, readings: Sequence[Reading], *,
             offset: int = -1, now: float | None = None) -> tuple[int, int, int]:
        """:meth:`ingest` without closing: fold the readings in; then run :meth:`closing`
        of the partition to its end before the partition's next message (an async caller
        lets its event loop run between the steps)."""
        return self.partitions.fold(group, partition, readings, offset=offset, now=now)

    @property
    def refused(self) -> list[tuple[str, int, Refused]]:
        return self.partitions.refused

    def take_refused(self) -> list[tuple[str, int, Refused]]:
        """Readings refused since the last call: (group, partition, (reason class, field,
        reason, reading))."""
        return self.partitions.take_refused()

    # --- closing windows (streams.close_schedule) ----------------------------------------
    def closing(self, group: str, partition: int) -> Iterator[int]:
        """Close a partition's due windows ``chunk_rows`` series at a time, yielding the
        rows closed after each chunk (:meth:`CloseSchedule.closing`)."""
        return self.schedule.closing(group, partition)

    def settle(self, group: str, partition: int) -> int:
        """Settle a partition's due windows (:meth:`CloseSchedule.settle`)."""
        return self.schedule.settle(group, partition)

    def flush(self) -> Iterator[int]:
        """Close the settled windows, in steps (:meth:`CloseSchedule.flush`)."""
        return self.schedule.flush()

    def idle(self, caught_up: Callable[[str, int], bool], now: float | None = None,
             wall: float | None = None) -> int:
        """The idle timer's rule (:meth:`CloseSchedule.idle`); returns the windows closed."""
        return self.schedule.idle(caught_up, now, wall)

    def idle_steps(self, caught_up: Callable[[str, int], bool], now: float | None = None,
                   wall: float | None = None) -> Iterator[int]:
        """:meth:`idle` in steps of ``chunk_rows`` series (see :meth:`closing`)."""
        return self.schedule.idle_steps(caught_up, now, wall)

    # --- alerts (streams.alert_desk) ------------------------------------------------------
    def indicator(self, ind: GroupIndicator) -> None:
        """A merged group indicator for the multivariate models (its alerts, if any, come
        out with the next output)."""
        if self.multivariate is not None:
            part = default_partition(f"{ind.group}:{ind.district}",
                                     self.multivariate.config.partitions)
            self.closer.out.alerts.extend(self.multivariate.indicator(ind, part))

    @property
    def open_alerts(self) -> dict[str, tuple[str, str, str, int]]:
        """alert id -> (group, district, severity, partition) of every open alert."""
        return self.open.by_id

    def open_alert_counts(self) -> dict[tuple[str, str], int]:
        """Open alerts per (group, severity) on this worker (the gauge)."""
        return self.desk.open_alert_counts()

    def command(self, cmd: Command, partition: int) -> list[Alert]:
        """Apply an operator command (ValidationError for an alert this worker lacks)."""
        self.schedule.drain()
        records = self.desk.command(cmd, partition, self.clock())
        self.closer.out.alerts.extend(records)
        return records

    def tick(self) -> list[Alert]:
        """Silences and duration escalation at the worker's clock (call every few seconds)."""
        self.schedule.drain()
        records = self.desk.tick(self.clock())
        self.closer.out.alerts.extend(records)
        return records

    def rebuild_open_alerts(self, partition_of: Callable[[Alert], int | None]) -> None:
        """Recount open alerts from the alert book (after a restore)."""
        self.desk.rebuild(partition_of)

    def take_output(self) -> Output:
        """The records queued since the last call."""
        self.schedule.drain()
        out, self.closer.out = self.closer.out, Output()
        if self.multivariate is not None:
            self.multivariate.observe(out, self.partitions.partition_of)
        return out

    # --- checkpoints (streams.checkpoints) ------------------------------------------------
    def checkpoint(self) -> list[tuple[str, int, bytes | None]]:
        """(table key, partition, state) of every series whose window closed since the last
        call, and (key, partition, None) for series evicted after a long silence."""
        self.schedule.drain()
        states = checkpoints.dirty_states(self.parts.values(), self.closer.evicted)
        if self.multivariate is not None:
            states += self.multivariate.checkpoint()
        return states

    def unsaved(self) -> int:
        """States :meth:`checkpoint` would return now (series closed or evicted since)."""
        n = checkpoints.dirty_count(self.parts.values(), self.closer.evicted)
        return n + (self.multivariate.subjects.unsaved() if self.multivariate else 0)

    def snapshot(self, partitions: Container[int]) -> list[tuple[str, int, bytes]]:
        """(table key, partition, state) of every series of ``partitions``, as they are now."""
        self.schedule.drain()
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
