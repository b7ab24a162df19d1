"""The worker's two web pages: ``/metrics`` and ``/healthz``.

Faust's own pages (tables, router, graph, statistics) stay off (:mod:`streams.app`), and the
server binds to ``IOC_WORKER_HOST`` (127.0.0.1 by default).

``/metrics``  Prometheus exposition of the worker's registry.
``/healthz``  ``starting`` (HTTP 503) until partitions are assigned and tables recovered, then
              ``ok`` or ``degraded`` with ``reasons`` (:class:`~streams.health.HealthWatch`:
              readings refused for their time at a meaningful rate, or readings arriving
              while no window closes). Degraded answers HTTP 200: the worker is alive and
              consuming, and what degrades it is its input (bad clocks upstream), which a
              restart would not fix; an orchestrator's liveness probe must not restart it,
              alerting reads ``status``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

if TYPE_CHECKING:
    import faust

    from ioc.settings import Settings
    from streams.health import HealthWatch, WorkerStatus
    from streams.pipeline import Pipeline

__all__ = ["WorkerPages"]

# aiohttp refuses a charset inside content_type; the exposition format is ASCII
METRICS_TYPE = CONTENT_TYPE_LATEST.split("; charset")[0]


class WorkerPages:
    """The bodies of ``/metrics`` and ``/healthz``, and their registration on a Faust app.

    ``assigned()`` names the events partitions assigned to the worker (it may raise while
    the consumer is not running: the page then shows none).
    """

    def __init__(self, *, settings: Settings, registry: CollectorRegistry,
                 status: WorkerStatus, health: HealthWatch, pipeline: Pipeline,
                 assigned: Callable[[], Iterable[int]]) -> None:
        self.settings = settings
        self.registry = registry
        self.status = status
        self.health = health
        self.pipeline = pipeline
        self.assigned = assigned

    def metrics(self) -> tuple[bytes, str]:
        """The exposition and its content type."""
        return generate_latest(self.registry), METRICS_TYPE

    def healthz(self, now: float | None = None) -> tuple[dict[str, Any], int]:
        """The health body and its HTTP status (``now``: monotonic seconds)."""
        now = time.monotonic() if now is None else now
        assigned: list[int] = []
        with contextlib.suppress(Exception):
            assigned = sorted(self.assigned())
        ready = self.status.ready
        parts = list(self.pipeline.parts.values())
        reasons = self.health.reasons(parts, now) if ready else []
        status = "starting" if not ready else "degraded" if reasons else "ok"
        body = {"status": status, "ready": ready, "reasons": reasons,
                "app_id": self.settings.app_id, "partitions": assigned,
                "recoveries": self.status.recoveries,
                "series": sum(len(st.series) for st in parts),
                "clock": max(self.pipeline.clock(), 0.0),
                "uptime_s": round(now - self.status.started, 1)}
        return body, 200 if ready else 503

    def register(self, app: faust.App) -> None:
        """Serve ``/metrics`` and ``/healthz`` from ``app``'s web server."""

        # Faust binds a page function to its View class: plain functions, not bound methods
        async def metrics_page(view: Any, request: Any) -> Any:
            body, content_type = self.metrics()
            return view.bytes(body, content_type=content_type)

        async def health_page(view: Any, request: Any) -> Any:
            body, status = self.healthz()
            return view.json(body, status=status)

        app.page("/metrics")(metrics_page)
        app.page("/healthz")(health_page)
