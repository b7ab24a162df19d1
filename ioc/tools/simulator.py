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
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce

import numpy as np

from ioc import catalog, topics
from ioc.errors import UsageError
from ioc.events import Reading, encode
from ioc.tools.anomalies import Anomaly, AnomalyPlan, offset, surge_rate

# Source kinds that send one tick's readings (and the events since the last tick) as a pack.
PACK_KINDS: frozenset[str] = frozenset({"bus", "vessel", "soc_sensor"})
# Moving sources: radius (degrees) and period (s) of their loop around the home position.
MOBILE: dict[str, tuple[float, float]] = {
    "vehicle": (0.012, 1800.0), "bus": (0.015, 3600.0), "vessel": (0.25, 43200.0),
}
# Metrics counted in whole units.
INTEGER_UNITS: frozenset[str] = frozenset({"pumps", "systems"})
# With --pack-size, a source's readings wait at most this long (simulated) for a full pack.
PACK_WAIT_S = 20.0
_LOCAL = 7 * 3600  # Da Nang is UTC+7


def offset_factor(group: str, district: str, metric: str, source: str = "") -> float:
    """The multiplier that makes districts (and sources) differ, stable across runs and seeds.

    Measured metrics move at most 8% (less when their normal range is narrow); counted
    metrics up to 20% per district. Sources add a third of that again.

    >>> offset_factor("traffic", "Hai Chau", "volume") == offset_factor("traffic", "Hai Chau",
    ...                                                                 "volume")
    True
    >>> offset_factor("traffic", "Hai Chau", "volume") != offset_factor("traffic", "Son Tra",
    ...                                                                 "volume")
    True
    """
    spec = catalog.group(group).metric(metric)
    if spec.counted:
        amp = 0.2
    else:
        lo, hi = spec.normal
        base = abs(spec.base) or 1.0
        amp = max(0.0, min(0.08, 0.5 * (hi - spec.base) / base, 0.5 * (spec.base - lo) / base))
    u = catalog.hash_name(f"{group}:{district}:{metric}") / 0xFFFFFFFF
    factor = 1.0 + amp * (2.0 * u - 1.0)
    if source:
        v = catalog.hash_name(f"{source}:{metric}") / 0xFFFFFFFF
        factor *= 1.0 + amp / 3.0 * (2.0 * v - 1.0)
    return factor


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message: ``key`` is the source id, ``readings`` one reading or a pack."""

    topic: str
    key: str
    readings: tuple[Reading, ...]
    pack: bool

    def payload(self) -> bytes:
        """The message value: one reading's JSON, or a JSON list for a pack."""
        return encode(list(self.readings)) if self.pack else encode(self.readings[0])


_PREFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def check_prefix(prefix: str) -> str:
    """A topic prefix (``ioc`` gives the standard names), or UsageError.

    >>> check_prefix("t.e2e-1")
    't.e2e-1'
    """
    if not prefix or len(prefix) > 100 or not set(prefix) <= _PREFIX_CHARS:
        raise UsageError(f"--topic-prefix: must be 1-100 of [A-Za-z0-9._-], got {prefix!r}")
    return prefix


def prefixed(topic: str, prefix: str) -> str:
    """``topic`` (a standard ``ioc.*`` name) under ``prefix``.

    >>> prefixed("ioc.flooding.events", "t1"), prefixed("ioc.alerts", "ioc")
    ('t1.flooding.events', 'ioc.alerts')
    """
    return f"{prefix}{topic[len(topics.PREFIX):]}"


def to_messages(readings: Iterable[Reading], *, pack: bool = False,
                topic_prefix: str = topics.PREFIX) -> list[Message]:
    """Readings as messages: one each, or (``pack``) one pack per (group, source), in the
    order each source first appears; topics ``<topic_prefix>.<group>.events``.

    >>> r = [Reading(group="flooding", source=s, metric="rainfall", ts=1795410000.0,
    ...              district="Hai Chau", value=1.0) for s in ("rain-HC-01", "rain-TK-01",
    ...                                                        "rain-HC-01")]
    >>> [(m.key, len(m.readings), m.pack) for m in to_messages(r, pack=True)]
    [('rain-HC-01', 2, True), ('rain-TK-01', 1, True)]
    >>> len(to_messages(r))
    3
    """
    def topic(group: str) -> str:
        return prefixed(topics.events_topic(group), topic_prefix)

    if not pack:
        return [Message(topic(r.group), r.source, (r,), False) for r in readings]
    grouped: dict[tuple[str, str], list[Reading]] = {}
    for r in readings:
        grouped.setdefault((r.group, r.source), []).append(r)
    return [Message(topic(g), sid, tuple(rs), True) for (g, sid), rs in grouped.items()]


class _Series:
    """One (source, metric) the simulator keeps a level for."""

    __slots__ = ("factor", "index", "kinds", "level", "name", "rounding", "spec", "unit",
                 "weights")

    def __init__(self, index: int, spec: catalog.MetricSpec, factor: float) -> None:
        self.index = index
        self.spec = spec
        self.name = spec.name
        self.unit = spec.unit
        self.factor = factor
        self.level = 0.0
        self.rounding = 0 if spec.unit in INTEGER_UNITS else 3
        self.kinds = spec.event_kinds
        raw = [1.0 / (i + 1) ** 1.5 for i in range(len(spec.event_kinds))]
        total = sum(raw) or 1.0
        acc, cum = 0.0, []
        for w in raw:
            acc += w / total
            cum.append(acc)
        self.weights = cum

    def pick_kind(self, u: float) -> str:
        for kind, edge in zip(self.kinds, self.weights, strict=True):
            if u < edge:
                return kind
        return self.kinds[-1]


class _SourceState:
    """What the simulator needs to know about one source."""

    __slots__ = ("cadence", "counted", "district", "group", "id", "lat", "lon", "measured",
                 "mobile", "pack", "phase", "topic")

    def __init__(self, src: catalog.Source, kind: catalog.SourceKind, first_series: int,
                 prefix: str) -> None:
        self.id = src.id
        self.group = src.group
        self.district = src.district
        self.topic = prefixed(topics.events_topic(src.group), prefix)
        self.lat = src.lat
        self.lon = src.lon
        cadence = kind.cadence_s
        if cadence < 1 or not float(cadence).is_integer():
            raise UsageError(f"cadence of {kind.name} must be a whole number of seconds")
        self.cadence = int(cadence)
        self.phase = catalog.hash_name(src.id) % self.cadence
        self.pack = kind.name in PACK_KINDS
        self.mobile = MOBILE.get(kind.name)
        measured: list[_Series] = []
        counted: list[_Series] = []
        index = first_series
        for spec in kind.metrics:
            series = _Series(index, spec, offset_factor(src.group, src.district, spec.name, src.id))
            (counted if spec.counted else measured).append(series)
            index += 1
        self.measured: tuple[_Series, ...] = tuple(measured)
        self.counted: tuple[_Series, ...] = tuple(counted)

    def position(self, ts: float) -> tuple[float | None, float | None]:
        if self.mobile is None:
            return None, None
        radius, period = self.mobile
        angle = 2.0 * math.pi * (ts / period) + (catalog.hash_name(self.id) % 360) * math.pi / 180
        return (round(self.lat + radius * math.sin(angle), 5),
                round(self.lon + radius * math.cos(angle), 5))


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
        states: list[_SourceState] = []
        index = 0
        for slug in self.groups:
            kinds = {k.name: k for k in catalog.group(slug).source_kinds}
            for src in catalog.group(slug).sources():
                state = _SourceState(src, kinds[src.kind], index, check_prefix(topic_prefix))
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
        buffers: dict[str, list[Reading]] = {}
        size = self.pack_size
        last = self.start

        def flush(sid: str) -> Message:
            readings = buffers.pop(sid)
            state = self._by_id[sid]
            return Message(state.topic, sid, tuple(readings), True)

        for t, readings, ticked in self._batches():
            last = t
            out: list[Message] = []
            if size is None:
                for r in readings:
                    state = self._by_id[r.source]
                    if state.pack:
                        buffers.setdefault(r.source, []).append(r)
                    else:
                        out.append(Message(state.topic, r.source, (r,), False))
                for state in ticked:
                    if state.pack and state.id in buffers:
                        out.append(flush(state.id))
            elif size == 1:
                out.extend(Message(self._by_id[r.source].topic, r.source, (r,), False)
                           for r in readings)
            else:
                for r in readings:
                    buf = buffers.setdefault(r.source, [])
                    buf.append(r)
                    if len(buf) >= size:
                        out.append(flush(r.source))
                stale = t - PACK_WAIT_S
                for sid in [sid for sid, buf in buffers.items() if buf[0].epoch <= stale]:
                    out.append(flush(sid))
            yield t, out
        if buffers:
            yield last, [flush(sid) for sid in list(buffers)]

    # --- generation ----------------------------------------------------------------------

    def _batches(self) -> Iterator[tuple[float, list[Reading], tuple[_SourceState, ...]]]:
        seeds = np.random.SeedSequence([self.seed, 0x10C]).spawn(2)
        values = np.random.Generator(np.random.PCG64(seeds[0]))
        events = np.random.Generator(np.random.PCG64(seeds[1]))
        pending = list(self.anomalies)
        pending.reverse()  # pop() gives the earliest
        active: dict[str, Anomaly] = {}
        stuck: dict[Anomaly, float] = {}
        hour = None
        series = [x for s in self._states for x in (*s.measured, *s.counted)]
        event_series = self._events
        rates = np.zeros(len(event_series))
        k = 0
        end = self.end
        while end is None or self.start + k < end:
            t = self.start + k
            local_hour = int((t + _LOCAL) // 3600)
            if local_hour != hour:
                hour = local_hour
                for x in series:
                    x.level = x.spec.expected(t) * x.factor
                rates = np.array([c.level / 60.0 for _s, c in event_series])
            for sid in [sid for sid, a in active.items() if a.end <= t]:
                stuck.pop(active.pop(sid), None)
            while pending and pending[-1].start < t + 1:
                starting = pending.pop()
                active[starting.source] = starting

            ticked = self._due[k % self._cycle]
            out: list[Reading] = []
            n = sum(len(s.measured) for s in ticked)
            noise = values.standard_normal(n) if n else ()
            i = 0
            for state in ticked:
                hit = active.get(state.id)
                if hit is not None and not hit.active(t):
                    hit = None
                if hit is not None and hit.kind == "silence":
                    i += len(state.measured)
                    continue
                lat, lon = state.position(t)
                for x in state.measured:
                    spec = x.spec
                    sigma = x.level * spec.noise
                    value = x.level + sigma * float(noise[i])
                    i += 1
                    if hit is not None and hit.metric == x.name:
                        if hit.kind == "stuck":
                            value = stuck.setdefault(hit, _clip(spec, value, x.rounding))
                        else:
                            value += offset(hit, t, sigma)
                    value = _clip(spec, value, x.rounding)
                    out.append(Reading(group=state.group, source=state.id, metric=x.name, ts=t,
                                       district=state.district, value=value, unit=x.unit,
                                       lat=lat, lon=lon))

            lam = rates
            for sid, a in active.items():
                if a.kind == "count_surge" and a.active(t + 0.5):
                    if lam is rates:
                        lam = rates.copy()
                    j = self._event_index[(sid, a.metric)]
                    lam[j] = surge_rate(a, float(rates[j]))
            counts = events.poisson(lam)
            total = int(counts.sum())
            if total:
                fracs = events.random(total)
                picks = events.random(total)
                p = 0
                fired: list[Reading] = []
                for j in np.flatnonzero(counts).tolist():
                    state, x = event_series[j]
                    quiet = active.get(state.id)
                    if quiet is not None and quiet.kind != "silence":
                        quiet = None
                    for _ in range(int(counts[j])):
                        ts = t + math.floor(float(fracs[p]) * 1000.0) / 1000.0
                        kind = x.pick_kind(float(picks[p]))
                        p += 1
                        if quiet is not None and quiet.active(ts):
                            continue
                        fired.append(Reading(group=state.group, source=state.id, metric=x.name,
                                             ts=ts, district=state.district, kind=kind))
                fired.sort(key=_epoch)
                out.extend(fired)
            yield t, out, ticked
            k += 1


def _epoch(r: Reading) -> float:
    return r.epoch


def _clip(spec: catalog.MetricSpec, value: float, digits: int) -> float:
    lo, hi = spec.physical
    return round(min(hi, max(lo, value)), digits) + 0.0


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


def parse_number(option: str, text: str | None, *, integer: bool = False,
                 minimum: float | None = None) -> float | None:
    """A command-line number, or UsageError naming the option (``None`` passes through).

    >>> parse_number("--rate", "250"), parse_number("--seed", "7", integer=True)
    (250.0, 7)
    >>> parse_number("--rate", "-1", minimum=0)
    Traceback (most recent call last):
    ...
    ioc.errors.UsageError: --rate: must be at least 0, got '-1'
    """
    if text is None:
        return None
    try:
        value: float = int(text) if integer else float(text)
    except ValueError:
        what = "a whole number" if integer else "a number"
        raise UsageError(f"{option}: expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"{option}: expected a finite number, got {text!r}")
    if minimum is not None and value < minimum:
        raise UsageError(f"{option}: must be at least {minimum:g}, got {text!r}")
    return value


def parse_start(text: str | None, now: Callable[[], float] = time.time) -> float:
    """``--start`` as epoch seconds: epoch seconds or RFC 3339; default: now (whole seconds).

    >>> parse_start("2026-11-23T12:00:00+07:00"), parse_start("1795410000")
    (1795410000.0, 1795410000.0)
    """
    if text is None:
        return float(int(now()))
    from ioc.errors import ValidationError
    from ioc.events import parse_ts

    try:
        number: float | str = float(text)
    except ValueError:
        number = text
    try:
        return parse_ts("--start", number)
    except ValidationError as exc:
        raise UsageError(str(exc)) from None


def format_ts(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC, for people.

    >>> format_ts(1795410000)
    '2026-11-23T05:00:00Z'
    """
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
