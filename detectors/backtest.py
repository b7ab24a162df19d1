"""Backtest detectors on recorded or simulated readings against labelled ground truth.

Pure: readings (:class:`ioc.events.Reading`) and ground truth (:class:`ioc.truth.Anomaly`,
what ``ioc simulate --truth`` writes) come in as objects; the command line reads the files.

Readings are cut into the tumbling windows of their group per ``(group, source, metric)`` key,
as the stream workers do (:func:`~detectors.key_windows.windows_by_key`; empty windows where
nothing arrived, so silences show).

Each detector runs once per key (a fresh state each) over the key's windows; keys of one
detector configuration are scored together, the windows they share as one batch
(:meth:`~detectors.base.Detector.columns`, exactly as one series at a time). A window whose
policy fires (``Threshold(threshold)``, 0.9 by default, the house alert policy; or ``policy``),
decided by :func:`~detectors.decision.decide_many`, **opens an alert**; the alert stays open
while the following windows keep firing, so a long anomaly is one alert.
An alert **matches** an anomaly of the same group and source (and metric, except for a
silence, which is the whole source) when it opens between the anomaly's start and its end
plus ``grace`` windows (detectors speak when a window closes).

**Direction.** As in the worker, a window fires only on its metric's harmful side (the
catalog's ``harmful``; :func:`harmful_side`), unless ``both_sides``: precision and recall are
those of the alerts an operator would see (the simulator injects anomalies on the harmful side).

Figures per detector: **precision** (alerts that match an anomaly), **recall** (anomalies
with at least one matching alert, over the anomalies on keys present in the readings),
**time to detect** (first matching alert minus the anomaly's start), and **alerts per day**
(all alerts, and false ones, over the recording's span).

>>> from ioc.events import Reading
>>> a = Anomaly("flooding", "rain-HC-01", "rainfall", "spike", 1795413600, 1795413900, "Hai Chau")
>>> rows = [Reading(group="flooding", source="rain-HC-01", metric="rainfall", district="Hai Chau",
...                 ts=1795410000.0 + 60 * i, value=60.0 if a.active(1795410000.0 + 60 * i) else
...                 2.0 + (i % 3) * 0.1) for i in range(240)]
>>> from detectors.statistical import RobustZScore
>>> r = backtest(RobustZScore, rows, [a], name="robust_z")
>>> r.recall, r.precision, r.alerts
(1.0, 1.0, 1)
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.base import Detector, WindowStats
from detectors.columns import WindowColumns
from detectors.decision import decide_many
from detectors.direction import Side, harmful_side, side_of
from detectors.key_windows import Key, KeyWindows, windows_by_key
from detectors.policies import Policy, Threshold
from ioc import catalog
from ioc.events import Reading
from ioc.truth import Anomaly

# cutting readings into windows lives in key_windows.py; importable from here as before
__all__ = ["AlertEpisode", "BacktestResult", "KeyWindows", "backtest", "harmful_side",
           "windows_by_key"]


@dataclass(frozen=True, slots=True)
class AlertEpisode:
    """One alert: a run of windows of one key scoring at or above the threshold."""

    key: Key
    opened: float  # end of the first alarming window
    closed: float  # end of the last alarming window
    peak: float
    matched: int | None  # index of the matched anomaly in the truth list
    judged: bool = True  # False: it meets no labelled episode (``backtest(judged=...)``)


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """A detector's figures on one backtest (see the module docstring)."""

    detector: str
    alerts: int
    true_alerts: int
    anomalies: int
    detected: int
    span_s: float
    ttd_s: tuple[float, ...]
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (found, total)
    episodes: tuple[AlertEpisode, ...] = ()
    unjudged: int = 0  # alerts that meet no labelled episode: out of precision

    @property
    def precision(self) -> float:
        judged = self.alerts - self.unjudged
        return self.true_alerts / judged if judged else math.nan

    @property
    def recall(self) -> float:
        return self.detected / self.anomalies if self.anomalies else math.nan

    @property
    def alerts_per_day(self) -> float:
        return self.alerts * 86400.0 / self.span_s if self.span_s > 0 else math.nan

    @property
    def false_alerts_per_day(self) -> float:
        false = self.alerts - self.true_alerts - self.unjudged
        return false * 86400.0 / self.span_s if self.span_s > 0 else math.nan

    @property
    def median_ttd_s(self) -> float:
        return statistics.median(self.ttd_s) if self.ttd_s else math.nan

    def to_json(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if math.isnan(v) else round(v, 4)

        return {
            "detector": self.detector,
            "alerts": self.alerts,
            "true_alerts": self.true_alerts,
            "unjudged": self.unjudged,
            "anomalies": self.anomalies,
            "detected": self.detected,
            "precision": num(self.precision),
            "recall": num(self.recall),
            "median_ttd_s": num(self.median_ttd_s),
            "mean_ttd_s": num(statistics.fmean(self.ttd_s)) if self.ttd_s else None,
            "alerts_per_day": num(self.alerts_per_day),
            "false_alerts_per_day": num(self.false_alerts_per_day),
            "by_kind": {k: {"found": f, "total": t} for k, (f, t) in sorted(self.by_kind.items())},
        }


def _matches(a: Anomaly, key: Key, t: float, grace_windows: float) -> bool:
    g, s, m = key
    if a.group != g or a.source != s:
        return False
    if a.kind != "silence" and a.metric != m:
        return False
    return a.start <= t <= a.end + grace_windows * a.window_s


def backtest(
    factory: Callable[[], Detector],
    readings: Iterable[Reading] | Sequence[KeyWindows],
    truth: Sequence[Anomaly],
    *,
    name: str = "detector",
    threshold: float = 0.9,
    grace: float = 2.0,
    applies: Callable[[Key], bool] | None = None,
    per_key: Callable[[Key], Detector | None] | None = None,
    policy: Policy | None = None,
    both_sides: bool = False,
    judged: Sequence[Anomaly] | None = None,
) -> BacktestResult:
    """Run a fresh detector per key over its windows and score the alerts against ``truth``.

    ``readings`` may also be the output of :func:`windows_by_key` (to share it between
    detectors); ``applies(key)`` limits the keys a detector runs on (default: all);
    ``per_key(key)``, when given, builds the detector for a key instead of ``factory``
    (``None``: skip the key), e.g. from the catalog's metric spec. ``policy`` (a fresh clone
    per key) decides which windows alert, ``Threshold(threshold)`` by default; only on the
    harmful side of each key's metric unless ``both_sides``. ``judged``, when given, are the
    episodes someone judged (operators' labels, right or wrong): an alert that meets none of
    them nor ``truth`` is left out of the precision, since nobody said whether it was right.
    """
    keyed = _as_windows(readings)
    rule = policy if policy is not None else Threshold(threshold)
    build = per_key if per_key is not None else (lambda _key: factory())
    batches, seen_keys, span = _batches(keyed, build, applies, rule)
    for b in batches:
        b.both_sides = both_sides
    by_key: dict[Key, list[AlertEpisode]] = {}
    for batch in batches:
        for key, (opened, closed, peak) in batch.run():
            by_key.setdefault(key, []).append(
                _episode(key, opened, closed, peak, truth, grace, judged))
    episodes = [e for kw in keyed for e in by_key.pop(kw.key, ())]
    return _result(name, episodes, truth, seen_keys, span)


def _batches(
    keyed: Sequence[KeyWindows],
    build: Callable[[Key], Detector | None],
    applies: Callable[[Key], bool] | None,
    rule: Policy,
) -> tuple[list[_Batch], set[Key], float]:
    """The keys' batches (one per detector configuration), every key with windows, and the
    recording's span (first window start to last window end, over all keys)."""
    first, last = math.inf, -math.inf
    seen_keys: set[Key] = set()
    batches: dict[tuple[type, str], _Batch] = {}
    for kw in keyed:
        if not kw.windows:
            continue
        first = min(first, kw.windows[0].start)
        last = max(last, kw.windows[-1].end)
        seen_keys.add(kw.key)
        if applies is not None and not applies(kw.key):
            continue
        det = build(kw.key)
        if det is None:
            continue
        sig = (type(det), json.dumps(det.params(), sort_keys=True, default=repr))
        batch = batches.get(sig)
        if batch is None:
            batch = batches[sig] = _Batch(det, rule)
        batch.add(kw)
    return list(batches.values()), seen_keys, last - first


def _result(
    name: str, episodes: list[AlertEpisode], truth: Sequence[Anomaly], seen_keys: set[Key],
    span: float,
) -> BacktestResult:
    """The figures of ``episodes`` against the anomalies on keys present in the readings."""
    sources = {(g, s) for g, s, _ in seen_keys}
    in_scope = [
        i
        for i, a in enumerate(truth)
        if (
            (a.group, a.source) in sources
            if a.kind == "silence"
            else (a.group, a.source, a.metric) in seen_keys
        )
    ]
    first_hit: dict[int, float] = {}
    for e in episodes:
        if e.matched is not None:
            first_hit[e.matched] = min(first_hit.get(e.matched, math.inf), e.opened)
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i in in_scope:
        by_kind[truth[i].kind][1] += 1
        if i in first_hit:
            by_kind[truth[i].kind][0] += 1
    ttd = tuple(max(0.0, first_hit[i] - truth[i].start) for i in in_scope if i in first_hit)
    return BacktestResult(
        detector=name,
        alerts=len(episodes),
        true_alerts=sum(e.matched is not None for e in episodes),
        anomalies=len(in_scope),
        detected=sum(i in first_hit for i in in_scope),
        span_s=max(0.0, span) if episodes or seen_keys else 0.0,
        ttd_s=ttd,
        by_kind={k: (v[0], v[1]) for k, v in by_kind.items()},
        episodes=tuple(episodes),
        unjudged=sum(not e.judged for e in episodes),
    )


class _Batch:
    """The keys of one detector configuration, scored together: the windows that keys share
    (same start, end, kind and rhythm) form one batch (:mod:`detectors.columns`), and alerts
    are decided by the policy through :func:`~detectors.decision.decide_many`."""

    def __init__(self, det: Detector, policy: Policy) -> None:
        self.cols = det.columns()
        self.pols = policy.columns()
        self.health = (det.health,)
        self.keys: list[KeyWindows] = []
        self.sides: list[str] = []
        self.both_sides = False

    def add(self, kw: KeyWindows) -> None:
        self.cols.add(1)
        self.pols.add(1)
        self.keys.append(kw)
        self.sides.append(harmful_side(kw.key))

    def _steps(self) -> list[dict[tuple[Any, ...], list[tuple[int, WindowStats]]]]:
        """The batches in an order that keeps each key's windows in order: by window start
        (keys' windows in time order, as :func:`windows_by_key` makes them), else by position."""
        ordered = all(a.start <= b.start for kw in self.keys
                      for a, b in itertools.pairwise(kw.windows))
        steps: dict[tuple[float, int], dict[tuple[Any, ...], list[tuple[int, WindowStats]]]] = {}
        for row, kw in enumerate(self.keys):
            seen: dict[float, int] = defaultdict(int)
            for k, w in enumerate(kw.windows):
                at = (w.start, seen[w.start]) if ordered else (float(k), 0)
                seen[w.start] += 1
                shape = (w.start, w.end, w.kind, w.rhythm if w.rhythm == w.rhythm else "nan")
                steps.setdefault(at, {}).setdefault(shape, []).append((row, w))
        return [steps[at] for at in sorted(steps)]

    def run(self) -> Iterator[tuple[Key, tuple[float, float, float]]]:
        """(key, (opened, closed, peak)) of every alert, each key's in time order."""
        n = len(self.keys)
        open_at: list[float | None] = [None] * n
        peak = [0.0] * n
        prev_end = [0.0] * n
        for step in self._steps():
            for group in step.values():
                rows = np.array([r for r, _ in group], dtype=np.intp)
                w = WindowColumns.of([w for _, w in group])
                scores = self.cols.update_many(rows, w)
                firing = self._decide(rows, w, scores)
                for r, s, f in zip(rows.tolist(), scores.tolist(), firing.tolist(),
                                   strict=True):
                    if f:
                        if open_at[r] is None:
                            open_at[r], peak[r] = w.end, s
                        peak[r] = max(peak[r], s)
                    elif open_at[r] is not None:
                        yield self.keys[r].key, (open_at[r], prev_end[r], peak[r])
                        open_at[r] = None
                    prev_end[r] = w.end
        for r in range(n):
            if open_at[r] is not None:
                yield self.keys[r].key, (open_at[r], prev_end[r], peak[r])  # type: ignore[misc]


    def _decide(self, rows: np.ndarray, w: WindowColumns, scores: np.ndarray) -> np.ndarray:
        """The firing rows (one policy decision each), by the direction rule per metric."""
        wanted = ["both" if self.both_sides else self.sides[r] for r in rows.tolist()]

        firing = np.zeros(len(rows), dtype=bool)
        for d in sorted(set(wanted)):
            js = np.flatnonzero(np.array(wanted) == d)

            def side(_i: int, k: int, js: np.ndarray = js) -> Side | None:
                j = int(js[k])
                e = self.cols.explain(int(rows[j]))
                return side_of(float(w.value[j]), e.baseline, e.detail)

            (f,) = decide_many(rows[js], w.end, [scores[js]], [self.pols], self.health,
                               directions=(d,), side_of=side)
            firing[js] = f
        return firing


def _as_windows(readings: Iterable[Reading] | Sequence[KeyWindows]) -> Sequence[KeyWindows]:
    if isinstance(readings, Sequence) and readings and isinstance(readings[0], KeyWindows):
        return readings
    return windows_by_key(readings)  # type: ignore[arg-type]


def _episode(
    key: Key, opened: float, closed: float, peak: float, truth: Sequence[Anomaly], grace: float,
    judged: Sequence[Anomaly] | None = None,
) -> AlertEpisode:
    hits = [i for i, a in enumerate(truth) if _matches(a, key, opened, grace)]
    # the anomaly that started last before the alert is the one it answers
    matched = max(hits, key=lambda i: truth[i].start) if hits else None
    seen = matched is not None or judged is None or any(
        _matches(a, key, opened, grace) for a in judged)
    return AlertEpisode(key, opened, closed, peak, matched, seen)


def catalog_applies(name: str) -> Callable[[Key], bool]:
    """``applies`` for :func:`backtest`: keys whose catalog metric lists detector ``name``."""
    cache: dict[tuple[str, str], bool] = {}

    def applies(key: Key) -> bool:
        g, _, m = key
        hit = cache.get((g, m))
        if hit is None:
            try:
                hit = name in catalog.group(g).metric(m).detectors
            except Exception:
                hit = False
            cache[(g, m)] = hit
        return hit

    return applies
