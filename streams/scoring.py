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

A detector whose batch call raises (a plugin's bug on data its checks never met) is left out
of that close: it fires nothing and tells no lane "not firing" (its open alerts neither fire
again nor resolve because of it), the other detectors score as usual, and ``failed(detector,
error)`` is told (the worker logs it and counts ``ioc_worker_detector_errors_total``).
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
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

__all__ = ["Piece", "RowVerdicts", "score_block", "score_blocks", "score_reading"]

RowVerdicts = list[tuple[int, list[Verdict]]]
Failed = Callable[[str, Exception], None]
_NAN = math.nan
log = logging.getLogger("ioc.worker")


Piece = tuple[SeriesBlock, np.ndarray, WindowColumns]  # a block, its rows, their windows


def score_block(block: SeriesBlock, rows: np.ndarray, w: WindowColumns, *,
                timer: Callable[[str, float], None] | None = None,
                failed: Failed | None = None) -> RowVerdicts:
    """Score, learn and decide ``rows`` of ``block`` on their windows ``w`` (row ``j`` of
    ``w`` is the window of ``rows[j]``); returns (row, verdicts) of the rows the alert book
    must hear, in row order. ``timer(detector, seconds)`` receives each detector's time,
    ``failed(detector, error)`` each detector call that raised."""
    return score_blocks([(block, rows, w)], timer=timer, failed=failed)[0]


def score_blocks(pieces: list[Piece], *, timer: Callable[[str, float], None] | None = None,
                 failed: Failed | None = None) -> list[RowVerdicts]:
    """:func:`score_block` of several blocks of one plan whose windows closed together (one
    per partition, sharing their :class:`~streams.plan_columns.PlanColumns`): one detector
    call and one decision over all their rows; the verdicts of each piece, as it would get
    them alone."""
    s = _Stacked(pieces)
    plan = s.plan
    for b, rows, w in pieces:
        b.recent.write(rows, w.value)  # the sparkline's values, whatever the detectors keep
    scores: list[np.ndarray] = []
    decided: dict[int, np.ndarray] = {}
    for i, d in enumerate(plan.detectors):
        cols = s.columns.cols[i]
        if cols is None:  # a per-reading detector: its window's peak, decided per reading
            sc, decided[i], evs = _peaks(pieces, s.offsets, i)
            scores.append(sc)
            s.peaks.append(evs)
            continue
        t = time.perf_counter() if timer is not None else 0.0
        try:
            sc = cols.score_many(s.slots, s.w)
            cols.learn_many(s.slots, s.w)
        except Exception as exc:  # one detector's bug must not cost the others their close
            (failed or _log_failure)(d.name, exc)
            s.failed.add(i)
            sc = np.zeros(len(s.slots))
            decided[i] = np.zeros(len(s.slots), dtype=bool)
        if timer is not None:
            timer(d.name, time.perf_counter() - t)
        scores.append(sc)
        s.peaks.append({})
    health = [d.health and not d.shadow for d in plan.detectors]
    final = decide_many(s.slots, s.w.end, scores, s.columns.pols, health, decided=decided,
                        directions=plan.directions, side_of=s.side)
    any_fire = np.zeros(len(s.slots), dtype=bool)
    for f in final:
        any_fire |= f
    return [_verdicts(s, k, final, scores, any_fire) for k in range(len(pieces))]


class _Stacked:
    """Pieces of one plan end to end: their detector slots, their windows' columns, where
    each piece starts (``offsets``), and the evidence of positions, built once."""

    __slots__ = ("built", "columns", "failed", "offsets", "peaks", "pieces", "plan", "slots",
                 "w")

    def __init__(self, pieces: list[Piece]) -> None:
        block0, rows0, w0 = pieces[0]
        self.pieces, self.plan, self.columns = pieces, block0.plan, block0.columns
        if any(b.columns is not self.columns for b, _, _ in pieces):
            raise ValueError("score_blocks: the blocks do not share their detector columns")
        if len(pieces) == 1:
            self.slots, self.w, self.offsets = block0.slots[rows0], w0, [0, len(rows0)]
        else:
            self.slots = np.concatenate([b.slots[rows] for b, rows, _ in pieces])
            self.w = _joined([w for _, _, w in pieces])
            self.offsets = np.cumsum([0] + [len(rows) for _, rows, _ in pieces]).tolist()
        self.peaks: list[dict[int, Evidence]] = []  # per detector: a per-reading one's
        self.built: dict[tuple[int, int], Evidence] = {}
        self.failed: set[int] = set()  # detectors whose call raised: silent this close

    def evidence(self, i: int, at: int) -> Evidence:
        """Detector ``i``'s evidence at position ``at`` (a per-reading detector's peak)."""
        ev = self.built.get((i, at)) or self.peaks[i].get(at)
        if ev is None:
            k = bisect.bisect_right(self.offsets, at) - 1
            b, rows, wk = self.pieces[k]
            j = at - self.offsets[k]
            ev = _evidence(b, i, int(rows[j]), wk, j)
        self.built[(i, at)] = ev
        return ev

    def side(self, i: int, at: int) -> Side | None:
        return self.evidence(i, at).side


def _verdicts(s: _Stacked, k: int, final: list[np.ndarray], scores: list[np.ndarray],
              any_fire: np.ndarray) -> RowVerdicts:
    """The verdicts of piece ``k``'s rows that fire or have a lane to hear them."""
    b, rows, wk = s.pieces[k]
    lo = s.offsets[k]
    listening = np.frombuffer(bytes(b.lanes), dtype=np.uint8)[rows] if len(rows) else \
        np.zeros(0, dtype=np.uint8)
    out: RowVerdicts = []
    for j in where(any_fire[lo:lo + len(rows)] | (listening != 0)).tolist():
        at, lanes = lo + j, int(listening[j])
        verdicts = []
        for i, d in enumerate(s.plan.detectors):
            if final[i][at]:
                verdicts.append(Verdict(True, d.health, s.evidence(i, at), d.shadow))
            elif d.shadow or i in s.failed:
                continue
            elif lanes & (2 if d.health else 1):  # suppressed or quiet: a normal window
                verdicts.append(Verdict(False, d.health, _quiet(d.name, d.version,
                                                                float(scores[i][at]), wk)))
        if verdicts:
            out.append((int(rows[j]), verdicts))
    return out


def _log_failure(detector: str, exc: Exception) -> None:
    log.error("detector %s raised and was left out of that window close or reading: %r",
              detector, exc)


def _joined(ws: list[WindowColumns]) -> WindowColumns:
    """One window's columns of several blocks, end to end."""
    w = ws[0]
    cat = np.concatenate
    return WindowColumns(start=w.start, end=w.end, count=cat([x.count for x in ws]),
                         mean=cat([x.mean for x in ws]), min=cat([x.min for x in ws]),
                         max=cat([x.max for x in ws]), last=cat([x.last for x in ws]),
                         std=cat([x.std for x in ws]), kind=w.kind, rhythm=w.rhythm)


def _peaks(pieces: list[Piece], offsets: list[int], i: int
           ) -> tuple[np.ndarray, np.ndarray, dict[int, Evidence]]:
    """Scores, firing and evidence (by position) of a per-reading detector's strongest
    reading per row of the pieces."""
    sc = np.zeros(offsets[-1])
    fire = np.zeros(offsets[-1], dtype=bool)
    evs: dict[int, Evidence] = {}
    for (block, rows, _), lo in zip(pieces, offsets, strict=False):
        if not block.peaks:
            continue
        for j, row in enumerate(rows.tolist(), lo):
            held = block.peaks.get(row)
            peak = None if held is None else held.pop(i, None)
            if peak is None:
                continue
            sc[j] = peak[0]
            if peak[1] is not None:
                fire[j] = True
                evs[j] = peak[1]
    return sc, fire, evs


def _evidence(block: SeriesBlock, i: int, row: int, w: WindowColumns, j: int) -> Evidence:
    d = block.plan.detectors[i]
    cols = block.columns.cols[i]
    assert cols is not None
    expl = _with_recent(block, i, row, cols.explain(int(block.slots[row])),
                        float(w.rhythm_factor))
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
        cols = block.columns.cols[k]
        if cols is None:
            continue
        values = expl.contributing if k == i else cols.recent(int(block.slots[row]))
        if len(values) > len(best):
            best = tuple(v * rhythm for v in values) if dets[k].proto.rhythm_aware \
                else tuple(values)
    return dataclasses.replace(expl, contributing=best) if best else expl


def _quiet(name: str, version: str, score: float, w: WindowColumns) -> Evidence:
    """The evidence of a detector that did not fire (its lane counts a normal window)."""
    return Evidence(window_start=w.start, window_end=w.end, value=0.0, baseline=0.0,
                    threshold=None, score=score, raw=0.0, detector=name,
                    detector_version=version, params={}, recent=[])


def score_reading(st: PartitionState, r: Reading, failed: Failed | None = None) -> None:
    """Detectors configured to see every reading (the slow path, only where asked): score,
    learn and decide the reading, and keep the window's strongest verdict per detector for
    the close (:attr:`SeriesBlock.peaks`). A detector that raises on the reading skips it
    (``failed(detector, error)`` is told); the others and the reading's window go on."""
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
        try:
            score = det.update(x, ts)
            firing = block.reader_pols[i][row].decide(score, ts).firing
            held = peaks.get(i)
            if held is None or score > held[0]:
                ev = evidence_from(det.explain(), detector=d.name, version=d.version,
                                   params=d.params, window_start=ts, window_end=ts,
                                   value=x) if firing else None
                peaks[i] = (score, ev)
        except Exception as exc:  # one detector's bug must not cost the message
            (failed or _log_failure)(d.name, exc)
