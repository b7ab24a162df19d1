"""Scoring and deciding one block of series whose windows closed together.

For each detector of the block's metric plan: one ``score_many`` and one ``learn_many`` call
over every row (column-wise state); then :func:`detectors.decision.decide_many` (the one
decision site) makes one ``decide_many`` call per policy and applies the health rule. Only
rows where a detector fires, or where an alert lane exists and must hear "not firing" for its
hysteresis, become :class:`~streams.lifecycle.Verdict` lists for
the alert book; evidence is built only for firing rows.

Detectors that see every reading (the slow path) were decided per reading; at the close they
hand over the strongest reading of the window (:attr:`SeriesBlock.peaks`).

The decision knows each metric's harmful side (``MetricPlan.directions``): the side of a
fired row comes from its evidence, built then and reused for its verdict. A detector in
shadow mode (``DetectorPlan.shadow``) scores and decides like the others, but its verdicts
are marked ``shadow`` (the alert book records them apart, :mod:`streams.shadow`), it never
suppresses a live detector, and it never tells an alert lane "not firing".
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np

from detectors.base import Explanation
from detectors.columns import WindowColumns
from detectors.decision import decide_many
from detectors.direction import Side
from detectors.masks import where
from ioc.events import Evidence, Reading
from streams.lifecycle import Verdict, evidence_from
from streams.partition import PartitionState
from streams.series import SeriesBlock

__all__ = ["RowVerdicts", "score_block", "score_reading"]

RowVerdicts = list[tuple[int, list[Verdict]]]
_NAN = math.nan


def score_block(block: SeriesBlock, rows: np.ndarray, w: WindowColumns, *,
                timer: Callable[[str, float], None] | None = None) -> RowVerdicts:
    """Score, learn and decide ``rows`` of ``block`` on their windows ``w`` (row ``j`` of
    ``w`` is the window of ``rows[j]``); returns (row, verdicts) of the rows the alert book
    must hear, in row order. ``timer(detector, seconds)`` receives each detector's time."""
    plan = block.plan
    block.recent.write(rows, w.value)  # the sparkline's values, whatever the detectors keep
    scores: list[np.ndarray] = []
    decided: dict[int, np.ndarray] = {}
    peaks: list[dict[int, Evidence]] = []
    for i, d in enumerate(plan.detectors):
        cols = block.cols[i]
        if cols is None:  # a per-reading detector: its window's peak, decided per reading
            sc, decided[i], evs = _peaks(block, i, rows)
            scores.append(sc)
            peaks.append(evs)
            continue
        t = time.perf_counter() if timer is not None else 0.0
        sc = cols.score_many(rows, w)
        cols.learn_many(rows, w)
        if timer is not None:
            timer(d.name, time.perf_counter() - t)
        scores.append(sc)
        peaks.append({})
    health = [d.health and not d.shadow for d in plan.detectors]
    built: dict[tuple[int, int], Evidence] = {}

    def side(i: int, j: int) -> Side | None:
        ev = built[(i, j)] = peaks[i].get(int(rows[j])) or _evidence(block, i, int(rows[j]),
                                                                      w, j)
        return ev.side

    final = decide_many(rows, w.end, scores, block.pols, health, decided=decided,
                        directions=plan.directions, side_of=side)
    any_fire = np.zeros(len(rows), dtype=bool)
    for f in final:
        any_fire |= f
    listening = np.frombuffer(bytes(block.lanes), dtype=np.uint8)[rows] if len(rows) else \
        np.zeros(0, dtype=np.uint8)
    wanted = where(any_fire | (listening != 0))
    out: RowVerdicts = []
    for j in wanted.tolist():
        row = int(rows[j])
        lanes = int(listening[j])
        verdicts = []
        for i, d in enumerate(plan.detectors):
            if final[i][j]:
                ev = built.get((i, j)) or peaks[i].get(row) or _evidence(block, i, row, w, j)
                verdicts.append(Verdict(True, d.health, ev, d.shadow))
            elif d.shadow:
                continue
            elif lanes & (2 if d.health else 1):  # suppressed or quiet: a normal window
                verdicts.append(Verdict(False, d.health, _quiet(d.name, d.version,
                                                                float(scores[i][j]), w)))
        if verdicts:
            out.append((row, verdicts))
    return out


def _peaks(block: SeriesBlock, i: int, rows: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, dict[int, Evidence]]:
    """Scores, firing and evidence of a per-reading detector's strongest reading per row."""
    sc = np.zeros(len(rows))
    fire = np.zeros(len(rows), dtype=bool)
    evs: dict[int, Evidence] = {}
    if not block.peaks:
        return sc, fire, evs
    for j, row in enumerate(rows.tolist()):
        held = block.peaks.get(row)
        peak = None if held is None else held.pop(i, None)
        if peak is None:
            continue
        sc[j] = peak[0]
        if peak[1] is not None:
            fire[j] = True
            evs[row] = peak[1]
    return sc, fire, evs


def _evidence(block: SeriesBlock, i: int, row: int, w: WindowColumns, j: int) -> Evidence:
    d = block.plan.detectors[i]
    cols = block.cols[i]
    assert cols is not None
    expl = _with_recent(block, i, row, cols.explain(row), float(w.rhythm_factor))
    count = int(w.count[j])
    value = float(w.value[j]) if count or w.kind == "count" else _NAN
    return evidence_from(expl, detector=d.name, version=d.version, params=d.params,
                         window_start=w.start, window_end=w.end, value=value)


def _with_recent(block: SeriesBlock, i: int, row: int, expl: Explanation,
                 rhythm: float) -> Explanation:
    """The explanation with recent values in the metric's units for the evidence sparkline:
    the longest of the series' own recent windows (:mod:`streams.recent`) and the values the
    detectors hold (a rhythm-aware detector holds values with the rhythm taken out: put this
    window's rhythm back). Many detectors hold none, or one smoothed value."""
    dets = block.plan.detectors
    best = block.recent.values(row)
    for k in (i, *range(len(dets))):
        cols = block.cols[k]
        if cols is None:
            continue
        values = expl.contributing if k == i else cols.recent(row)
        if len(values) > len(best):
            best = tuple(v * rhythm for v in values) if dets[k].proto.rhythm_aware \
                else tuple(values)
    return dataclasses.replace(expl, contributing=best) if best else expl


def _quiet(name: str, version: str, score: float, w: WindowColumns) -> Evidence:
    """The evidence of a detector that did not fire (its lane counts a normal window)."""
    return Evidence(window_start=w.start, window_end=w.end, value=0.0, baseline=0.0,
                    threshold=None, score=score, raw=0.0, detector=name,
                    detector_version=version, params={}, recent=[])


def score_reading(st: PartitionState, r: Reading) -> None:
    """Detectors configured to see every reading (the slow path, only where asked): score,
    learn and decide the reading, and keep the window's strongest verdict per detector for
    the close (:attr:`SeriesBlock.peaks`)."""
    got = st.block_of((r.source, r.metric))
    if got is None:
        return
    block, row = got
    ts = r.epoch
    x = 1.0 if r.value is None else r.value
    peaks = block.peaks.setdefault(row, {})
    for i in block.plan.reading_indexes:
        d = block.plan.detectors[i]
        det = block.readers[i][row]
        score = det.update(x, ts)
        firing = block.reader_pols[i][row].decide(score, ts).firing
        held = peaks.get(i)
        if held is None or score > held[0]:
            ev = evidence_from(det.explain(), detector=d.name, version=d.version,
                               params=d.params, window_start=ts, window_end=ts,
                               value=x) if firing else None
            peaks[i] = (score, ev)
