"""The demo's supervisor: a child that exits is started again with a doubling back-off, a
stable run resets the back-off, a child that keeps failing is given up with its own last
lines, and the restart may use another command line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from ioc.errors import IocError
from ioc.tools.supervisor import Supervisor

FAIL = [sys.executable, "-c", "import sys; print('bad config'); sys.exit(3)"]
SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def _exited(sup: Supervisor, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while all(c.running for c in sup.children):
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.02)


def test_a_crashed_child_is_restarted_after_a_doubling_back_off(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, first_backoff=1.0, max_backoff=4.0, stable_s=60.0,
                     give_up_after=10)
    child = sup.start("w", FAIL)
    try:
        t = child.started_at
        waits = []
        for run in range(1, 5):
            _exited(sup)
            (said,) = sup.revive(now=t + 0.5)
            assert said.startswith("w exited (status 3) after 0 s; restarting it in ")
            assert child.retry_at is not None
            waits.append(child.retry_at - (t + 0.5))
            assert sup.revive(now=child.retry_at - 0.01) == []  # still waiting
            t = child.retry_at
            (again,) = sup.revive(now=t)
            assert again.startswith(f"w restarted (run {run + 1}, pid ")
        assert waits == [1.0, 2.0, 4.0, 4.0]
    finally:
        sup.stop_all(grace=5)


def test_a_stable_run_resets_the_back_off(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, first_backoff=1.0, stable_s=10.0)
    child = sup.start("w", FAIL)
    try:
        _exited(sup)
        sup.revive(now=child.started_at + 1)
        sup.revive(now=child.retry_at)           # run 2, failed quickly once before
        _exited(sup)
        (said,) = sup.revive(now=child.started_at + 30)  # ran 30 s: stable
        assert "restarting it in 1 s" in said and child.quick_failures == 1
    finally:
        sup.stop_all(grace=5)


def test_a_child_that_keeps_failing_is_given_up_with_its_own_lines(tmp_path: Path) -> None:
    (tmp_path / "w.log").write_text("Traceback: an old run's unrelated error\n")
    sup = Supervisor(tmp_path, first_backoff=0.01, give_up_after=2)
    child = sup.start("w", FAIL)
    try:
        for _ in range(2):
            _exited(sup)
            sup.revive(now=child.started_at)
            sup.revive(now=child.retry_at)
        _exited(sup)
        with pytest.raises(IocError) as err:
            sup.revive(now=child.started_at)
        text = str(err.value)
        assert text.startswith("w exited (status 3) 3 times in a row")
        assert "bad config" in text and "unrelated" not in text
        assert str(tmp_path / "w.log") in text
    finally:
        sup.stop_all(grace=5)


def test_a_killed_child_is_named_by_its_signal_and_restarted_with_its_restart_argv(
        tmp_path: Path) -> None:
    marker = tmp_path / "second-run"
    second = [sys.executable, "-c",
              f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(60)"]
    sup = Supervisor(tmp_path, first_backoff=0.0)
    child = sup.start("sim", SLEEP, restart_argv=second)
    try:
        child.proc.kill()
        _exited(sup)
        (said,) = sup.revive()
        assert said.startswith("sim exited (killed by SIGKILL)")
        (again,) = sup.revive()
        assert again.startswith("sim restarted (run 2")
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline, "the restart did not use restart_argv"
            time.sleep(0.02)
        assert child.running
    finally:
        sup.stop_all(grace=5)


def test_wait_for_line_finds_the_current_runs_line_and_gives_up_on_exit_or_time(
        tmp_path: Path) -> None:
    """The line a running child writes is found; an earlier run's line does not count; a
    child that exits without the line, or stays silent past the time-out, gives None."""
    (tmp_path / "w.log").write_text("bridge: an old run's line\n")
    sup = Supervisor(tmp_path)
    ready = sup.start("ready", [sys.executable, "-c", "import time; print('starting'); "
                                "print('bridge: demo mqtt://127.0.0.1:1883'); time.sleep(60)"])
    quitter = sup.start("w", FAIL)
    silent = sup.start("silent", SLEEP)
    try:
        assert ready.wait_for_line("bridge:", 60) == "bridge: demo mqtt://127.0.0.1:1883"
        assert quitter.wait_for_line("bridge:", 60) is None and not quitter.running
        assert silent.wait_for_line("bridge:", 0.2) is None and silent.running
    finally:
        sup.stop_all(grace=5)


def test_wait_for_line_returns_when_cancelled(tmp_path: Path) -> None:
    import threading

    sup = Supervisor(tmp_path)
    silent = sup.start("silent", SLEEP)
    try:
        cancel = threading.Event()
        cancel.set()
        assert silent.wait_for_line("bridge:", 600, cancel=cancel) is None and silent.running
    finally:
        sup.stop_all(grace=5)
