"""The multivariate fits' executor and queue: fits never hold a stopping worker back, and a
superseded fit still queued is never run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from streams.mvfits import FitQueue, FitThread


def test_a_fit_thread_runs_jobs_in_order_and_reports_failures() -> None:
    ex = FitThread()
    done: list[int] = []
    futures = [ex.submit(done.append, i) for i in range(5)]
    failed = ex.submit(int, "not a number")
    with pytest.raises(ValueError):
        failed.result(10)
    assert [f.result(10) for f in futures] == [None] * 5 and done == [0, 1, 2, 3, 4]
    ex.shutdown()
    assert ex._thread is not None and not ex._thread.is_alive()


def held(ex: FitThread) -> tuple[threading.Event, Future[bool]]:
    """A job that holds ``ex``'s thread until the returned gate is set (once it runs)."""
    started, gate = threading.Event(), threading.Event()

    def hold() -> bool:
        started.set()
        return gate.wait(30)
    fut = ex.submit(hold)
    assert started.wait(30), "the fit thread ran nothing"
    return gate, fut


def test_shutdown_can_cancel_the_jobs_still_queued() -> None:
    ex = FitThread()
    gate, running = held(ex)
    queued = [ex.submit(int, "1") for _ in range(3)]
    ex.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)
    gate.set()
    ex.shutdown()
    assert running.result(10) is True


def test_a_newer_fit_of_a_subject_cancels_its_queued_one() -> None:
    ex = FitThread()
    gate, blocker = held(ex)  # the fits below stay queued
    q = FitQueue(ex)
    request = {"rows": [[0.0, 1.0]] * 8, "features": ("x", "y"), "version": 1,
               "n_estimators": 3, "max_samples": 4, "seed": 0, "threshold": 0.75}
    q.submit("a", request)
    first = q._futures["a"]
    q.submit("a", {**request, "version": 2})
    q.submit("b", request)
    q.forget("b")
    gate.set()
    assert blocker.result(10) is True
    q.wait(30)
    assert first.cancelled()
    assert [(key, model.version if model else None) for key, model, _ in q.finished()] \
        == [("a", 2)]
    ex.shutdown()


def test_a_process_exits_without_waiting_for_a_running_or_queued_fit(tmp_path: Path) -> None:
    marker = tmp_path / "finished"
    script = textwrap.dedent(f"""
        import threading, time
        from streams.mvfits import fit_executor
        ex = fit_executor()
        started = threading.Event()
        def slow_fit():
            started.set()
            time.sleep(60)
            open({str(marker)!r}, "w").close()
        ex.submit(slow_fit)
        ex.submit(slow_fit)
        started.wait(30)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2],
                          timeout=45, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()  # it exited while the first fit slept
