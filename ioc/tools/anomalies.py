"""Labelled anomalies for the city simulator, and their ground truth.

An :class:`AnomalyPlan` is a list of :class:`Anomaly` injections, never two on one source at
once. :meth:`AnomalyPlan.random` draws one from a seed (the same seed gives the same plan);
:func:`place` builds one specific injection for a test. The simulator applies them; the ground
truth (:func:`write_truth`) lets tests and benchmarks score the whole pipeline.

Magnitudes are relative to the metric's per-reading standard deviation ``sigma = level *
noise`` (``level`` = the catalog's daily/weekly shape times the district's offset):

============  ===============================================================================
kind          what the simulator does to the readings in ``[start, end)``
============  ===============================================================================
spike         every reading is ``level + 10 sigma`` (one whole window)
level_shift   ``+ 6 sigma``, sustained for 8-12 windows
drift         a linear ramp of 2.5 sigma per window, 8 windows (to ``+ 20 sigma``)
stuck         the metric repeats its first value (the source's other metrics go on), 6-8 windows
silence       the whole source sends nothing, 5-7 windows; the truth names its heartbeat metric
count_surge   a counted metric's rate x 8, and at least +12 events per window, 3-4 windows
============  ===============================================================================

The sign of spike, level_shift and drift is the metric's harmful side (the catalog's
``harmful``: up for PM2.5, down for camera uptime; for a metric harmful both ways, up or down),
and it must keep the value inside the metric's physical range (a value outside it is a broken
sensor, not the city): the ground truth only holds anomalies an operator should hear about.

>>> place("traffic", "trf-HC-01", "speed", "level_shift", 1795410000).sign  # slow traffic
-1

>>> a = place("flooding", "flood-HC-01", "flood_depth", "stuck", 1795410000)
>>> a.kind, a.district, a.end - a.start
('stuck', 'Hai Chau', 360.0)
>>> plan = AnomalyPlan.random(seed=7, start=1795410000, duration=6 * 3600, count=6)
>>> sorted({x.kind for x in plan}) == sorted(KINDS)
True
>>> plan == AnomalyPlan.random(seed=7, start=1795410000, duration=6 * 3600, count=6)
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

from ioc import catalog
from ioc.errors import UsageError
from ioc.truth import Anomaly, read_truth, truth_line, write_truth

__all__ = ["KINDS", "Anomaly", "AnomalyPlan", "eligible", "harmful_signs", "offset",
           "parse_kinds", "place", "read_truth", "surge_rate", "truth_line", "write_truth"]

AnomalyKind = Literal["spike", "level_shift", "drift", "stuck", "silence", "count_surge"]
KINDS: tuple[str, ...] = ("spike", "level_shift", "drift", "stuck", "silence", "count_surge")

# Duration of each kind in windows of the group: (fewest, most).
WINDOWS: dict[str, tuple[int, int]] = {
    "spike": (1, 1), "level_shift": (8, 12), "drift": (8, 8), "stuck": (6, 8),
    "silence": (5, 7), "count_surge": (3, 4),
}
SIGMAS: dict[str, float] = {"spike": 10.0, "level_shift": 6.0, "drift": 20.0}
SURGE_FACTOR = 8.0
SURGE_EXTRA = 12.0          # extra events per window, at the least
PER_HOUR = 4.0              # default number of anomalies per simulated hour
WARMUP_S = 1800.0           # default warm-up before the first anomaly
# A counted heartbeat must expect this many events per window for its silence to be visible.
SILENCE_MIN_EVENTS = 4.0

# Detectors that see a change in a measured metric's level.
_LEVEL_DETECTORS = frozenset({catalog.ROBUST_Z, catalog.CUSUM, catalog.EWMA, catalog.SEASONAL})


def eligible(kind: str, spec: catalog.MetricSpec) -> bool:
    """True when a detector of ``spec`` can see an anomaly of ``kind`` on that metric.

    >>> traffic = catalog.group("traffic")
    >>> eligible("spike", traffic.metric("speed")), eligible("stuck", traffic.metric("speed"))
    (True, True)
    >>> eligible("spike", traffic.metric("signal_faults"))
    False
    """
    if kind in ("spike", "level_shift", "drift"):
        return (not spec.counted and spec.noise > 0
                and bool(_LEVEL_DETECTORS.intersection(spec.detectors)))
    if kind == "stuck":
        return not spec.counted and spec.noise > 0 and catalog.STUCK in spec.detectors
    if kind == "count_surge":
        return spec.counted and catalog.COUNT_SURGE in spec.detectors
    if kind == "silence":
        return True
    raise UsageError(f"unknown anomaly kind {kind!r} (known: {', '.join(KINDS)})")


def parse_kinds(text: str) -> tuple[str, ...]:
    """``"spike,stuck"`` -> ``("spike", "stuck")``; UsageError naming the known kinds.

    >>> parse_kinds("spike, silence")
    ('spike', 'silence')
    """
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    if not kinds:
        raise UsageError(f"--anomaly-kinds: give at least one of {', '.join(KINDS)}")
    for k in kinds:
        if k not in KINDS:
            raise UsageError(f"--anomaly-kinds: unknown kind {k!r} (known: {', '.join(KINDS)})")
    return tuple(dict.fromkeys(kinds))


def _source(group: str, source: str) -> catalog.Source:
    for s in catalog.group(group).sources():
        if s.id == source:
            return s
    raise UsageError(f"unknown source {source!r} in group {group!r}")


def _kind_of(src: catalog.Source) -> catalog.SourceKind:
    for k in catalog.group(src.group).source_kinds:
        if k.name == src.kind:
            return k
    raise AssertionError(src.kind)  # pragma: no cover - the catalog builds sources from kinds


def _fits(spec: catalog.MetricSpec, ts: float, sigmas: float, sign: int) -> bool:
    """True when ``level + sign * sigmas * sigma`` stays inside the physical range (10% slack)."""
    level = spec.expected(ts)
    target = level + sign * sigmas * level * spec.noise * 1.1
    lo, hi = spec.physical
    return lo <= target <= hi and (sign > 0 or target >= 0.05 * level)


def harmful_signs(spec: catalog.MetricSpec, want: int = 1) -> tuple[int, ...]:
    """The signs an injected level change may take on ``spec``: its harmful side, or both
    (``want`` first) for a metric harmful both ways.

    >>> env = catalog.group("environment")
    >>> harmful_signs(env.metric("pm25")), harmful_signs(env.metric("ph"), -1)
    ((1,), (-1, 1))
    """
    if spec.harmful == "high":
        return (1,)
    if spec.harmful == "low":
        return (-1,)
    return (want, -want)


def _choose_sign(spec: catalog.MetricSpec, kind: str, ts: float, want: int) -> int | None:
    if kind not in SIGMAS:
        return 1
    for sign in harmful_signs(spec, want):
        if _fits(spec, ts, SIGMAS[kind], sign):
            return sign
    return None


def _silence_visible(kind: catalog.SourceKind, start: float, end: float, window: int) -> bool:
    beat = kind.heartbeat
    if not beat.counted:
        return True
    steps = max(2, int((end - start) // 1800) + 1)
    for i in range(steps + 1):
        ts = start + (end - start) * i / steps
        if beat.expected(ts) / 60.0 * window < SILENCE_MIN_EVENTS:
            return False
    return True


def place(group: str, source: str, metric: str, kind: str, start: float,
          duration: float | None = None, *, sign: int | None = None) -> Anomaly:
    """One specific injection, validated against the catalog.

    ``duration`` defaults to the kind's fewest windows; ``sign`` (+1 or -1) to whichever keeps
    the value physical. For silence, ``metric`` may be ``""`` (the source kind's heartbeat is
    used; the truth names it). Pass a window-aligned ``start`` for a whole-window spike.
    The default sign is the harmful side's, unless the value would leave the physical range
    there (then the side that fits).

    >>> place("traffic", "trf-HC-01", "speed", "count_surge", 1795410000)
    Traceback (most recent call last):
    ...
    ioc.errors.UsageError: count_surge does not fit traffic/speed: no detector of it can see one
    """
    g = catalog.group(group)
    src = _source(group, source)
    skind = _kind_of(src)
    if kind == "silence":
        metric = skind.heartbeat.name
    if metric not in {m.name for m in skind.metrics}:
        raise UsageError(f"source {source!r} ({skind.name}) has no metric {metric!r}")
    spec = g.metric(metric)
    if not eligible(kind, spec):
        raise UsageError(f"{kind} does not fit {group}/{metric}: no detector of it can see one")
    if duration is None:
        duration = WINDOWS[kind][0] * g.window_s
    if not duration > 0:
        raise UsageError(f"anomaly duration must be positive, got {duration!r}")
    if sign is None:
        chosen = _choose_sign(spec, kind, start, 1)
        if chosen is None:  # the harmful side leaves the physical range: the side that fits
            fits = [sg for sg in (1, -1) if _fits(spec, start, SIGMAS[kind], sg)]
            chosen = fits[0] if fits else 1
        sign = chosen
    elif sign not in (1, -1):
        raise UsageError(f"anomaly sign must be 1 or -1, got {sign!r}")
    return Anomaly(group, source, metric, kind, float(start), float(start + duration),
                   src.district, sign)


class AnomalyPlan(Sequence[Anomaly]):
    """Injections sorted by start, never two overlapping on one source."""

    __slots__ = ("_items",)

    def __init__(self, anomalies: Iterable[Anomaly] = ()) -> None:
        items = sorted(anomalies, key=lambda a: (a.start, a.group, a.source, a.metric))
        last: dict[str, Anomaly] = {}
        for a in items:
            if a.kind not in KINDS and a.kind != "mix":  # mix: ioc.tools.mix, placed only
                raise UsageError(f"unknown anomaly kind {a.kind!r} (known: {', '.join(KINDS)})")
            if not a.end > a.start:
                raise UsageError(f"anomaly on {a.source} ends before it starts")
            prev = last.get(a.source)
            if prev is not None and a.start < prev.end:
                raise UsageError(f"anomalies overlap on source {a.source}: {prev.kind} "
                                 f"[{prev.start:g}, {prev.end:g}) and {a.kind} "
                                 f"[{a.start:g}, {a.end:g})")
            if prev is None or a.end > prev.end:
                last[a.source] = a
        self._items: tuple[Anomaly, ...] = tuple(items)

    def __getitem__(self, index: int) -> Anomaly:  # type: ignore[override]
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Anomaly]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnomalyPlan) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"AnomalyPlan({len(self._items)} anomalies)"

    def started_before(self, ts: float) -> list[Anomaly]:
        """The anomalies that began before ``ts``, each cut to end at ``ts`` at the latest
        (what a run that stopped at ``ts`` really injected)."""
        out = []
        for a in self._items:
            if a.start < ts:
                out.append(a if a.end <= ts else Anomaly(
                    a.group, a.source, a.metric, a.kind, a.start, ts, a.district, a.sign))
        return out

    @classmethod
    def random(cls, seed: int, start: float, duration: float, *, count: int | None = None,
               kinds: Sequence[str] = KINDS, warmup_s: float | None = None,
               per_hour: float = PER_HOUR, groups: Sequence[str] | None = None) -> AnomalyPlan:
        """A plan drawn from ``seed``: ``count`` anomalies (default ``per_hour`` per simulated
        hour after the warm-up, at least one) spread evenly over ``[start + warmup_s, start +
        duration)``. The warm-up defaults to :data:`WARMUP_S`, or a third of a shorter run.

        The kinds take turns in a shuffled order, so every requested kind appears once
        ``count >= len(kinds)``; groups are drawn uniformly among those that can show the kind.
        When a kind does not fit its slot (too long for the time left, every candidate source
        busy) another requested kind takes the slot; if none fits, the slot stays empty.
        """
        for k in kinds:
            if k not in KINDS:
                raise UsageError(f"unknown anomaly kind {k!r} (known: {', '.join(KINDS)})")
        slugs = tuple(groups) if groups is not None else catalog.GROUP_SLUGS
        for slug in slugs:
            catalog.group(slug)
        end = start + duration
        if warmup_s is None:
            warmup_s = min(WARMUP_S, duration / 3.0)
        first = start + min(warmup_s, duration)
        span = end - first
        if count is None:
            count = max(1, round(per_hour * span / 3600.0))
        if count <= 0 or span <= 0 or not kinds:
            return cls()
        rng = random.Random(f"ioc-anomalies:{seed}")
        order: list[str] = []
        busy: dict[str, list[tuple[float, float]]] = {}
        chosen: list[Anomaly] = []
        for i in range(count):
            if not order:
                order = list(kinds)
                rng.shuffle(order)
            kind = order.pop()
            target = first + (i + rng.random()) * span / count
            others = [k for k in kinds if k != kind]
            rng.shuffle(others)
            for candidate in (kind, *others):
                placed = _place_one(rng, candidate, slugs, (first, target, end), busy)
                if placed is not None:
                    chosen.append(placed)
                    break
        return cls(chosen)


def _place_one(rng: random.Random, kind: str, slugs: Sequence[str],
               when: tuple[float, float, float],
               busy: dict[str, list[tuple[float, float]]]) -> Anomaly | None:
    for _attempt in range(40):
        a = _draw(rng, kind, slugs, when)
        if a is None:
            continue
        spans = busy.setdefault(a.source, [])
        if any(a.start < e and s < a.end for s, e in spans):
            continue
        spans.append((a.start, a.end))
        return a
    return None


def _draw(rng: random.Random, kind: str, slugs: Sequence[str],
          when: tuple[float, float, float]) -> Anomaly | None:
    """One candidate anomaly of ``kind`` starting at the first window boundary after
    ``target``, or earlier (not before ``first``) when it would not end by ``end``."""
    first, target, end = when
    options = [g for g in slugs if _candidates(g, kind)]
    if not options:
        return None
    g = catalog.group(rng.choice(options))
    src, metric = rng.choice(_candidates(g.slug, kind))
    w = g.window_s
    lo, hi = WINDOWS[kind]
    length = rng.randint(lo, hi) * w
    begin = min(math.ceil(target / w) * w, math.floor((end - length) / w) * w)
    if begin < first:
        return None
    spec = g.metric(metric)
    skind = _kind_of(src)
    if kind == "silence" and not _silence_visible(skind, begin, begin + length, w):
        return None
    sign = _choose_sign(spec, kind, begin, rng.choice((1, -1)))
    if sign is None:
        return None
    return Anomaly(g.slug, src.id, metric, kind, float(begin), float(begin + length),
                   src.district, sign)


_CANDIDATES: dict[tuple[str, str], list[tuple[catalog.Source, str]]] = {}


def _candidates(slug: str, kind: str) -> list[tuple[catalog.Source, str]]:
    """(source, metric) pairs of group ``slug`` that can carry an anomaly of ``kind``."""
    key = (slug, kind)
    found = _CANDIDATES.get(key)
    if found is None:
        found = []
        g = catalog.group(slug)
        kinds = {k.name: k for k in g.source_kinds}
        for src in g.sources():
            skind = kinds[src.kind]
            if kind == "silence":
                found.append((src, skind.heartbeat.name))
                continue
            found.extend((src, m.name) for m in skind.metrics if eligible(kind, m))
        _CANDIDATES[key] = found
    return found


def offset(anomaly: Anomaly, ts: float, sigma: float) -> float:
    """What spike, level_shift and drift add to a reading at ``ts`` (0 for other kinds).

    >>> a = place("traffic", "trf-HC-01", "volume", "drift", 1795410000)
    >>> offset(a, 1795410000, 50.0), offset(a, a.end - 1, 50.0) > 499
    (0.0, True)
    """
    if anomaly.kind == "drift":
        span = anomaly.end - anomaly.start
        return anomaly.sign * SIGMAS["drift"] * sigma * (ts - anomaly.start) / span
    if anomaly.kind in ("spike", "level_shift"):
        return anomaly.sign * SIGMAS[anomaly.kind] * sigma
    return 0.0


def surge_rate(anomaly: Anomaly, per_second: float) -> float:
    """A counted metric's event rate (per second) under a count surge.

    >>> surge_rate(place("traffic", "trf-HC-01", "signal_faults", "count_surge", 1795410000), 0.0)
    0.2
    """
    return max(per_second * SURGE_FACTOR, per_second + SURGE_EXTRA / anomaly.window_s)
