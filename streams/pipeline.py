"""The worker's processing, without Faust: window, score, decide, and what to publish.

:class:`Pipeline` holds the in-memory state of the partitions a worker owns and turns decoded
readings into records; the agents (:mod:`streams.agents`) only move bytes in and out and call
it. Everything here is synchronous and deterministic, so it is tested directly.

Per topic partition (one group's topic, one partition) a :class:`PartitionState` keeps the
open windows (:mod:`streams.windows`) and the tracked series, one :class:`Series` per
(source, metric) with its live detectors and, where not shared, its policies. When windows
close, every tracked series of the partition gets a window (empty if it sent nothing, so a
silent source is seen), and for each:

1. every detector of its :class:`~streams.runtime.MetricPlan` scores then learns the window,
   and its policy decides whether it fires; city detectors do not fire in a window where a
   health detector of the series fires (the sensor is suspect, not the city);
2. the verdicts go to the :class:`~streams.lifecycle.AlertBook` (lanes, dedup, severity,
   silences), whose records are queued for ``ioc.alerts``;
3. a :class:`~ioc.events.WindowSummary` is queued for ``ioc.indicators``, and the series'
   window value is folded into the partition's :class:`~streams.indicators.IndicatorPart` for
   its district.

**State and restarts.** A series whose window closed is *dirty*; :meth:`Pipeline.checkpoint`
returns the compact state of the dirty series (detector and policy state, the last window
closed) for the worker to write to its changelogged table, and :meth:`Pipeline.restore` puts
such a state back. Open windows are never checkpointed: the worker acknowledges a Kafka message
only once every window its readings fall into has closed and been checkpointed, so after a
crash the uncommitted messages are read again and rebuild the open windows exactly, while the
readings of windows already closed are recognised (their window is behind the series' last
closed window) and skipped.

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

import dataclasses
import math
import sys
import time
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from detectors.base import Detector, Explanation, WindowStats
from detectors.policies import Policy
from ioc import catalog
from ioc.events import Alert, Command, Evidence, Incident, Reading, WindowSummary
from streams.budget import SeriesBudget
from streams.indicators import IndicatorPart, KpiPartial
from streams.lifecycle import CITY, HEALTH, OPEN, AlertBook, Verdict, evidence_from, lane_key
from streams.runtime import DetectorRuntime, MetricPlan
from streams.silences import SilenceBook
from streams.windows import PartitionWindows, Refused, summarise

if TYPE_CHECKING:
    from streams.metrics import WorkerMetrics

__all__ = ["Output", "PartitionState", "Pipeline", "Series", "series_key"]

STATE_VERSION = 1
_DISTRICTS = {name: name for name in catalog.DISTRICT_NAMES}
SEP = "\t"  # never in ids (they are printable)
_NAN = math.nan
_ENC = msgspec.msgpack.Encoder()


def series_key(group: str, source: str, metric: str) -> str:
    """The table key of a series' state.

    >>> series_key("flooding", "rain-HC-01", "rainfall")
    'flooding\\train-HC-01\\trainfall'
    """
    return f"{group}{SEP}{source}{SEP}{metric}"


def _with_recent(expl: Explanation, dets: Sequence[Detector], i: int,
                 w: WindowStats) -> Explanation:
    """The explanation with recent values in the metric's units for the evidence sparkline:
    the detector's own, else those another detector of the series holds (a rhythm-aware
    detector holds values with the rhythm taken out: put this window's rhythm back)."""
    for j in (i, *range(len(dets))):
        det = dets[j]
        values = expl.contributing if j == i else det.recent()
        if values:
            if det.rhythm_aware:
                r = w.rhythm_factor
                values = tuple(v * r for v in values)
            return dataclasses.replace(expl, contributing=tuple(values))
    return expl


class Series:
    """One tracked (source, metric): its detectors and what it last closed."""

    __slots__ = ("closed_upto", "dets", "district", "key", "lanes", "last_seen", "peaks", "plan",
                 "pols")

    def __init__(self, plan: MetricPlan, source: str, district: str) -> None:
        self.plan = plan
        self.key = (source, plan.metric)  # the one key object its windows and tables share
        self.district = district
        self.dets: list[Detector] = plan.instances()
        self.pols: list[Policy] | None = plan.policies()
        self.closed_upto = -math.inf
        self.last_seen = -math.inf
        self.lanes = 0  # bit 1: a city lane exists in the alert book, bit 2: a health lane
        self.peaks: dict[int, tuple[float, Evidence | None]] | None = None

    @property
    def source(self) -> str:
        return self.key[0]

    @property
    def metric(self) -> str:
        return self.key[1]

    def state(self, partition: int) -> bytes:
        """Compact bytes of everything needed to go on scoring (msgpack)."""
        p = self.plan
        dets = [None if d.shared else [d.name, d.version, det.get_state()]
                for d, det in zip(p.detectors, self.dets, strict=True)]
        pols = None if self.pols is None else [pol.get_state() for pol in self.pols]
        return _ENC.encode([STATE_VERSION, p.group, self.source, p.metric, self.district,
                            partition, self.closed_upto, self.last_seen, dets, pols])

    def load(self, dets: list[Any], pols: list[bytes] | None) -> None:
        """Restore detector and policy states saved by :meth:`state` (mismatches start fresh)."""
        by_name = {d[0]: d for d in dets if d}
        for i, d in enumerate(self.plan.detectors):
            got = by_name.get(d.name)
            if d.shared or got is None or got[1] != d.version:
                continue
            try:
                self.dets[i].set_state(got[2])
            except ValueError:
                self.dets[i] = d.instance()
        if pols is not None and self.pols is not None and len(pols) == len(self.pols):
            for i, raw in enumerate(pols):
                try:
                    self.pols[i].set_state(raw)
                except ValueError:
                    self.pols[i] = self.plan.detectors[i].policy_instance()


class PartitionState:
    """The windows and series of one topic partition.

    ``event_clock`` is the windows' clock right after the last message with readings, at
    ``last_event_wall`` (monotonic seconds); ``last_close_wall`` is when a window last closed.
    """

    __slots__ = ("dirty", "event_clock", "group", "last_close_wall", "last_event_wall",
                 "last_offset", "partition", "reading_metrics", "series", "windows")

    def __init__(self, group: str, partition: int, *, lateness: float,
                 reading_metrics: frozenset[str] = frozenset(), max_jump: float = math.inf,
                 budget: SeriesBudget | None = None) -> None:
        self.group = group
        self.partition = partition
        self.windows = PartitionWindows(group, partition,
                                        width=float(catalog.group(group).window_s),
                                        lateness=lateness, max_jump=max_jump)
        self.series: dict[tuple[str, str], Series] = {}
        self.windows.known = self.series
        self.windows.budget = budget
        self.dirty: set[tuple[str, str]] = set()
        self.last_event_wall = self.last_close_wall = time.monotonic()
        self.event_clock = -math.inf
        self.last_offset = -1
        self.reading_metrics = reading_metrics


@dataclass
class Output:
    """Records a step produced, ready to publish."""

    alerts: list[Alert | Incident] = field(default_factory=list)
    summaries: dict[str, list[WindowSummary]] = field(default_factory=dict)  # group -> them
    parts: list[IndicatorPart] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.alerts or self.summaries or self.parts)


class Pipeline:
    """Windows, detectors and alert decisions for the partitions a worker owns."""

    def __init__(self, runtime: DetectorRuntime, book: AlertBook, silences: SilenceBook, *,
                 lateness: float, metrics: WorkerMetrics | None = None,
                 idle_s: float = 2.0, max_catchup: int = 60,
                 evict_after_s: float = 7 * 86400.0, time_sample: int = 64,
                 max_jump_s: float = 86_400.0, clock_lead_s: float = 0.0,
                 budget: SeriesBudget | None = None) -> None:
        self.runtime = runtime
        self.book = book
        self.silences = silences
        self.lateness = float(lateness)
        self.max_jump_s = float(max_jump_s)
        self.clock_lead_s = float(clock_lead_s)
        self.budget = SeriesBudget() if budget is None else budget
        # readings the windows refused (group, partition, (class, field, reason, reading)),
        # for the worker to dead-letter
        self.refused: list[tuple[str, int, Refused]] = []
        self.metrics = metrics
        self.idle_s = idle_s
        self.max_catchup = max_catchup
        self.evict_after_s = evict_after_s
        self.time_sample = max(1, time_sample)
        self.parts: dict[tuple[str, int], PartitionState] = {}
        self.out = Output()
        # alert id -> (group, district, severity, partition) of every open alert
        self.open_alerts: dict[str, tuple[str, str, str, int]] = {}
        self.evicted: list[tuple[str, int]] = []
        self._closes = 0
        self._last_idle = time.monotonic()
        self._reading_metrics = {g: runtime.reading_metrics(g) for g in catalog.GROUPS}

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
        """The worker's stream clock (alert ticks, escalation, incidents): the lower median
        of its partitions' clocks (-inf before any event), so no one partition pushes it.

        >>> p = Pipeline(DetectorRuntime.build(), AlertBook({}), SilenceBook({}), lateness=0)
        >>> for part, t in enumerate([100.0, 200.0, 9e9]):
        ...     p.state("flooding", part).windows.clock = t
        >>> p.clock()
        200.0
        """
        clocks = sorted(st.windows.clock for st in self.parts.values()
                        if st.windows.clock > -math.inf)
        return clocks[(len(clocks) - 1) // 2] if clocks else -math.inf

    def closed_upto(self, group: str, partition: int) -> float:
        """Readings before this time, on this partition, are in closed windows."""
        st = self.parts.get((group, partition))
        return -math.inf if st is None else st.windows.closed_upto

    def partition_of(self, group: str, source: str, metric: str | None = None) -> int | None:
        """The partition a tracked source's readings arrive on (a look at each partition of
        the group: cheaper in memory than an index, and only alert-state writes ask)."""
        for (g, p), st in self.parts.items():
            if g != group:
                continue
            if metric is not None:
                if (source, metric) in st.series:
                    return p
            elif any(src == source for src, _ in st.series):
                return p
        return None

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget the state of partitions this worker no longer owns."""
        gone = set(partitions)
        release = self.budget.release
        for k in [k for k in self.parts if k[1] in gone]:
            st = self.parts.pop(k)
            for src, _metric in [*st.series, *st.windows.fresh]:
                release(k[0], src)
        for aid in [a for a, v in self.open_alerts.items() if v[3] in gone]:
            del self.open_alerts[aid]

    # --- readings --------------------------------------------------------------------------
    def ingest(self, group: str, partition: int, readings: Sequence[Reading], *,
               offset: int = -1, now: float | None = None) -> tuple[int, int, int]:
        """Fold one message's valid readings into their windows and close the windows due.

        ``now`` is the wall clock (epoch seconds, default: now): no partition clock passes
        it by more than ``clock_lead_s``. Returns (accepted, late, dropped); readings the
        windows refused wait in :attr:`refused` (:meth:`take_refused`).
        """
        st = self.state(group, partition)
        w = st.windows
        got = w.add(readings, (time.time() if now is None else now) + self.clock_lead_s)
        if w.refused:
            self.refused += [(group, partition, x) for x in w.take_refused()]
        st.event_clock = w.clock
        st.last_event_wall = time.monotonic()
        if offset > st.last_offset:
            st.last_offset = offset
        if st.reading_metrics:
            self._score_readings(st, readings)
        m = self.metrics
        if m is not None:
            m.readings(group, got[0], got[1], got[2])
        self.close_due(st)
        return got

    def _score_readings(self, st: PartitionState, readings: Sequence[Reading]) -> None:
        """Detectors configured to see every reading (the slow path, only where asked)."""
        for r in readings:
            if r.metric not in st.reading_metrics:
                continue
            s = st.series.get((r.source, r.metric))
            if s is None:
                continue
            ts = r.epoch
            x = 1.0 if r.value is None else r.value
            peaks = s.peaks if s.peaks is not None else {}
            for i in s.plan.reading_indexes:
                d = s.plan.detectors[i]
                det = s.dets[i]
                score = det.update(x, ts)
                pol = d.policy if s.pols is None else s.pols[i]
                firing = pol.decide(score, ts).firing
                held = peaks.get(i)
                if held is None or score > held[0]:
                    ev = evidence_from(det.explain(), detector=d.name, version=d.version,
                                       params=d.params, window_start=ts, window_end=ts,
                                       value=x) if firing else None
                    peaks[i] = (score, ev)
            s.peaks = peaks

    def take_refused(self) -> list[tuple[str, int, Refused]]:
        """Readings refused since the last call: (group, partition, (reason class, field,
        reason, reading))."""
        out, self.refused = self.refused, []
        return out

    # --- closing windows -------------------------------------------------------------------
    def close_due(self, st: PartitionState) -> int:
        """Close every window of ``st`` the clock allows; returns how many windows closed."""
        starts = st.windows.due(self.max_catchup)
        if starts:
            st.last_close_wall = time.monotonic()
        for start in starts:
            self._close(st, start)
        return len(starts)

    def idle(self, caught_up: Callable[[str, int], bool], now: float | None = None,
             wall: float | None = None) -> int:
        """The timer's rule: a partition without events for ``idle_s`` seconds whose consumer
        has caught up moves its clock to its clock at its last event plus the wall-clock
        time elapsed since (monotonic ``now``), or to the worker's clock (:meth:`clock`, the
        lower median of the partitions' clocks) if that is later, but never beyond the wall
        clock (``wall``, epoch seconds, plus ``clock_lead_s``); then its due windows close.
        The median lets a partition whose sources all went silent keep closing windows in
        step with the others in compressed time (a replay, the simulator), and no single
        partition (one bad reading there) moves it. Returns the windows closed."""
        now = time.monotonic() if now is None else now
        cap = (time.time() if wall is None else wall) + self.clock_lead_s
        self._last_idle = now
        top = self.clock()
        closed = 0
        for (group, partition), st in list(self.parts.items()):
            w = st.windows
            if now - st.last_event_wall < self.idle_s or w.clock == -math.inf:
                continue
            if not caught_up(group, partition):
                continue
            base = st.event_clock if st.event_clock > -math.inf else w.clock
            w.advance_to(min(max(base + (now - st.last_event_wall), top), cap))
            closed += self.close_due(st)
        return closed

    def _close(self, st: PartitionState, start: float) -> None:
        w = st.windows
        width = w.width
        end = start + width
        accs, lates = w.pop(start)
        group = st.group
        series = st.series
        if w.fresh:
            for key in [k for k in w.fresh if k in accs]:
                district = w.fresh.pop(key)
                try:
                    plan = self.runtime.plan(group, key[1])
                except KeyError:
                    self.budget.release(group, key[0])
                    continue
                # one string object per id, shared by every structure that names it
                source = sys.intern(key[0])
                fresh = Series(plan, source, _DISTRICTS.get(district, district))
                series[fresh.key] = fresh
        dropped = w.dropped
        out = self.out
        summaries = out.summaries.get(group)
        if summaries is None:
            summaries = out.summaries[group] = []
        by_district: dict[str, tuple[set[str], set[str], KpiPartial]] = {}
        evict = []
        empty: dict[str, WindowStats] = {}
        rhythms: dict[str, float] = {}  # the catalog's rhythm of each metric in this window
        mid = (start + end) / 2
        evict_after = self.evict_after_s
        dirty = st.dirty
        score = self._score_window
        for key, s in series.items():
            if s.closed_upto >= end:
                continue  # restored ahead of this partition: already closed
            acc = accs.get(key)
            plan = s.plan
            kind = plan.kind
            rhythm = rhythms.get(plan.metric)
            if rhythm is None:
                rhythm = rhythms[plan.metric] = plan.spec.rhythm(mid)
            if acc is None:
                if s.last_seen > -math.inf and end - s.last_seen > evict_after:
                    evict.append(key)
                    continue
                stats = empty.get(plan.metric)
                if stats is None:
                    stats = empty[plan.metric] = WindowStats.empty(start, end, kind=kind,
                                                                   rhythm=rhythm)
                n = late = 0
                mean = lo = hi = last = std = 0.0
                value = 0.0 if kind == "count" else _NAN
            else:
                s.last_seen = end
                n, mean, lo, hi, last, std = summarise(acc)
                late = lates.get(key, 0) if lates else 0
                stats = WindowStats(start, end, n, mean, lo, hi, last, std, kind, rhythm)
                value = float(n) if kind == "count" else mean
            score(st, s, stats)
            s.closed_upto = end
            dirty.add(key)
            breach = value == value and plan.spec.in_breach(value)
            summaries.append(WindowSummary(  # positional: the fields' order
                group, key[0], key[1], s.district, start, end, n, mean, lo, hi, last, std,
                late, dropped.pop(key, 0) if dropped else 0, kind == "count", breach))
            d = by_district.get(s.district)
            if d is None:
                d = by_district[s.district] = (set(), set(), KpiPartial(group))
            if n:
                d[0].add(key[0])
            if breach:
                d[1].add(key[0])
            d[2].add(key[1], value, breach)
        for key in evict:
            del series[key]
            dirty.discard(key)
            self.budget.release(group, key[0])
            self.evicted.append((series_key(group, key[0], key[1]), st.partition))
        if self.metrics is not None:
            self.metrics.windows_closed(group, len(series))
        opened = self._open_counts(group, st.partition)
        for district, (reporting, breaching, kpi) in by_district.items():
            out.parts.append(IndicatorPart(
                group=group, district=district, partition=st.partition, start=start, end=end,
                reporting=len(reporting), in_breach=len(breaching),
                open_alerts=opened.get(district, {}), kpis=kpi.values))

    def _score_window(self, st: PartitionState, s: Series, w: WindowStats) -> None:
        dets = s.dets
        end = w.end
        lanes = s.lanes
        verdicts: list[Verdict] | None = None
        self._closes += 1
        timed = self.metrics is not None and self._closes % self.time_sample == 0
        for i, d, fire_at in s.plan.steps:
            if d.per_reading:
                peak = (s.peaks or {}).pop(i, None)
                sc, ev = (0.0, None) if peak is None else peak
                firing = ev is not None
            else:
                det = dets[i]
                if timed:
                    t = time.perf_counter()
                    sc = det.score_window(w)
                    det.learn_window(w)
                    self.metrics.detector_time(  # type: ignore[union-attr]
                        d.name, time.perf_counter() - t)
                else:
                    sc = det.score_window(w)
                    det.learn_window(w)
                if fire_at is not None:
                    firing = sc >= fire_at
                else:
                    pol = d.policy if s.pols is None else s.pols[i]
                    firing = pol.decide(sc, end).firing
                ev = None
            if firing:
                if ev is None:
                    ev = evidence_from(_with_recent(dets[i].explain(), dets, i, w),
                                       detector=d.name, version=d.version,
                                       params=d.params, window_start=w.start, window_end=end,
                                       value=w.value if w.count or w.is_count else _NAN)
                if verdicts is None:
                    verdicts = []
                verdicts.append(Verdict(True, d.health, ev))
            elif lanes & (2 if d.health else 1):
                if verdicts is None:
                    verdicts = []
                verdicts.append(Verdict(False, d.health, Evidence(
                    window_start=w.start, window_end=end, value=0.0, baseline=0.0,
                    threshold=None, score=sc, raw=0.0, detector=d.name,
                    detector_version=d.version, params={}, recent=[])))
        if verdicts is None:
            return
        if any(v.firing and v.health for v in verdicts):
            # A broken sensor explains its odd values: while a health detector of the series
            # fires, its city detectors open nothing (one anomaly, one alert, on the
            # sensor-health lane).
            verdicts = [v if v.health or not v.firing else Verdict(False, False, v.evidence)
                        for v in verdicts]
        records = self.book.observe(group=st.group, district=s.district, source=s.source,
                                    metric=s.metric, verdicts=verdicts, ts=end,
                                    silences=self.silences)
        if records:
            self._published(records, st.partition)
        if s.lanes != 3:
            store = self.book.store
            g, src, met = st.group, s.source, s.metric
            s.lanes = ((1 if lane_key(g, src, met, CITY) in store else 0)
                       | (2 if lane_key(g, src, met, HEALTH) in store else 0))

    # --- alerts ----------------------------------------------------------------------------
    def _published(self, records: Sequence[Alert], partition: int) -> None:
        self.out.alerts.extend(records)
        m = self.metrics
        for a in records:
            if a.status in OPEN:
                self.open_alerts[a.alert_id] = (a.group, a.district, a.severity, partition)
            else:
                self.open_alerts.pop(a.alert_id, None)
            if m is not None:
                m.alert(a.group, a.severity, a.status)

    def _open_counts(self, group: str, partition: int) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for g, district, sev, p in self.open_alerts.values():
            if g == group and p == partition:
                d = out.setdefault(district, {})
                d[sev] = d.get(sev, 0) + 1
        return out

    def open_alert_counts(self) -> dict[tuple[str, str], int]:
        """Open alerts per (group, severity) on this worker (the gauge)."""
        out: dict[tuple[str, str], int] = {}
        for g, _d, sev, _p in self.open_alerts.values():
            out[(g, sev)] = out.get((g, sev), 0) + 1
        return out

    def command(self, cmd: Command, partition: int) -> list[Alert]:
        """Apply an operator command (ValidationError for an alert this worker lacks)."""
        records = self.book.command(cmd, now=max(self.clock(), cmd.ts), silences=self.silences)
        self._published(records, partition)
        return records

    def tick(self) -> list[Alert]:
        """Silences and duration escalation at the worker's clock (call every few seconds)."""
        now = self.clock()
        if now == -math.inf:
            return []
        records = self.book.tick(now, self.silences)
        for a in records:
            p = self.open_alerts.get(a.alert_id, (None, None, None, -1))[3]
            self._published([a], p)
        return records

    def rebuild_open_alerts(self, partition_of: Callable[[Alert], int | None]) -> None:
        """Recount open alerts from the alert book (after a restore)."""
        self.open_alerts.clear()
        for a in self.book.alerts():
            if a.status in OPEN:
                p = partition_of(a)
                if p is not None:
                    self.open_alerts[a.alert_id] = (a.group, a.district, a.severity, p)

    def take_output(self) -> Output:
        """The records queued since the last call."""
        out, self.out = self.out, Output()
        return out

    # --- checkpoints -----------------------------------------------------------------------
    def checkpoint(self) -> list[tuple[str, int, bytes | None]]:
        """(table key, partition, state) of every series whose window closed since the last
        call, and (key, partition, None) for series evicted after a long silence."""
        out: list[tuple[str, int, bytes | None]] = []
        for st in self.parts.values():
            if not st.dirty:
                continue
            g, p = st.group, st.partition
            for key in st.dirty:
                s = st.series.get(key)
                if s is not None:
                    out.append((series_key(g, key[0], key[1]), p, s.state(p)))
            st.dirty.clear()
        out += [(k, p, None) for k, p in self.evicted]
        self.evicted.clear()
        return out

    def snapshot(self, partitions: Container[int]) -> list[tuple[str, int, bytes]]:
        """(table key, partition, state) of every series of ``partitions``, as they are now."""
        return [(series_key(g, src, m), p, s.state(p))
                for (g, p), st in self.parts.items() if p in partitions
                for (src, m), s in st.series.items()]

    def restore(self, blob: bytes, partitions: Container[int] | None = None, *,
                dirty: bool = False) -> tuple[str, int] | None:
        """Put back a series from its checkpoint; returns its (group, partition), or None
        when the state does not fit (another layout, a group or metric no longer known), its
        partition is not in ``partitions``, or the series is already tracked. ``dirty``
        marks it for the next :meth:`checkpoint` (after a recovery the changelog may hold an
        older state than the one restored)."""
        try:
            (version, group, source, metric, district, partition, closed_upto, last_seen,
             dets, pols) = msgspec.msgpack.decode(blob)
        except (msgspec.DecodeError, ValueError, TypeError):
            return None
        if version != STATE_VERSION or (partitions is not None and partition not in partitions):
            return None
        try:
            plan = self.runtime.plan(group, metric)
        except KeyError:
            return None
        st = self.state(group, partition)
        source = sys.intern(source)
        if (source, plan.metric) in st.series:
            return None
        s = Series(plan, source, _DISTRICTS.get(district, district))
        s.load(dets, pols)
        s.closed_upto = float(closed_upto)
        s.last_seen = float(last_seen)
        store = self.book.store
        s.lanes = ((1 if lane_key(group, source, metric, CITY) in store else 0)
                   | (2 if lane_key(group, source, metric, HEALTH) in store else 0))
        st.series[s.key] = s
        self.budget.count(group, source)
        if dirty:
            st.dirty.add(s.key)
        w = st.windows
        if s.closed_upto > w.closed_upto:
            w.closed_upto = s.closed_upto
            w.forget_before(s.closed_upto)
        if s.closed_upto > w.replayed_upto:
            w.replayed_upto = s.closed_upto
        w.advance_to(s.closed_upto)
        return group, partition
