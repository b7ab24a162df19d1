"""What the worker benchmarks share: a broker with one run's topics, one ``ioc worker`` process
on it, and what ``/proc`` says about that process.

``benchmarks/throughput.py`` and ``benchmarks/memory.py`` import it (they run as scripts, so
this folder is on ``sys.path``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

from ioc.kafka.admin import ensure_topics
from ioc.kafka.broker import EmbeddedBroker, free_port
from ioc.settings import Settings
from streams.topics import TopicNames
from streams.worker import scrape_metrics, wait_ready

__all__ = ["BenchWorker", "broker_with_topics"]


def broker_with_topics(stack: ExitStack, bootstrap: str | None, prefix: str,
                       partitions: int) -> tuple[str, TopicNames]:
    """The broker to use (an embedded one, closed with ``stack``, when ``bootstrap`` is empty)
    with every topic of the prefix created; returns its bootstrap and the topic names."""
    if not bootstrap:
        log = Path(tempfile.gettempdir()) / f"ioc-bench-broker-{prefix}.log"
        bootstrap = stack.enter_context(EmbeddedBroker(log_path=log)).bootstrap
    names = TopicNames(prefix)
    ensure_topics(names.specs(Settings(partitions=partitions)), bootstrap)
    return bootstrap, names


def _proc_ticks(stat: Path) -> int:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # user + system


class BenchWorker:
    """An ``ioc worker`` subprocess on the topics of ``prefix``, ready once entered.

    ``launcher`` goes before the interpreter (a profiler such as py-spy), ``python_args``
    between the interpreter and ``-m ioc`` (``-m cProfile -o FILE``); ``stop_signal`` ends
    it (SIGINT lets py-spy write its file).
    """

    def __init__(self, bootstrap: str, prefix: str, workdir: Path, partitions: int, *,
                 app_id: str, env: dict[str, str] | None = None,
                 launcher: tuple[str, ...] = (), python_args: tuple[str, ...] = (),
                 stop_signal: int = signal.SIGTERM) -> None:
        self.port = free_port()
        self.env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": bootstrap, "IOC_APP_ID": app_id,
                    "IOC_WORKER_PORT": str(self.port), "IOC_DATA_DIR": str(workdir / "worker"),
                    "IOC_PARTITIONS": str(partitions), "IOC_LOG_LEVEL": "WARNING", **(env or {})}
        self.cmd = [*launcher, sys.executable, *python_args, "-m", "ioc", "worker",
                    "--topic-prefix", prefix]
        self.log_path = workdir / "worker.log"
        self.stop_signal = stop_signal
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BenchWorker:
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        try:
            wait_ready(self.port, timeout=120)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the worker has not started"
        return self.proc.pid

    def metrics(self) -> dict[str, float]:
        """Every ``ioc_worker_*`` sample, summed over its labels."""
        return scrape_metrics(self.port, timeout=60)

    def samples(self, prefix: str) -> dict[str, float]:
        """The ``ioc_worker_*`` series whose name starts with ``prefix``, each apart, by its
        whole name with labels (``ioc_worker_indicator_parts_total{stage="sent"}``)."""
        return {name: v for name, v in scrape_metrics(self.port, timeout=60,
                                                      labels=True).items()
                if name.startswith(prefix)}

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the process has used so far."""
        return _proc_ticks(Path(f"/proc/{self.pid}/stat")) / os.sysconf("SC_CLK_TCK")

    def thread_cpu_s(self) -> dict[str, float]:
        """CPU seconds of the process's main thread and of its other threads together."""
        out = {"main": 0.0, "others": 0.0}
        tick = os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                ticks = _proc_ticks(task / "stat")
            except OSError:
                continue
            out["main" if task.name == str(self.pid) else "others"] += ticks / tick
        return out
