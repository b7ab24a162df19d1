"""Fits of the live multivariate models, off the worker's thread.

A fit (:func:`detectors.forest_model.fit_model`) is a pure function of a copy of a subject's
reservoir, so it runs in the worker's fit executor (:func:`fit_executor`: one background
thread, a daemon: a worker that stops does not wait for the fits queued or running, whose
models are refitted after a restart). :class:`FitQueue` keeps at most one fit in flight per
subject (a newer request cancels an older one still queued) and hands back the finished ones,
so the caller swaps each model in on its own thread, between two vectors.

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
import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Executor, Future
from typing import Any

from detectors.forest_model import ForestModel, fit_model

__all__ = ["FitQueue", "FitThread", "InlineExecutor", "fit_executor"]

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


class FitThread(Executor):
    """Runs jobs in order on one daemon thread, started by the first job.

    Unlike a ``ThreadPoolExecutor``, whose threads the interpreter joins at exit after they
    ran every job queued, nothing here outlives the process: a stopping worker with a few
    hundred fits queued exits at once (it used to wait for them until it was killed).

    >>> ex = FitThread()
    >>> ex.submit(sum, [1, 2, 3]).result(5)
    6
    >>> ex.shutdown()
    """

    def __init__(self, name: str = "ioc-fit") -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...],
                                            dict[str, Any]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._jobs.put((fut, fn, args, kwargs))
        return fut

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fut, fn, args, kwargs = job
            if not fut.set_running_or_notify_cancel():
                continue  # cancelled while queued
            try:
                fut.set_result(fn(*args, **kwargs))
            except Exception as exc:  # a failed fit is reported through the future
                fut.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the thread after the jobs queued (``cancel_futures``: cancel them)."""
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        self._jobs.put(None)
        if wait and self._thread is not None:
            self._thread.join()


def fit_executor() -> Executor:
    """The worker's fit executor: one background daemon thread (a fit of a few hundred rows
    takes tens of milliseconds, mostly in scikit-learn, and never holds the worker's lock)."""
    return FitThread()


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
        """Fit ``fit_model(**request)`` for ``key`` in the executor (an older fit of ``key``
        still queued is cancelled: its model would be dropped anyway)."""
        old = self._futures.get(key)
        if old is not None:
            old.cancel()
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
        fut = self._futures.pop(key, None)
        if fut is not None:
            fut.cancel()
