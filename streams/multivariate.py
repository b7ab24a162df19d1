"""The worker's live multivariate models: vectors in, fits off the event loop, alerts out.

:class:`MultivariateBook` keeps one :class:`~detectors.vector_model.VectorModel` per
*subject*: a source whose kind measures several metrics (its vector is its metrics' window
means, :func:`~detectors.multivariate.source_layouts`; alert metric ``combined``) and, when
enabled, a group's indicators in one district (alert metric ``indicators``, source: the
district). The pipeline hands it every step's output (:meth:`MultivariateBook.observe`: the
window summaries make the vectors) and every merged indicator (:meth:`indicator`); each
vector is scored before it is learned and decided through the subject's policy, and the
verdict goes to the :class:`~streams.lifecycle.AlertBook` like any detector's, so the alert
has the normal lifecycle (alert id ``isolation_forest:<group>:<source>:combined``).

**Fits** run in ``executor`` (the worker's: one background thread) on a copy of the
subject's reservoir; :meth:`poll` (every output step) swaps finished models in, one
assignment each, only newer versions, so scoring never waits for a fit and never sees half a
model. **State** goes with the series' state to the ``series`` table: a subject's reservoir,
schedule and policy under ``group\\tsource\\t~metric`` (on every change), its model under
``...~metric.model`` (only when a new version is installed), both as msgpack of plain numbers
and array bytes (:mod:`detectors.forest_model`). After a restart or a rebalance
:meth:`restore` puts both back: the same model version scores at once, no refit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Container, Iterable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from prometheus_client import CollectorRegistry, Counter, Summary

from detectors.base import Explanation
from detectors.forest import IsolationForest
from detectors.forest_model import ForestModel, fit_model
from detectors.multivariate import indicator_vector, layout_of_metric
from detectors.vector_model import Step, VectorModel, usual_values
from ioc import catalog
from ioc.events import Alert, Evidence, GroupIndicator, WindowSummary
from streams.evidence import Verdict, evidence_from
from streams.lifecycle import CITY, AlertBook, lane_key
from streams.mvconfig import INDICATORS, SOURCES, MultivariateConfig
from streams.series import series_key
from streams.silences import SilenceBook

if TYPE_CHECKING:
    from streams.closing import Output

__all__ = ["INDICATORS", "SOURCES", "InlineExecutor", "MultivariateBook",
           "MultivariateConfig", "MultivariateMetrics", "fit_executor"]

log = logging.getLogger("ioc.worker")
DETECTOR = IsolationForest.name
_TAG = "ioc.mv"
_ENC = msgspec.msgpack.Encoder()
Key = tuple[str, str, str]  # (group, source, metric)


class InlineExecutor(Executor):
    """Runs each job at once in the caller (tests, benchmarks, doctests)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # a failed fit is reported through the future
            fut.set_exception(exc)
        return fut


@dataclass(slots=True)
class Subject:
    """One subject: where it lives and its model."""

    group: str
    source: str
    metric: str
    district: str
    partition: int
    vm: VectorModel
    dirty: bool = False
    model_dirty: bool = False


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
                 registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.book = book
        self.silences = silences
        self.executor = executor or InlineExecutor()
        self.published = published
        self.metrics = MultivariateMetrics(registry) if registry is not None else None
        self.subjects: dict[Key, Subject] = {}
        self.fits: dict[Key, Future[tuple[ForestModel, float]]] = {}
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
            layouts = layout_of_metric(group)
            if layouts:
                self._vectors(group, summaries, layouts, partition_of, out)
        if self.metrics is not None:
            self.metrics.seconds.inc(time.perf_counter() - t)

    def _vectors(self, group: str, summaries: Iterable[WindowSummary],
                 layouts: dict[str, tuple[str, tuple[str, ...]]],
                 partition_of: Callable[[str, str, str], int | None], out: Output) -> None:
        found: dict[tuple[str, float], tuple[WindowSummary, dict[str, float]]] = {}
        for s in summaries:
            if s.metric in layouts:
                got = found.setdefault((s.source, s.start), (s, {}))
                got[1][s.metric] = s.mean if s.count > 0 else math.nan
        for (source, _start), (s, values) in found.items():
            names = layouts[s.metric][1]
            raw = [values.get(m, math.nan) for m in names]
            if all(math.isnan(v) for v in raw):
                continue  # a silent source: the silence detector's business
            rhythm = _rhythms(group, names, (s.start + s.end) / 2)
            x = [v / r for v, r in zip(raw, rhythm, strict=True)]
            key = (group, source, SOURCES)
            subj = self.subjects.get(key)
            if subj is None:
                p = partition_of(group, source, s.metric)
                if p is None:
                    continue
                subj = self._new(key, s.district, p, names)
            out.alerts.extend(self._step(subj, x, s.start, s.end, rhythm))

    def indicator(self, ind: GroupIndicator, partition: int) -> list[Alert]:
        """Score and learn a merged group indicator; returns its alert records."""
        self.poll()
        if INDICATORS not in self.config.subjects:
            return []
        x = indicator_vector(ind.group, ind.kpis, ind.sources_reporting, ind.sources_expected,
                             ind.open_alerts)
        key = (ind.group, ind.district, INDICATORS)
        subj = self.subjects.get(key)
        if subj is None:
            from detectors.multivariate import indicator_features

            subj = self._new(key, ind.district, partition, indicator_features(ind.group))
        return self._step(subj, x, ind.start, ind.end)

    def _new(self, key: Key, district: str, partition: int, features: Iterable[str]
             ) -> Subject:
        subj = Subject(key[0], key[1], key[2], district, partition,
                       VectorModel(tuple(features), self.config.policy.clone(),
                                   self.config.params))
        self.subjects[key] = subj
        return subj

    # --- one vector ------------------------------------------------------------------------
    def _step(self, subj: Subject, x: list[float], start: float, end: float,
              rhythm: list[float] | None = None) -> list[Alert]:
        t = time.perf_counter()
        step = subj.vm.step(x, end=end)
        self.score_seconds += time.perf_counter() - t
        if step.replayed:
            return []
        self.vectors += 1
        subj.dirty = True
        if self.metrics is not None:
            self.metrics.vectors.labels(subj.group).inc()
        if step.fit_due:
            key = (subj.group, subj.source, subj.metric)
            self.fits[key] = self.executor.submit(_timed_fit, subj.vm.fit_request())
        return self._verdict(subj, step, x, start, end, rhythm)

    def _verdict(self, subj: Subject, step: Step, x: list[float], start: float, end: float,
                 rhythm: list[float] | None) -> list[Alert]:
        lane = lane_key(subj.group, subj.source, subj.metric, CITY)
        if not step.firing and lane not in self.book.store:
            return []
        ev = self._evidence(subj, step, x, start, end, rhythm)
        records = self.book.observe(group=subj.group, district=subj.district,
                                    source=subj.source, metric=subj.metric,
                                    verdicts=[Verdict(step.firing, False, ev)], ts=end,
                                    silences=self.silences, partition=subj.partition)
        if records and self.published is not None:
            self.published(records, subj.partition)
        return records

    def _evidence(self, subj: Subject, step: Step, x: list[float], start: float,
                  end: float, rhythm: list[float] | None) -> Evidence:
        model = subj.vm.model
        detail: dict[str, float | str] = {"isolation": step.raw,
                                          "model_version": model.version if model else 0}
        if step.firing and model is not None:
            top = [f for f, share in step.top if share >= 0.15][:3] or [step.top[0][0]]
            detail["top_metrics"] = ",".join(top)
            detail.update({f"share.{f}": round(share, 3) for f, share in step.top})
            detail.update(usual_values(model, x, rhythm))
        expl = Explanation(score=step.score, raw=step.raw, baseline=0.5,
                           threshold=self.config.params.threshold, detail=detail)
        return evidence_from(expl, detector=DETECTOR, version=IsolationForest.version,
                             params=self.config.params.params(), window_start=start,
                             window_end=end, value=step.raw)

    # --- fits ------------------------------------------------------------------------------
    def poll(self) -> int:
        """Swap in the models whose fits have finished; returns how many."""
        done = [k for k, f in self.fits.items() if f.done()]
        installed = 0
        for key in done:
            fut = self.fits.pop(key)
            subj = self.subjects.get(key)
            try:
                model, seconds = fut.result()
            except Exception as exc:  # a fit that failed: ask again at the next schedule
                log.warning("isolation forest fit for %s failed: %r", key, exc)
                model, seconds = None, 0.0
            self.fit_seconds += seconds
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
        for fut in list(self.fits.values()):
            fut.exception(timeout)
        return self.poll()

    # --- state -----------------------------------------------------------------------------
    def checkpoint(self) -> list[tuple[str, int, bytes | None]]:
        """(table key, partition, blob) of every subject that changed since the last call."""
        out: list[tuple[str, int, bytes | None]] = []
        for subj in self.subjects.values():
            if subj.model_dirty:
                out.append(self._model_record(subj))
                subj.model_dirty = False
            if subj.dirty:
                out.append(self._state_record(subj))
                subj.dirty = False
        return out

    def snapshot(self, partitions: Container[int]) -> list[tuple[str, int, bytes]]:
        """Every subject of ``partitions`` as it is now (model and state)."""
        out: list[tuple[str, int, bytes]] = []
        for subj in self.subjects.values():
            if subj.partition in partitions:
                if subj.vm.model is not None:
                    out.append(self._model_record(subj))
                out.append(self._state_record(subj))
        return out

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget the subjects of partitions this worker no longer owns."""
        gone = set(partitions)
        for key in [k for k, s in self.subjects.items() if s.partition in gone]:
            del self.subjects[key]
            self.fits.pop(key, None)

    def _record(self, subj: Subject, kind: str, payload: bytes) -> tuple[str, int, bytes]:
        suffix = ".model" if kind == "model" else ""
        blob = _ENC.encode([_TAG, kind, subj.group, subj.source, subj.metric, subj.district,
                            subj.partition, payload])
        return series_key(subj.group, subj.source, f"~{subj.metric}{suffix}"), \
            subj.partition, blob

    def _model_record(self, subj: Subject) -> tuple[str, int, bytes]:
        assert subj.vm.model is not None
        return self._record(subj, "model", subj.vm.model.to_bytes())

    def _state_record(self, subj: Subject) -> tuple[str, int, bytes]:
        return self._record(subj, "state", subj.vm.state())

    @staticmethod
    def owns(blob: bytes) -> bool:
        """Is this table value a subject's (not a series')?"""
        return _TAG.encode() in blob[:12]

    def restore(self, blob: bytes, partitions: Container[int] | None = None
                ) -> tuple[str, int] | None:
        """Put back a subject's state or model; returns its (group, partition), or None when
        the blob does not check, its partition is not owned, or the subject is already live
        with this much (a newer state or model)."""
        try:
            _tag, kind, group, source, metric, district, partition, payload = \
                msgspec.msgpack.decode(blob)
            if partitions is not None and partition not in partitions:
                return None
            return self._restore(kind, (group, source, metric), district, int(partition),
                                 bytes(payload))
        except (msgspec.DecodeError, ValueError, TypeError) as exc:
            log.warning("a multivariate state did not check and was skipped: %s", exc)
            return None

    def _restore(self, kind: str, key: Key, district: str, partition: int, payload: bytes
                 ) -> tuple[str, int] | None:
        subj = self.subjects.get(key)
        cfg = self.config
        if kind == "model":
            model = ForestModel.from_bytes(payload)
            if subj is None:
                subj = self._new(key, district, partition, model.features)
            if not subj.vm.install(model, restored=True):
                return None
            if self.metrics is not None:
                self.metrics.restored.labels(key[0]).inc()
            return key[0], partition
        if kind != "state":
            return None
        vm = VectorModel.from_state(payload, cfg.policy.clone(), cfg.params)
        if subj is not None:
            if subj.vm.last_end >= vm.last_end:
                return None
            if subj.vm.model is not None:
                vm.install(subj.vm.model, restored=True)
        self.subjects[key] = Subject(key[0], key[1], key[2], district, partition, vm)
        return key[0], partition


def _rhythms(group: str, names: Iterable[str], ts: float) -> list[float]:
    """Each metric's daily and weekly rhythm at ``ts`` (the catalog's): a vector holds the
    window means divided by them, so the hour of the day does not look like an anomaly."""
    g = catalog.group(group)
    return [g.metric(m).rhythm(ts) or 1.0 for m in names]


def fit_executor() -> Executor:
    """The worker's fit executor: one background thread (a fit of a few hundred rows takes
    tens of milliseconds, mostly in scikit-learn, and never holds the worker's lock)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="ioc-fit")


def _timed_fit(request: dict[str, Any]) -> tuple[ForestModel, float]:
    t = time.perf_counter()
    model = fit_model(**request)
    return model, time.perf_counter() - t
