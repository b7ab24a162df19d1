"""The city simulator: reproducible streams of readings for all 15 service groups.

Pure generation, no Kafka. Everything comes from :mod:`ioc.catalog`: each source reports its
measured metrics every ``cadence_s`` seconds (at a fixed phase of its own), at the catalog's
daily/weekly level (:meth:`~ioc.catalog.MetricSpec.expected`, Da Nang time) times a small
per-district and per-source offset, with Gaussian noise of relative sd ``noise``, clipped to the
physical range. Counted service events arrive as a Poisson process of ``base`` events per
minute per source times the daily shape, each a reading with a ``kind`` from the metric's
``event_kinds``. Labelled anomalies (:mod:`ioc.tools.anomalies`) are injected on top.

:class:`CitySimulator` yields one batch of :class:`~ioc.events.Reading` s per simulated second,
in event-time order; :meth:`CitySimulator.messages` groups them into Kafka messages (single
readings, or packs). The same seed and start give a byte-identical stream: all randomness comes
from generators seeded with ``seed``, never the global RNG or ``hash()``.

>>> sim = CitySimulator(seed=1, start=1795410000, duration=60)
>>> batches = list(sim)
>>> len(batches), sum(map(len, batches)) > 1500
(60, True)
>>> batches[0][0].ts == 1795410000.0
True
>>> round(sim.natural_rate, 1)
32.6
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from functools import reduce

import numpy as np

from ioc import catalog, topics
from ioc.errors import UsageError
from ioc.events import Reading
from ioc.tools.anomalies import Anomaly, AnomalyPlan, offset, surge_rate

# Moved to rooms of their own; importable from here as before.
from ioc.tools.arguments import format_ts, parse_number, parse_start
from ioc.tools.messages import (
    PACK_WAIT_S,
    Message,
    check_prefix,
    pack_run,
    prefixed,
    to_messages,
)
from ioc.tools.mix import MIX, mix_offset
from ioc.tools.pacing import Pacer, speed_for_rate
from ioc.tools.simulated_sources import (
    INTEGER_UNITS,
    MOBILE,
    PACK_KINDS,
    Series,
    SourceState,
    offset_factor,
)

__all__ = ["INTEGER_UNITS", "MOBILE", "PACK_KINDS", "PACK_WAIT_S", "CitySimulator", "Message",
           "Pacer", "check_prefix", "format_ts", "offset_factor", "parse_number", "parse_start",
           "prefixed", "speed_for_rate", "to_messages"]

_LOCAL = 7 * 3600  # Da Nang is UTC+7


class CitySimulator:
    """Readings of every source of the chosen groups, one batch per simulated second.

    ``start`` is epoch seconds; ``duration`` simulated seconds (``None``: endless).
    ``anomalies`` is the plan of labelled injections (default: none). ``pack_size`` changes
    how :meth:`messages` groups readings: ``None`` = natural (bus, vessel and SOC sources
    send one pack per tick, the rest single readings), ``1`` = never packs, ``N`` = packs of
    up to N readings of one source (held at most :data:`PACK_WAIT_S` simulated seconds).
    ``topic_prefix`` names the topics ``<prefix>.<group>.events`` (tests use their own).
    """

    def __init__(self, seed: int, start: float, duration: float | None = None, *,
                 anomalies: AnomalyPlan | None = None, groups: Sequence[str] | None = None,
                 pack_size: int | None = None, topic_prefix: str = topics.PREFIX) -> None:
        if duration is not None and duration < 0:
            raise UsageError(f"duration must be >= 0 simulated seconds, got {duration!r}")
        if pack_size is not None and pack_size < 1:
            raise UsageError(f"pack size must be at least 1, got {pack_size!r}")
        self.seed = int(seed)
        self.start = float(start)
        self.duration = duration
        self.pack_size = pack_size
        self.anomalies = anomalies if anomalies is not None else AnomalyPlan()
        slugs = tuple(groups) if groups is not None else catalog.GROUP_SLUGS
        self.groups = tuple(catalog.group(s).slug for s in slugs)
        states: list[SourceState] = []
        index = 0
        for slug in self.groups:
            kinds = {k.name: k for k in catalog.group(slug).source_kinds}
            for src in catalog.group(slug).sources():
                state = SourceState(src, kinds[src.kind], index, check_prefix(topic_prefix))
                index += len(state.measured) + len(state.counted)
                states.append(state)
        self._states = tuple(states)
        self._by_id = {s.id: s for s in states}
        for a in self.anomalies:
            if a.source not in self._by_id:
                raise UsageError(f"anomaly on {a.group}/{a.source}: that source is not simulated "
                                 f"(groups: {', '.join(self.groups)})")
        self._cycle = reduce(math.lcm, {s.cadence for s in states}, 1)
        self._due = [tuple(s for s in states if (k + s.phase) % s.cadence == 0)
                     for k in range(self._cycle)]
        self._events = tuple((s, c) for s in states for c in s.counted)
        self._event_index = {(s.id, c.name): j for j, (s, c) in enumerate(self._events)}

    @property
    def sources(self) -> tuple[catalog.Source, ...]:
        """Every simulated source."""
        return tuple(src for slug in self.groups for src in catalog.group(slug).sources())

    @property
    def end(self) -> float | None:
        """Epoch seconds where the run stops (``None``: endless)."""
        return None if self.duration is None else self.start + self.duration

    @property
    def natural_rate(self) -> float:
        """Readings per simulated second across all sources, at the catalog's base levels."""
        rate = 0.0
        for s in self._states:
            rate += len(s.measured) / s.cadence
            rate += sum(c.spec.base * c.factor for c in s.counted) / 60.0
        return rate

    def __iter__(self) -> Iterator[list[Reading]]:
        for _t, readings, _ticked in self._batches():
            yield readings

    def messages(self) -> Iterator[tuple[float, list[Message]]]:
        """``(second, messages)`` per simulated second, every reading in exactly one message;
        packs are keyed by their source like single readings. A final entry flushes packs
        still waiting when the run ends."""
        return pack_run(self._batches(), self._by_id, pack_size=self.pack_size,
                        start=self.start)

    # --- generation ----------------------------------------------------------------------

    def _batches(self) -> Iterator[tuple[float, list[Reading], tuple[SourceState, ...]]]:
        """``(second, readings, sources ticked)`` per simulated second: the measured values
        of the sources due, then the events counted in that second, in event-time order."""
        seeds = np.random.SeedSequence([self.seed, 0x10C]).spawn(2)
        values = np.random.Generator(np.random.PCG64(seeds[0]))
        events = np.random.Generator(np.random.PCG64(seeds[1]))
        anomalies = _ActiveAnomalies(self.anomalies)
        series = [x for s in self._states for x in (*s.measured, *s.counted)]
        rates = np.zeros(len(self._events))
        hour = None
        k = 0
        end = self.end
        while end is None or self.start + k < end:
            t = self.start + k
            local_hour = int((t + _LOCAL) // 3600)
            if local_hour != hour:
                hour = local_hour
                rates = self._set_levels(t, series)
            anomalies.advance(t)
            ticked = self._due[k % self._cycle]
            out = self._measure(t, ticked, values, anomalies)
            out.extend(self._count_events(t, rates, events, anomalies))
            yield t, out, ticked
            k += 1

    def _set_levels(self, t: float, series: Iterable[Series]) -> np.ndarray:
        """Move every series to its level of the hour of ``t``; return the event rates (per
        second) of the counted series, in :attr:`_events` order."""
        for x in series:
            x.level = x.spec.expected(t) * x.factor
        return np.array([c.level / 60.0 for _s, c in self._events])

    def _measure(self, t: float, ticked: tuple[SourceState, ...], rng: np.random.Generator,
                 anomalies: _ActiveAnomalies) -> list[Reading]:
        """The measured readings at second ``t`` of the sources ``ticked``: level plus noise,
        with the anomaly on the source (if any) applied, clipped to the physical range."""
        out: list[Reading] = []
        n = sum(len(s.measured) for s in ticked)
        noise = rng.standard_normal(n) if n else ()
        i = 0
        for state in ticked:
            hit = anomalies.on(state.id, t)
            if hit is not None and hit.kind == "silence":
                i += len(state.measured)
                continue
            lat, lon = state.position(t)
            for x in state.measured:
                spec = x.spec
                sigma = x.level * spec.noise
                value = x.level + sigma * float(noise[i])
                i += 1
                if hit is not None and hit.kind == MIX:  # two metrics at once
                    value += mix_offset(hit, t, sigma, x.name)
                elif hit is not None and hit.metric == x.name:
                    if hit.kind == "stuck":
                        value = anomalies.stuck.setdefault(hit, _clip(spec, value, x.rounding))
                    else:
                        value += offset(hit, t, sigma)
                value = _clip(spec, value, x.rounding)
                out.append(Reading(group=state.group, source=state.id, metric=x.name, ts=t,
                                   district=state.district, value=value, unit=x.unit,
                                   lat=lat, lon=lon))
        return out

    def _event_rates(self, t: float, rates: np.ndarray,
                     anomalies: _ActiveAnomalies) -> np.ndarray:
        """``rates`` with the count surges active in second ``t`` applied (a copy if any)."""
        lam = rates
        for sid, a in anomalies.active.items():
            if a.kind == "count_surge" and a.active(t + 0.5):
                if lam is rates:
                    lam = rates.copy()
                j = self._event_index[(sid, a.metric)]
                lam[j] = surge_rate(a, float(rates[j]))
        return lam

    def _count_events(self, t: float, rates: np.ndarray, rng: np.random.Generator,
                      anomalies: _ActiveAnomalies) -> list[Reading]:
        """The counted events in second ``t`` (Poisson counts, uniform times within the
        second, millisecond resolution), without those of silenced sources; sorted by time."""
        counts = rng.poisson(self._event_rates(t, rates, anomalies))
        total = int(counts.sum())
        if not total:
            return []
        fracs = rng.random(total)
        picks = rng.random(total)
        p = 0
        fired: list[Reading] = []
        for j in np.flatnonzero(counts).tolist():
            state, x = self._events[j]
            quiet = anomalies.silence(state.id)
            for _ in range(int(counts[j])):
                ts = t + math.floor(float(fracs[p]) * 1000.0) / 1000.0
                kind = x.pick_kind(float(picks[p]))
                p += 1
                if quiet is not None and quiet.active(ts):
                    continue
                fired.append(Reading(group=state.group, source=state.id, metric=x.name,
                                     ts=ts, district=state.district, kind=kind))
        fired.sort(key=_epoch)
        return fired


class _ActiveAnomalies:
    """The plan's anomalies as a run reaches them: the one on each source, and the value each
    stuck metric repeats."""

    __slots__ = ("active", "pending", "stuck")

    def __init__(self, plan: Iterable[Anomaly]) -> None:
        self.pending = list(plan)
        self.pending.reverse()  # pop() gives the earliest
        self.active: dict[str, Anomaly] = {}
        self.stuck: dict[Anomaly, float] = {}

    def advance(self, t: float) -> None:
        """Drop the anomalies ended by ``t``; take on those starting before ``t + 1``."""
        for sid in [sid for sid, a in self.active.items() if a.end <= t]:
            self.stuck.pop(self.active.pop(sid), None)
        while self.pending and self.pending[-1].start < t + 1:
            starting = self.pending.pop()
            self.active[starting.source] = starting

    def on(self, source: str, t: float) -> Anomaly | None:
        """The anomaly acting on ``source`` at ``t``, if any."""
        hit = self.active.get(source)
        return hit if hit is not None and hit.active(t) else None

    def silence(self, source: str) -> Anomaly | None:
        """The silence taken on for ``source`` (active or not yet at a given instant)."""
        quiet = self.active.get(source)
        return quiet if quiet is not None and quiet.kind == "silence" else None


def _epoch(r: Reading) -> float:
    return r.epoch


def _clip(spec: catalog.MetricSpec, value: float, digits: int) -> float:
    lo, hi = spec.physical
    return round(min(hi, max(lo, value)), digits) + 0.0
