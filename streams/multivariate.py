"""The worker's live multivariate models: vectors in, fits off the event loop, alerts out.

:class:`MultivariateBook` keeps one :class:`~detectors.vector_model.VectorModel` per
*subject*: a source whose kind measures several metrics (its vector is its metrics' window
means, :mod:`streams.mvvectors`; alert metric ``combined``) and, when enabled, a group's
indicators in one district (alert metric ``indicators``, source: the district). The pipeline
hands it every step's output (:meth:`MultivariateBook.observe`: the window summaries make
the vectors) and every merged indicator (:meth:`~MultivariateBook.indicator`); each vector
is scored before it is learned and decided through the subject's policy, and the verdict
goes to the :class:`~streams.lifecycle.AlertBook` like any detector's
(:mod:`streams.mvverdicts`; alert id ``isolation_forest:<group>:<source>:combined``).
The decision follows each feature's harmful side (:func:`detectors.decision.decide_mix`):
a source's metrics take theirs from the detector runtime (the catalog's ``harmful``, or
``direction = "both"`` in a metric's config), a group's indicators from their KPIs' metrics
(:func:`detectors.multivariate.indicator_directions`).

The jobs around it have rooms of their own: **fits** run in the worker's fit executor
(:mod:`streams.mvfits`) on a copy of the subject's reservoir; :meth:`~MultivariateBook.poll`
(every output step) swaps finished models in, one assignment each, only newer versions, so
scoring never waits for a fit and never sees half a model. **State** (the subjects, their
table records, restores after a restart or a rebalance) is :mod:`streams.mvsubjects`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterable, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Summary

from detectors.direction import harmful_side
from detectors.multivariate import indicator_directions, indicator_features, indicator_vector
from ioc.catalog_types import Direction
from ioc.events import Alert, GroupIndicator
from streams.lifecycle import AlertBook
from streams.mvconfig import INDICATORS, SOURCES, MultivariateConfig
from streams.mvfits import FitQueue, InlineExecutor, fit_executor
from streams.mvsubjects import Key, Record, Subject, Subjects, owns
from streams.mvvectors import source_vectors
from streams.mvverdicts import VerdictRelay
from streams.silences import SilenceBook

if TYPE_CHECKING:
    from streams.closing import Output

__all__ = ["INDICATORS", "SOURCES", "InlineExecutor", "MultivariateBook",
           "MultivariateConfig", "MultivariateMetrics", "fit_executor"]


class MultivariateMetrics:
    """The multivariate models' Prometheus metrics (labels: group only)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.fits = Counter("ioc_worker_multivariate_fits", "Isolation-forest models fitted "
                            "and swapped in.", ["group"], registry=registry)
        self.restored = Counter("ioc_worker_multivariate_restored_models", "Fitted models put "
                                "back from the changelog after a restart or a rebalance.",
                                ["group"], registry=registry)
        self.vectors = Counter("ioc_worker_multivariate_vectors", "Vectors (one per subject "
                               "and window) scored and learned.", ["group"], registry=registry)
        self.fit_seconds = Summary("ioc_worker_multivariate_fit_seconds", "Time one fit takes "
                                   "(in the background thread).", registry=registry)
        self.seconds = Counter("ioc_worker_multivariate_seconds", "Time the worker's own "
                               "thread spends on vectors: assembling, scoring, learning, "
                               "deciding (fits excluded).", registry=registry)


class MultivariateBook:
    """Subjects, their fits and their alerts (see the module docstring)."""

    def __init__(self, config: MultivariateConfig, book: AlertBook, silences: SilenceBook, *,
                 executor: Executor | None = None,
                 published: Callable[[list[Alert], int], None] | None = None,
                 registry: CollectorRegistry | None = None,
                 direction_of: Callable[[str, str], Direction] | None = None) -> None:
        self.config = config
        self.metrics = MultivariateMetrics(registry) if registry is not None else None
        self.direction_of = direction_of or _catalog_direction
        self.subjects = Subjects(config.policy, config.params, self.harmful_of)
        self.fits = FitQueue(executor or InlineExecutor())
        self.verdicts = VerdictRelay(book, silences, config.params, published)
        self.fit_count = 0
        self.fit_seconds = 0.0
        self.score_seconds = 0.0
        self.vectors = 0

    # --- input -----------------------------------------------------------------------------
    def observe(self, out: Output, partition_of: Callable[[str, str, str], int | None]
                ) -> None:
        """Vectors from ``out``'s window summaries (one per source and window whose kind
        has a layout); their alert records are added to ``out.alerts``."""
        self.poll()
        if SOURCES not in self.config.subjects or not out.summaries:
            return
        t = time.perf_counter()
        for group, summaries in out.summaries.items():
            for v in source_vectors(group, summaries):
                key = (group, v.source, SOURCES)
                subj = self.subjects.get(key)
                if subj is None:
                    p = partition_of(group, v.source, v.first.metric)
                    if p is None:
                        continue
                    subj = self.subjects.new(key, v.first.district, p, v.features)
                out.alerts.extend(self._step(subj, v.x, v.first.start, v.first.end,
                                             v.rhythm))
        if self.metrics is not None:
            self.metrics.seconds.inc(time.perf_counter() - t)

    def indicator(self, ind: GroupIndicator, partition: int) -> list[Alert]:
        """Score and learn a merged group indicator; returns its alert records."""
        self.poll()
        if INDICATORS not in self.config.subjects:
            return []
        x = indicator_vector(ind.group, ind.kpis, ind.sources_reporting, ind.sources_expected,
                             ind.open_alerts)
        key = (ind.group, ind.district, INDICATORS)
        subj = self.subjects.get(key) or self.subjects.new(
            key, ind.district, partition, indicator_features(ind.group))
        return self._step(subj, x, ind.start, ind.end)

    def harmful_of(self, key: Key, features: tuple[str, ...]) -> dict[str, Direction]:
        """The harmful side of each feature of a subject (the direction rule's input)."""
        group, _source, metric = key
        if metric == INDICATORS:
            return indicator_directions(group, self.direction_of)
        return {f: self.direction_of(group, f) for f in features}

    def _step(self, subj: Subject, x: list[float], start: float, end: float,
              rhythm: Sequence[float] | None = None) -> list[Alert]:
        """Score, decide and learn one vector; ask for a fit when one is due."""
        t = time.perf_counter()
        step = subj.vm.step(x, end=end)
        self.score_seconds += time.perf_counter() - t
        if step.replayed:
            return []
        self.vectors += 1
        subj.dirty = True
        values = np.asarray(x, dtype=np.float64)  # the recent values, in their units
        subj.recent.write(np.arange(len(values)), values * rhythm if rhythm else values)
        if step.cause is not None:
            subj.cause = step.cause
        if self.metrics is not None:
            self.metrics.vectors.labels(subj.group).inc()
        if step.fit_due:
            self.fits.submit(subj.key, subj.vm.fit_request())
        return self.verdicts.relay(subj, step, x, start, end, rhythm)

    # --- fits ------------------------------------------------------------------------------
    def poll(self) -> int:
        """Swap in the models whose fits have finished; returns how many."""
        installed = 0
        for key, model, seconds in self.fits.finished():
            self.fit_seconds += seconds
            subj = self.subjects.get(key)
            if subj is not None and subj.vm.install(model):
                self.fit_count += 1
                installed += 1
                subj.dirty = subj.model_dirty = True
                if self.metrics is not None:
                    self.metrics.fits.labels(subj.group).inc()
                    self.metrics.fit_seconds.observe(seconds)
        return installed

    def wait_fits(self, timeout: float | None = None) -> int:
        """Wait for the fits in flight, then :meth:`poll` (tests and benchmarks)."""
        self.fits.wait(timeout)
        return self.poll()

    # --- state -----------------------------------------------------------------------------
    def checkpoint(self) -> list[tuple[str, int, bytes | None]]:
        """(table key, partition, blob) of every subject that changed since the last call."""
        return list(self.subjects.checkpoint())

    def snapshot(self, partitions: Container[int]) -> list[Record]:
        """Every subject of ``partitions`` as it is now (model and state)."""
        return self.subjects.snapshot(partitions)

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget the subjects of partitions this worker no longer owns."""
        for key in self.subjects.revoke(partitions):
            self.fits.forget(key)

    owns = staticmethod(owns)

    def restore(self, blob: bytes, partitions: Container[int] | None = None
                ) -> tuple[str, int] | None:
        """Put back a subject's state or model (:meth:`streams.mvsubjects.Subjects.restore`);
        returns its (group, partition), or None when nothing was put back."""
        done = self.subjects.restore(blob, partitions)
        if done is None:
            return None
        kind, group, partition = done
        if kind == "model" and self.metrics is not None:
            self.metrics.restored.labels(group).inc()
        return group, partition


def _catalog_direction(group: str, metric: str) -> Direction:
    """A metric's harmful side in the catalog (``both`` for a name it does not know)."""
    return harmful_side((group, "", metric))

