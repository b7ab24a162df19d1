"""A live multivariate model's step becomes an alert verdict with its evidence.

:class:`VerdictRelay` hands the policy's decision on one vector to the
:class:`~streams.lifecycle.AlertBook` like any detector's (alert id
``isolation_forest:<group>:<source>:<metric>``), only when it fires or its lane is open, with
evidence in operators' terms (the value, usual value and recent values of the metric that
made it fire, so its title and sparkline say what is unusual) and, for engineers, the
isolation score, the model version, and when firing the metrics that explain it most.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from detectors.base import Explanation
from detectors.direction import top_named
from detectors.forest import IsolationForest
from detectors.vector_model import IsoParams, Step, usual_values
from ioc.events import Alert, Evidence
from streams.evidence import Verdict, evidence_from
from streams.lifecycle import CITY, AlertBook, lane_key
from streams.mvsubjects import Subject
from streams.silences import SilenceBook

__all__ = ["DETECTOR", "VerdictRelay", "shown_feature", "step_evidence"]

DETECTOR = IsolationForest.name


def shown_feature(subj: Subject, step: Step) -> str:
    """The feature an alert shows (its value, usual value and sparkline): the one that
    made it fire, else the one its last firing named, else the top one, else the first."""
    if step.cause is not None:
        return step.cause
    if subj.cause is not None:
        return subj.cause
    return step.top[0][0] if step.top else subj.vm.features[0]


def step_evidence(subj: Subject, step: Step, x: Sequence[float], start: float, end: float,
                  rhythm: Sequence[float] | None, params: IsoParams) -> Evidence:
    """The evidence of one step, in operators' terms: ``value`` and ``baseline`` are the
    shown feature's (:func:`shown_feature`) value and usual value in its units, ``recent``
    its recent window values (the sparkline, every step: quiet ones too); the
    isolation score, model version and parameters are the engineers' (``raw``, ``score``,
    ``detail``). When firing, ``detail``
    names the top metrics (:func:`~detectors.direction.top_named`), the ``cause``, every
    share, values and usual values (times ``rhythm`` when the vector was divided by it)."""
    model = subj.vm.model
    detail: dict[str, float | str] = {"isolation": step.raw,
                                      "model_version": model.version if model else 0}
    shown = shown_feature(subj, step)
    i = subj.vm.features.index(shown)
    k = rhythm[i] if rhythm else 1.0
    value = float(x[i]) * k
    baseline = model.usual(shown) * k if model is not None else math.nan
    if step.firing and model is not None:
        detail["top_metrics"] = ",".join(top_named(step.top))
        detail["cause"] = shown
        detail.update({f"share.{f}": round(share, 3) for f, share in step.top})
        detail.update(usual_values(model, x, rhythm))
    expl = Explanation(score=step.score, raw=step.raw, baseline=baseline,
                       threshold=params.threshold, contributing=subj.recent.values(i),
                       detail=detail)
    return evidence_from(expl, detector=DETECTOR, version=IsolationForest.version,
                         params=params.params(), window_start=start, window_end=end,
                         value=value)


class VerdictRelay:
    """Steps to the alert book (``published`` hears of every record, with its partition)."""

    def __init__(self, book: AlertBook, silences: SilenceBook, params: IsoParams,
                 published: Callable[[list[Alert], int], None] | None = None) -> None:
        self.book = book
        self.silences = silences
        self.params = params
        self.published = published

    def relay(self, subj: Subject, step: Step, x: Sequence[float], start: float, end: float,
              rhythm: Sequence[float] | None = None) -> list[Alert]:
        """The alert records of one step (none when it is quiet and its lane is closed)."""
        lane = lane_key(subj.group, subj.source, subj.metric, CITY)
        if not step.firing and lane not in self.book.store:
            return []
        ev = step_evidence(subj, step, x, start, end, rhythm, self.params)
        records = self.book.observe(group=subj.group, district=subj.district,
                                    source=subj.source, metric=subj.metric,
                                    verdicts=[Verdict(step.firing, False, ev)], ts=end,
                                    silences=self.silences, partition=subj.partition)
        if records and self.published is not None:
            self.published(records, subj.partition)
        return records
