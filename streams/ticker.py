"""The worker's timer, once a second: time moves on even where no events arrive.

Each tick: partitions that went quiet after catching up move their clocks and close their due
windows (:meth:`~streams.pipeline.Pipeline.idle`); the health counters are sampled; every
``alert_tick_s`` the alert book applies silences and duration escalation and the incident
linker closes spans at the worker's stream clock; what that produced is sent; a checkpoint
runs when due; the gauges are set; and every ``TRIM_EVERY_S`` freed heap goes back to the
system.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from streams.heap import trim_heap

if TYPE_CHECKING:
    from streams.acks import Checkpointer
    from streams.health import HealthWatch
    from streams.incidents import IncidentLinker
    from streams.metrics import WorkerMetrics
    from streams.pipeline import Pipeline
    from streams.publish import Outbox
    from streams.topics import TopicNames

__all__ = ["TRIM_EVERY_S", "Ticker"]

TRIM_EVERY_S = 30.0
QUIET_S = 30.0  # without a high-water mark, a partition quiet this long counts as caught up

# (topic, partition) -> the consumer's high-water mark (None: not known yet)
Highwater = Callable[[str, int], int | None]


class Ticker:
    """One tick of the worker's timer (call with the worker's lock held, once ready)."""

    def __init__(self, *, pipeline: Pipeline, linker: IncidentLinker, health: HealthWatch,
                 metrics: WorkerMetrics, outbox: Outbox, checkpoints: Checkpointer,
                 names: TopicNames, highwater: Highwater, alert_tick_s: float = 5.0) -> None:
        self.pipeline = pipeline
        self.linker = linker
        self.health = health
        self.metrics = metrics
        self.outbox = outbox
        self.checkpoints = checkpoints
        self.names = names
        self.highwater = highwater
        self.alert_tick_s = alert_tick_s
        self.last_alert_tick = 0.0
        self.last_trim = time.monotonic()

    def _highwater(self, group: str, partition: int) -> int | None:
        try:
            return self.highwater(self.names.events(group), partition)
        except Exception:  # not assigned (any more), or the consumer is not running
            return None

    def caught_up(self, group: str, partition: int) -> bool:
        """Whether this worker has read its events partition to the end."""
        st = self.pipeline.parts.get((group, partition))
        if st is None:
            return True
        hw = self._highwater(group, partition)
        if hw is None:
            return time.monotonic() - st.last_event_wall > QUIET_S
        return st.last_offset >= hw - 1

    async def tick(self, now: float | None = None) -> None:
        """One tick at monotonic time ``now``."""
        now = time.monotonic() if now is None else now
        pipeline = self.pipeline
        for _ in pipeline.idle_steps(self.caught_up):
            await asyncio.sleep(0)  # a big close of quiet partitions: let the loop breathe
        self.health.sample(now)
        if now - self.last_alert_tick >= self.alert_tick_s:
            self.last_alert_tick = now
            pipeline.tick()
            clock = pipeline.clock()
            if clock > float("-inf"):
                self.outbox.alerts(self.linker.tick(clock))
        await self.outbox.send()
        if self.checkpoints.due(now):
            await self.checkpoints.run()
        self.gauges()
        if now - self.last_trim >= TRIM_EVERY_S:
            self.last_trim = now
            trim_heap()

    def gauges(self) -> None:
        """Tracked series, unregistered sources, open alerts, consumer lag per topic."""
        m, pipeline = self.metrics, self.pipeline
        m.tracked_series.set(sum(len(st.series) for st in pipeline.parts.values()))
        m.set_unregistered(pipeline.budget.counts())
        m.set_open_alerts(pipeline.open_alert_counts())
        lag: dict[str, int] = {}
        for (group, partition), st in pipeline.parts.items():
            topic = self.names.events(group)
            with contextlib.suppress(Exception):
                hw = self.highwater(topic, partition)
                if hw is not None:
                    lag[topic] = lag.get(topic, 0) + max(0, hw - 1 - st.last_offset)
        m.set_lag(lag)
