"""Group indicators per district: partial counts per partition, merged into one record.

A district's sources of a group are spread over the partitions of the group's topic, and so
over workers. When a partition closes a window, the worker publishes an :class:`IndicatorPart`
per district with what that partition saw (sources reporting, sources in breach, open alerts
by severity, partial KPI aggregates) on an internal topic keyed by ``group:district``: a
message is one part or, when a step closed several windows or partitions, a JSON array of the
key's parts in order (up to :data:`PARTS_PACK`; one message each cost more to consume than
to merge). The
indicator agent, which sees every part of a ``group:district`` key, merges them with
:class:`IndicatorMerger` into one :class:`~ioc.events.GroupIndicator` per window once every
partition that took part in the previous window has reported, or once a later window's part
arrives (a partition that stopped reporting cannot hold the indicator back).

KPI partials by operation (``ServiceGroup.kpis``): ``sum`` [sum], ``max`` [max], ``mean``
[sum, n], ``breach`` [sources in breach], ``ratio`` [sum of metric, sum of other].

>>> m = IndicatorMerger({})
>>> def part(p, start, reporting, received):
...     return IndicatorPart(group="citizen_feedback", district="Hai Chau", partition=p,
...                          start=start, end=start + 300, reporting=reporting, in_breach=0,
...                          open_alerts={"warning": 1}, kpis={"received": [received]})
>>> m.add(part(0, 0.0, 1, 4.0))      # first window: nothing known about other partitions
[]
>>> m.add(part(1, 0.0, 1, 3.0))
[]
>>> ind, = m.add(part(0, 300.0, 1, 2.0))  # a later window: the first one is complete
>>> ind.sources_reporting, ind.sources_expected, ind.kpis["received"], ind.open_alerts["warning"]
(2, 2, 7.0, 2)
>>> ind, = m.add(part(1, 300.0, 1, 1.0))  # both partitions of the last window are in
>>> ind.start, ind.kpis["received"]
(300.0, 3.0)

A straggler (a part of a window already published) is dropped, but its partition is waited
for from then on:

>>> m = IndicatorMerger({})
>>> _ = m.add(part(0, 0.0, 1, 1.0))
>>> [(i.start, i.sources_reporting) for i in m.add(part(0, 300.0, 1, 1.0))]  # 1 is late
[(0.0, 1), (300.0, 1)]
>>> m.add(part(1, 0.0, 1, 1.0)), m.add(part(1, 300.0, 1, 1.0))  # stragglers
([], [])
>>> m.add(part(0, 600.0, 1, 1.0))  # window 600 now waits for partition 1 too
[]
>>> [(i.start, i.sources_reporting) for i in m.add(part(1, 600.0, 1, 1.0))]
[(600.0, 2)]
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, MutableMapping, Sequence
from functools import cache

import msgspec
import numpy as np

from detectors.masks import every, where
from ioc import catalog
from ioc.events import SEVERITIES, GroupIndicator

__all__ = ["PARTS_PACK", "DistrictGroups", "IndicatorMerger", "IndicatorPart", "KpiPartial",
           "by_key", "expected_sources", "finish_kpis"]

KEEP_WINDOWS = 4  # windows held per key while parts are missing


class IndicatorPart(msgspec.Struct, frozen=True, kw_only=True):
    """What one partition saw of a group in a district during one window."""

    group: str
    district: str
    partition: int
    start: float
    end: float
    reporting: int
    in_breach: int
    open_alerts: dict[str, int]
    kpis: dict[str, list[float]]


class _State(msgspec.Struct, kw_only=True):
    parts: dict[str, dict[str, IndicatorPart]] = {}   # start -> partition -> part
    expect: list[int] = []                            # partitions of the last window merged
    done: float = float("-inf")                       # start of the last window published


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(_State)
# a parts-topic message: one part, or a pack of a key's parts in order (PARTS_PACK at most)
PARTS_DECODER = msgspec.json.Decoder(IndicatorPart | list[IndicatorPart])
PARTS_PACK = 256


def by_key(parts: Iterable[IndicatorPart]) -> dict[str, list[IndicatorPart]]:
    """Parts by their ``group:district`` key (the parts topic's), each key's in order."""
    out: dict[str, list[IndicatorPart]] = defaultdict(list)
    for part in parts:
        out[f"{part.group}:{part.district}"].append(part)
    return out


@cache
def expected_sources(group: str, district: str) -> int:
    """How many sources the catalog lists for ``group`` in ``district``."""
    return sum(1 for s in catalog.group(group).sources() if s.district == district)


@cache
def _kpi_index(group: str) -> dict[str, tuple[tuple[str, str, bool], ...]]:
    """metric -> (kpi name, op, the metric is the ratio's ``other``) of a group's KPIs."""
    out: dict[str, list[tuple[str, str, bool]]] = {}
    for k in catalog.group(group).kpis:
        out.setdefault(k.metric, []).append((k.name, k.op, False))
        if k.op == "ratio" and k.other:
            out.setdefault(k.other, []).append((k.name, k.op, True))
    return {m: tuple(v) for m, v in out.items()}


class KpiPartial:
    """Accumulates one partition's KPI partials for one (group, district) window.

    >>> k = KpiPartial("citizen_feedback")
    >>> k.add("tickets_handled", 9.0, False); k.add("tickets_overdue", 1.0, False)
    >>> k.values["handled_on_time_pct"], k.values["overdue"]
    ([9.0, 1.0], [1.0])
    """

    __slots__ = ("index", "values")

    def __init__(self, group: str) -> None:
        self.index = _kpi_index(group)
        self.values: dict[str, list[float]] = {}

    def add(self, metric: str, value: float, in_breach: bool) -> None:
        """Fold one series' window value (NaN: an empty window of a measured metric)."""
        kpis = self.index.get(metric)
        if not kpis:
            return
        values = self.values
        for name, op, other in kpis:
            cur = values.get(name)
            if op == "breach":
                values[name] = [(cur[0] if cur else 0.0) + (1.0 if in_breach else 0.0)]
            elif value != value:
                continue
            elif op == "sum":
                values[name] = [(cur[0] if cur else 0.0) + value]
            elif op == "max":
                values[name] = [value if cur is None else max(cur[0], value)]
            elif op == "mean":
                values[name] = [(cur[0] if cur else 0.0) + value, (cur[1] if cur else 0.0) + 1.0]
            elif other:
                values[name] = [cur[0] if cur else 0.0, (cur[1] if cur else 0.0) + value]
            else:
                values[name] = [(cur[0] if cur else 0.0) + value, cur[1] if cur else 0.0]


    def add_many(self, metric: str, values: np.ndarray, in_breach: np.ndarray) -> None:
        """:meth:`add` of many series' window values of one metric at once.

        >>> k = KpiPartial("citizen_feedback")
        >>> k.add_many("tickets_handled", np.array([4.0, 5.0, np.nan]), np.zeros(3, bool))
        >>> k.values["handled_on_time_pct"]
        [9.0, 0.0]
        """
        if metric not in self.index:
            return
        real = values[values == values]
        self.add_totals(metric, float(real.sum()) if len(real) else 0.0, len(real),
                        float(real.max()) if len(real) else math.nan, int(in_breach.sum()))

    def add_totals(self, metric: str, total: float, n: int, top: float,
                   breaches: int) -> None:
        """Fold many series' windows of one metric given as their totals: the sum of the
        ``n`` real values, their maximum ``top`` and how many are in breach."""
        kpis = self.index.get(metric)
        if not kpis:
            return
        values_ = self.values
        for name, op, other in kpis:
            cur = values_.get(name)
            if op == "breach":
                values_[name] = [(cur[0] if cur else 0.0) + float(breaches)]
            elif not n:
                continue
            elif op == "sum":
                values_[name] = [(cur[0] if cur else 0.0) + total]
            elif op == "max":
                values_[name] = [top if cur is None else max(cur[0], top)]
            elif op == "mean":
                values_[name] = [(cur[0] if cur else 0.0) + total,
                                 (cur[1] if cur else 0.0) + float(n)]
            elif other:
                values_[name] = [cur[0] if cur else 0.0, (cur[1] if cur else 0.0) + total]
            else:
                values_[name] = [(cur[0] if cur else 0.0) + total, cur[1] if cur else 0.0]


def finish_kpis(group: str, parts: list[dict[str, list[float]]]) -> dict[str, float]:
    """Merge partials of several partitions into the KPI values (absent when no data).

    >>> finish_kpis("citizen_feedback", [{"handled_on_time_pct": [9.0, 1.0]},
    ...                                  {"handled_on_time_pct": [10.0, 0.0]}])
    {'handled_on_time_pct': 95.0}
    """
    out: dict[str, float] = {}
    for k in catalog.group(group).kpis:
        got = [p[k.name] for p in parts if k.name in p]
        if not got:
            continue
        if k.op in ("sum", "breach"):
            out[k.name] = float(sum(g[0] for g in got))
        elif k.op == "max":
            out[k.name] = float(max(g[0] for g in got))
        elif k.op == "mean":
            n = sum(g[1] for g in got)
            if n:
                out[k.name] = sum(g[0] for g in got) / n
        elif k.op == "ratio":
            a, b = sum(g[0] for g in got), sum(g[1] for g in got)
            if a + b > 0:
                out[k.name] = 100.0 * a / (a + b)
    return out


class IndicatorMerger:
    """Merge :class:`IndicatorPart` s per ``group:district`` key; state in ``store``."""

    def __init__(self, store: MutableMapping[str, bytes]) -> None:
        self.store = store

    def add(self, part: IndicatorPart) -> list[GroupIndicator]:
        """Apply one part; return the indicators now complete, oldest first."""
        return self.add_many([part])

    def add_many(self, parts: Sequence[IndicatorPart]) -> list[GroupIndicator]:
        """Apply parts in order (a key's state read and written once); return the
        indicators they complete, each key's oldest first.

        >>> m = IndicatorMerger({})
        >>> p = [IndicatorPart(group="flooding", district="Hai Chau", partition=n, start=s,
        ...                    end=s + 60, reporting=1, in_breach=0, open_alerts={}, kpis={})
        ...      for s in (0.0, 60.0) for n in (0, 1)]
        >>> [(i.start, i.sources_reporting) for i in m.add_many(p)]  # 60: both partitions in
        [(0.0, 2), (60.0, 2)]
        """
        out: list[GroupIndicator] = []
        for key, key_parts in by_key(parts).items():
            raw = self.store.get(key)
            st = _DEC.decode(raw) if raw is not None else _State()
            changed = False
            for part in key_parts:
                changed = self._apply(st, part, out) or changed
            if changed:
                self.store[key] = _ENC.encode(st)
        return out

    def _apply(self, st: _State, part: IndicatorPart, out: list[GroupIndicator]) -> bool:
        """Apply one part to its key's state, appending the indicators it completes to
        ``out``; whether the state changed."""
        if part.start <= st.done:
            # a window already published (a replay or a straggler): a straggler's partition
            # takes part from now on, so the next windows wait for it (else one partition's
            # part released every window and the others' counts were dropped for good)
            if part.partition in st.expect:
                return False
            st.expect = sorted([*st.expect, part.partition])
            return True
        st.parts.setdefault(repr(part.start), {})[str(part.partition)] = part
        starts = sorted(st.parts, key=float)
        newest = float(starts[-1])
        for s in starts:
            got = st.parts[s]
            complete = bool(st.expect) and {str(p) for p in st.expect} <= set(got)
            if float(s) < newest or complete:
                out.append(self._merge(list(got.values())))
                st.expect = sorted(int(p) for p in got)
                st.done = float(s)
                del st.parts[s]
            else:
                break
        for s in sorted(st.parts, key=float)[:-KEEP_WINDOWS]:
            del st.parts[s]
        return True

    @staticmethod
    def _merge(parts: list[IndicatorPart]) -> GroupIndicator:
        p0 = parts[0]
        alerts = {s: 0 for s in SEVERITIES}
        for p in parts:
            for s, n in p.open_alerts.items():
                alerts[s] = alerts.get(s, 0) + n
        return GroupIndicator(
            group=p0.group, district=p0.district, start=p0.start, end=p0.end,
            sources_reporting=sum(p.reporting for p in parts),
            sources_expected=expected_sources(p0.group, p0.district),
            sources_in_breach=sum(p.in_breach for p in parts), open_alerts=alerts,
            kpis=finish_kpis(p0.group, [p.kpis for p in parts]))


class DistrictGroups:
    """Rows grouped by district: ``order`` (the rows, stable by district number), ``starts``
    (where each district's run begins in it), ``spans`` ((begin, end) of each run), ``codes``
    (each run's district number) and ``sources`` (the rows' sources in that order).

    >>> g = DistrictGroups(np.array([1, 0, 1]), ["a", "b", "c"])
    >>> g.order.tolist(), g.spans, g.codes, g.sources
    ([1, 0, 2], [(0, 1), (1, 3)], [0, 1], ['b', 'a', 'c'])
    """

    __slots__ = ("codes", "order", "sources", "spans", "starts")

    def __init__(self, codes: np.ndarray, sources: Sequence[str]) -> None:
        self.order = np.argsort(codes, kind="stable")
        ordered = codes[self.order]
        self.starts = where(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
        begins = self.starts.tolist()
        self.spans = list(zip(begins, [*begins[1:], len(self.order)], strict=True))
        self.codes = ordered[self.starts].tolist()
        self.sources = [sources[j] for j in self.order.tolist()]


class DistrictRollup:
    """What one partition's closing window adds up per district: the sources reporting, those
    in breach, and the KPI partials; :meth:`parts` turns them into :class:`IndicatorPart`.

    >>> r = DistrictRollup("flooding")
    >>> r.add("Hai Chau", "rain-HC-01", "rainfall", 3, 2.0, False)
    >>> r.add("Hai Chau", "rain-HC-02", "rainfall", 0, float("nan"), False)
    >>> [(p.district, p.reporting, p.in_breach) for p in r.parts(0, 0.0, 60.0, {})]
    [('Hai Chau', 1, 0)]
    """

    __slots__ = ("by_district", "group")

    def __init__(self, group: str) -> None:
        self.group = group
        self.by_district: dict[str, tuple[set[str], set[str], KpiPartial]] = {}

    def add(self, district: str, source: str, metric: str, count: int, value: float,
            breach: bool) -> None:
        """Fold one series' window (``value`` NaN: an empty window of a measured metric)."""
        d = self.by_district.get(district)
        if d is None:
            d = self.by_district[district] = (set(), set(), KpiPartial(self.group))
        if count:
            d[0].add(source)
        if breach:
            d[1].add(source)
        d[2].add(metric, value, breach)

    def add_many(self, codes: np.ndarray, names: Sequence[str], sources: list[str],
                 metric: str, counts: np.ndarray, values: np.ndarray,
                 breach: np.ndarray, groups: DistrictGroups | None = None) -> None:
        """:meth:`add` of many series of one metric at once (row ``j`` of each); row ``j``'s
        district is ``names[codes[j]]``; ``groups``: these rows grouped by district, when
        known (:class:`DistrictGroups` of ``codes`` and ``sources``).

        >>> r = DistrictRollup("flooding")
        >>> r.add_many(np.array([1, 0, 1]), ["Son Tra", "Hai Chau"], ["a", "b", "c"],
        ...            "rainfall", np.array([1, 2, 0]), np.array([1.0, 2.0, np.nan]),
        ...            np.array([True, False, False]))
        >>> sorted((p.district, p.reporting, p.in_breach) for p in r.parts(0, 0.0, 60.0, {}))
        [('Hai Chau', 1, 1), ('Son Tra', 1, 0)]
        """
        if not len(codes):
            return
        g = DistrictGroups(codes, sources) if groups is None else groups
        order, starts, src = g.order, g.starts, g.sources
        v, hot, reporting = values[order], breach[order], counts[order] > 0
        real = v == v
        # per district: the sum, count and maximum of the real values, the breaches
        totals = np.add.reduceat(np.where(real, v, 0.0), starts).tolist()
        ns = np.add.reduceat(real, starts).tolist()
        tops = np.fmax.reduceat(np.where(real, v, np.nan), starts).tolist()
        breaches = np.add.reduceat(hot, starts).tolist()
        everyone = every(reporting)
        for k, (lo, hi) in enumerate(g.spans):
            district = names[g.codes[k]]
            d = self.by_district.get(district)
            if d is None:
                d = self.by_district[district] = (set(), set(), KpiPartial(self.group))
            d[0].update(src[lo:hi] if everyone else
                        [s for s, r in zip(src[lo:hi], reporting[lo:hi].tolist(),
                                           strict=True) if r])
            if breaches[k]:
                d[1].update(s for s, b in zip(src[lo:hi], hot[lo:hi].tolist(), strict=True)
                            if b)
            d[2].add_totals(metric, totals[k], ns[k], tops[k], breaches[k])

    def parts(self, partition: int, start: float, end: float,
              open_alerts: dict[str, dict[str, int]]) -> list[IndicatorPart]:
        """One part per district seen, with its open alerts per severity."""
        return [IndicatorPart(group=self.group, district=district, partition=partition,
                              start=start, end=end, reporting=len(reporting),
                              in_breach=len(breaching), open_alerts=open_alerts.get(district, {}),
                              kpis=kpi.values)
                for district, (reporting, breaching, kpi) in self.by_district.items()]
