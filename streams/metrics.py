"""The worker's Prometheus metrics, declared once on a registry passed in.

Labels stay low-cardinality (group, severity, status, detector, reason class, topic; never a
source id). The hot path does not touch a metric per reading: the pipeline reports counts per
message and per window, and detector timings on a sample of windows.

>>> from prometheus_client import CollectorRegistry
>>> reg = CollectorRegistry()
>>> m = WorkerMetrics(reg)
>>> m.readings("flooding", accepted=10, late=2, dropped=1)
>>> reg.get_sample_value("ioc_worker_readings_total", {"group": "flooding"})
10.0
>>> m.deadletter("flooding", "malformed")
>>> reg.get_sample_value("ioc_worker_deadletter_total",
...                      {"group": "flooding", "reason_class": "malformed"})
1.0
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Summary

__all__ = ["WorkerMetrics"]

log = logging.getLogger("ioc.worker")


class WorkerMetrics:
    """Every metric a worker exports (the README's Observability section names the ones to
    watch)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.readings_total = Counter(
            "ioc_worker_readings", "Valid readings folded into windows.", ["group"],
            registry=registry)
        self.deadletter_total = Counter(
            "ioc_worker_deadletter", "Messages or readings sent to the dead-letter topic.",
            ["group", "reason_class"], registry=registry)
        self.windows_closed_total = Counter(
            "ioc_worker_windows_closed", "Windows closed (one per tracked series and window).",
            ["group"], registry=registry)
        self.late_total = Counter(
            "ioc_worker_late_readings", "Readings that arrived after their window ended but "
            "within the allowed lateness.", ["group"], registry=registry)
        self.dropped_total = Counter(
            "ioc_worker_dropped_readings", "Readings that arrived after their window closed "
            "(each also dead-lettered as late, unless read again after a restart).",
            ["group"], registry=registry)
        self.detector_seconds = Summary(
            "ioc_worker_detector_seconds", "Time a detector takes to score and learn the "
            "windows of one metric's series that closed together on one partition (one batch).",
            ["detector"], registry=registry)
        self.detector_errors_total = Counter(
            "ioc_worker_detector_errors", "Detector calls that raised, at a window close or on "
            "a reading (per-reading detectors): the detector was left out of that close or "
            "reading, the others scored as usual.", ["detector"], registry=registry)
        self._error_logged: dict[str, float] = {}
        self.alerts_total = Counter(
            "ioc_worker_alerts", "Alert records published (state transitions).",
            ["group", "severity", "status"], registry=registry)
        self.open_alerts = Gauge(
            "ioc_worker_open_alerts", "Open alerts (firing, acknowledged, silenced) on this "
            "worker.", ["group", "severity"], registry=registry)
        self.consumer_lag = Gauge(
            "ioc_worker_consumer_lag", "Messages behind the end of the topic, summed over this "
            "worker's partitions.", ["topic"], registry=registry)
        self.indicator_parts_total = Counter(
            "ioc_worker_indicator_parts", "Indicator parts (a partition's share of a group's "
            "district indicators for one window) sent, and merged by the worker that owns "
            "their district: merged behind sent is the indicators' backlog.", ["stage"],
            registry=registry)
        self.state_writes_total = Counter(
            "ioc_worker_state_writes", "Series states written to the changelog at checkpoints "
            "(counted once the broker has them).", registry=registry)
        self.unsaved_series = Gauge(
            "ioc_worker_unsaved_series", "Series states not yet in the changelog (changed "
            "since the last checkpoint, or being written): what a crash now would make the "
            "worker read again.", registry=registry)
        self.tracked_series = Gauge(
            "ioc_worker_tracked_series", "(source, metric) series this worker tracks.",
            registry=registry)
        self.unregistered_series = Gauge(
            "ioc_worker_unregistered_series", "Series of sources outside the catalog this "
            "worker tracks (or is opening), per group; readings beyond the bounds are "
            "dead-lettered with reason class series_limit.", ["group"], registry=registry)
        self._unregistered_seen: set[str] = set()
        self._open_seen: set[tuple[str, str]] = set()
        self._detector_children: dict[str, Any] = {}

    def readings(self, group: str, accepted: int, late: int, dropped: int) -> None:
        """Count one message's readings."""
        if accepted:
            self.readings_total.labels(group).inc(accepted)
        if late:
            self.late_total.labels(group).inc(late)
        if dropped:
            self.dropped_total.labels(group).inc(dropped)

    def deadletter(self, group: str, reason_class: str, n: int = 1) -> None:
        self.deadletter_total.labels(group, reason_class).inc(n)

    def windows_closed(self, group: str, n: int) -> None:
        if n:
            self.windows_closed_total.labels(group).inc(n)

    def detector_time(self, detector: str, seconds: float) -> None:
        child = self._detector_children.get(detector)
        if child is None:  # labels() costs more than the observation: keep the children
            child = self._detector_children[detector] = self.detector_seconds.labels(detector)
        child.observe(seconds)

    def detector_failed(self, detector: str, exc: Exception) -> None:
        """Count a detector call that raised; log it, with its traceback the first time and
        at most once a minute per detector after that."""
        self.detector_errors_total.labels(detector).inc()
        now = time.monotonic()
        last = self._error_logged.get(detector)
        if last is not None and now - last < 60.0:
            return
        self._error_logged[detector] = now
        log.error("detector %s raised and was left out of that window close or reading "
                  "(ioc_worker_detector_errors_total counts them): %r", detector, exc,
                  exc_info=exc if last is None else None)

    def alert(self, group: str, severity: str, status: str) -> None:
        self.alerts_total.labels(group, severity, status).inc()

    def set_open_alerts(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Set the open-alerts gauge; label sets that went to zero are reported as 0."""
        for key in self._open_seen - set(counts):
            self.open_alerts.labels(*key).set(0)
        for key, n in counts.items():
            self.open_alerts.labels(*key).set(n)
        self._open_seen |= set(counts)

    def set_unregistered(self, counts: Mapping[str, int]) -> None:
        """Set the unregistered-series gauge per group (groups that went to zero: 0)."""
        for group in self._unregistered_seen - set(counts):
            self.unregistered_series.labels(group).set(0)
        for group, n in counts.items():
            self.unregistered_series.labels(group).set(n)
        self._unregistered_seen |= set(counts)

    def set_lag(self, lag_by_topic: Mapping[str, int]) -> None:
        for topic, lag in lag_by_topic.items():
            self.consumer_lag.labels(topic).set(lag)
