"""Run ``ioc`` subcommands as child processes, restart the ones that crash, stop them together.

``ioc demo`` uses it to run a worker, the dashboard and the simulator side by side: each child
gets its own log file and process group. A child that exits is started again by
:meth:`Supervisor.revive` after a back-off that doubles with each quick failure (1 s, 2 s,
4 s, ... up to ``max_backoff``) and starts again at 1 s once a run lasted ``stable_s``; a
child that keeps failing quickly ``give_up_after`` times in a row is given up (the demo then
stops and says why). :meth:`Supervisor.stop_all` sends SIGTERM to every child (newest first),
waits, and kills whatever is left, so the whole demo stops within a bounded time.

>>> import sys
>>> sup = Supervisor(log_dir=None)
>>> child = sup.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
>>> child.running
True
>>> sup.stop_all(grace=5)
>>> child.running
False
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ioc.errors import IocError


def ioc_argv(*args: str) -> list[str]:
    """The command line that runs ``ioc <args>`` with this interpreter."""
    return [sys.executable, "-m", "ioc", *args]


_RUN_MARK = "--- ioc supervisor: run {n} ---"


@dataclass
class Child:
    """One supervised process, and what it takes to start it again."""

    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes]
    log: IO[bytes] = field(repr=False)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    restart_argv: list[str] | None = None  # the command line of later runs, if different
    started_at: float = field(default_factory=time.monotonic)
    runs: int = 1
    quick_failures: int = 0  # exits in a row, each before the run was stable
    retry_at: float | None = None  # set while it waits to be started again

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc.poll() is None

    def exit_text(self) -> str:
        """How the process ended: ``status 3`` or ``killed by SIGKILL``."""
        code = self.proc.returncode
        if code is None:
            return "running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"status {code}"

    def _run_lines(self) -> list[str]:
        """The non-empty lines the child's current run wrote to its log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        mark = _RUN_MARK.format(n=self.runs)
        if mark in text:
            text = text.rsplit(mark, 1)[1]
        return [ln for ln in text.splitlines() if ln.strip()]

    def last_lines(self, n: int = 5) -> str:
        """The last ``n`` non-empty lines the child's current run wrote to its log."""
        return "\n".join(self._run_lines()[-n:])

    def wait_for_line(self, prefix: str, timeout: float, *,
                      cancel: threading.Event | None = None, poll_s: float = 0.1) -> str | None:
        """The first line of the current run starting with ``prefix``, waiting up to
        ``timeout`` seconds while the child runs; None when it did not come (time-out, the
        child exited without writing it, or ``cancel`` was set)."""
        deadline = time.monotonic() + timeout
        cancel = cancel or threading.Event()
        while True:
            running = self.running  # read before the log: a line written just before exit counts
            found = next((ln for ln in self._run_lines() if ln.startswith(prefix)), None)
            if found is not None or not running or time.monotonic() >= deadline:
                return found
            if cancel.wait(poll_s):
                return None


class Supervisor:
    """Starts children, restarts the ones that exit (with back-off), and stops them all."""

    def __init__(self, log_dir: str | os.PathLike[str] | None, *, first_backoff: float = 1.0,
                 max_backoff: float = 30.0, stable_s: float = 60.0,
                 give_up_after: int = 6) -> None:
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="ioc-demo-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.stable_s = stable_s
        self.give_up_after = give_up_after

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None, *,
              restart_argv: Sequence[str] | None = None) -> Child:
        """Start ``argv`` as child ``name``; its output goes to ``<log_dir>/<name>.log``.
        ``restart_argv`` is the command line of its later runs (default: ``argv``)."""
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("ab")
        log.write(("\n" + _RUN_MARK.format(n=1) + "\n").encode())
        log.flush()
        child = Child(name, list(argv), log_path, self._spawn(name, argv, env or {}, log), log,
                      env=dict(env or {}),
                      restart_argv=None if restart_argv is None else list(restart_argv))
        self.children.append(child)
        return child

    @staticmethod
    def _spawn(name: str, argv: Sequence[str], env: Mapping[str, str],
               log: IO[bytes]) -> subprocess.Popen[bytes]:
        full_env = dict(os.environ)
        full_env.update(env)
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=full_env,
                                    start_new_session=True)
        except OSError as exc:
            log.close()
            raise IocError(f"cannot start {name}: {exc.strerror or exc}") from None

    def dead(self) -> Child | None:
        """The first child that has exited and is not waiting to be started again, if any."""
        return next((c for c in self.children if not c.running and c.retry_at is None), None)

    def revive(self, now: float | None = None) -> list[str]:
        """Schedule a restart of every child that exited, and start those whose back-off is
        over; returns one line per event, for the user. Raise :class:`~ioc.errors.IocError`
        naming the child and its log when one failed quickly ``give_up_after`` times in a
        row."""
        now = time.monotonic() if now is None else now
        said = []
        for c in self.children:
            if c.running:
                continue
            if c.retry_at is None:
                ran = now - c.started_at
                c.quick_failures = c.quick_failures + 1 if ran < self.stable_s else 1
                if c.quick_failures > self.give_up_after:
                    last = c.last_lines()
                    raise IocError(
                        f"{c.name} exited ({c.exit_text()}) {c.quick_failures} times in a row, "
                        f"each within {self.stable_s:g} s; giving up. Its log: {c.log_path}"
                        + (f"\nits last lines:\n{last}" if last else ""))
                wait = min(self.max_backoff, self.first_backoff * 2 ** (c.quick_failures - 1))
                c.retry_at = now + wait
                said.append(f"{c.name} exited ({c.exit_text()}) after {ran:.0f} s; "
                            f"restarting it in {wait:g} s (log: {c.log_path})")
            elif now >= c.retry_at:
                c.runs += 1
                c.log.write(("\n" + _RUN_MARK.format(n=c.runs) + "\n").encode())
                c.log.flush()
                c.proc = self._spawn(c.name, c.restart_argv or c.argv, c.env, c.log)
                c.started_at = now
                c.retry_at = None
                said.append(f"{c.name} restarted (run {c.runs}, pid {c.proc.pid})")
        return said

    def stop_all(self, grace: float = 8.0) -> None:
        """SIGTERM every child (newest first), wait up to ``grace`` seconds, then SIGKILL."""
        for child in reversed(self.children):
            if child.running:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in reversed(self.children):
            remaining = max(deadline - time.monotonic(), 0.05)
            try:
                child.proc.wait(remaining)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait(5)
        for child in self.children:
            child.log.close()
