"""Run ``ioc`` subcommands as child processes and stop them all together.

``ioc demo`` uses it to run a worker, the dashboard and the simulator side by side: each child
gets its own log file and process group; :meth:`Supervisor.stop_all` sends SIGTERM to every
child (newest first), waits, and kills whatever is left, so the whole demo stops within a
bounded time.

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
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ioc.errors import IocError


def ioc_argv(*args: str) -> list[str]:
    """The command line that runs ``ioc <args>`` with this interpreter."""
    return [sys.executable, "-m", "ioc", *args]


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes]
    log: IO[bytes] = field(repr=False)

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc.poll() is None

    def last_lines(self, n: int = 5) -> str:
        """The last ``n`` non-empty lines of the child's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return "\n".join(lines[-n:])


class Supervisor:
    """Starts children, notices when one dies, and stops them all."""

    def __init__(self, log_dir: str | os.PathLike[str] | None) -> None:
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="ioc-demo-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []

    def start(self, name: str, argv: Sequence[str],
              env: Mapping[str, str] | None = None) -> Child:
        """Start ``argv`` as child ``name``; its output goes to ``<log_dir>/<name>.log``."""
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=full_env,
                                    start_new_session=True)
        except OSError as exc:
            log.close()
            raise IocError(f"cannot start {name}: {exc.strerror or exc}") from None
        child = Child(name, list(argv), log_path, proc, log)
        self.children.append(child)
        return child

    def dead(self) -> Child | None:
        """The first child that has exited, if any."""
        return next((c for c in self.children if not c.running), None)

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
