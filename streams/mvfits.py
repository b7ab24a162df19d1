"""Fits of the live multivariate models, off the worker's thread.

A fit (:func:`detectors.forest_model.fit_model`) is a pure function of a copy of a subject's
reservoir, so it runs in the worker's fit executor (:func:`fit_executor`: one background
thread). :class:`FitQueue` keeps at most one fit in flight per subject and hands back the
finished ones, so the caller swaps each model in on its own thread, between two vectors.

>>> import numpy as np
>>> q = FitQueue(InlineExecutor())
>>> q.submit("a", {"rows": np.arange(8.0).reshape(4, 2), "features": ("x", "y"),
...                "version": 1, "n_estimators": 3, "max_samples": 4, "seed": 0,
...                "threshold": 0.75})
>>> [(key, model.version) for key, model, _seconds in q.finished()], len(q)
([('a', 1)], 0)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Executor, Future
from typing import Any

from detectors.forest_model import ForestModel, fit_model

__all__ = ["FitQueue", "InlineExecutor", "fit_executor"]

log = logging.getLogger("ioc.worker")


class InlineExecutor(Executor):
    """Runs each job at once in the caller (tests, benchmarks, doctests)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # a failed fit is reported through the future
            fut.set_exception(exc)
        return fut


def fit_executor() -> Executor:
    """The worker's fit executor: one background thread (a fit of a few hundred rows takes
    tens of milliseconds, mostly in scikit-learn, and never holds the worker's lock)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="ioc-fit")


def _timed_fit(request: dict[str, Any]) -> tuple[ForestModel, float]:
    t = time.perf_counter()
    model = fit_model(**request)
    return model, time.perf_counter() - t


class FitQueue:
    """The fits in flight, one per subject key (a newer request replaces an older one)."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self._futures: dict[Hashable, Future[tuple[ForestModel, float]]] = {}

    def __len__(self) -> int:
        return len(self._futures)

    def submit(self, key: Hashable, request: dict[str, Any]) -> None:
        """Fit ``fit_model(**request)`` for ``key`` in the executor."""
        self._futures[key] = self.executor.submit(_timed_fit, request)

    def finished(self) -> list[tuple[Any, ForestModel | None, float]]:
        """(key, model, fit seconds) of every fit done since the last call; model None for a
        fit that failed (logged; the subject asks again at its next vector)."""
        out: list[tuple[Any, ForestModel | None, float]] = []
        for key in [k for k, f in self._futures.items() if f.done()]:
            fut = self._futures.pop(key)
            try:
                model, seconds = fut.result()
            except Exception as exc:
                log.warning("isolation forest fit for %s failed: %r", key, exc)
                model, seconds = None, 0.0
            out.append((key, model, seconds))
        return out

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the fits in flight (tests and benchmarks)."""
        for fut in list(self._futures.values()):
            fut.exception(timeout)

    def forget(self, key: Hashable) -> None:
        """Drop ``key``'s fit in flight, if any (its subject is gone)."""
        self._futures.pop(key, None)
