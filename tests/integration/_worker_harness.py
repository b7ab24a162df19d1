"""Helpers for the worker's integration tests: worker subprocesses, a compressed-time city
stream on a test's own topics, and a reader of the alert trail.

Every test uses its own topic prefix (``TopicNames``) and consumer group (``IOC_APP_ID``), so
tests sharing one broker never see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer
from waits import wait_until

from ioc.catalog import group as catalog_group
from ioc.events import Alert, Command, DeadLetter, Incident, decode_alert, decode_deadletter, encode
from ioc.kafka.admin import ensure_topics
from ioc.kafka.broker import free_port
from ioc.settings import Settings
from ioc.tools.producer import EventProducer
from ioc.tools.simulator import CitySimulator
from streams.recovery_watch import EXIT_STALLED
from streams.topics import TopicNames
from streams.worker import health, scrape_metrics

MIDNIGHT = 1_795_366_800.0  # 2026-11-23 00:00 in Da Nang (UTC+7), 2026-11-22 17:00 UTC
PARTITIONS = 4


class Env:
    """One test's topics and consumer group on the session broker."""

    def __init__(self, bootstrap: str, tmp: Path, *, partitions: int = PARTITIONS,
                 lateness: float = 30.0, extra: dict[str, str] | None = None) -> None:
        token = uuid.uuid4().hex[:10]
        self.bootstrap = bootstrap
        self.names = TopicNames(f"t{token}")
        self.app_id = f"itest-{token}"
        self.tmp = tmp
        self.partitions = partitions
        self.env = {"IOC_KAFKA_BOOTSTRAP": bootstrap, "IOC_APP_ID": self.app_id,
                    "IOC_PARTITIONS": str(partitions),
                    # IOC_TEST_WORKER_LOG_LEVEL=INFO keeps the workers' recoveries in their logs
                    "IOC_LOG_LEVEL": os.environ.get("IOC_TEST_WORKER_LOG_LEVEL", "WARNING"),
                    "IOC_ALLOWED_LATENESS_S": str(lateness),
                    # a stalled table recovery ends the worker well within the tests' waits
                    "IOC_RECOVERY_STALL_S": "30", **(extra or {})}
        ensure_topics(self.names.specs(Settings(partitions=partitions)), bootstrap)
        self._producer: EventProducer | None = None

    # --- workers ---------------------------------------------------------------------------
    def worker(self, name: str = "w") -> WorkerProcess:
        return WorkerProcess(self, name)

    # --- producing -------------------------------------------------------------------------
    @property
    def producer(self) -> EventProducer:
        if self._producer is None:
            self._producer = EventProducer(self.bootstrap, linger_ms=20)
        return self._producer

    def send_stream(self, sim: CitySimulator, *, since: float | None = None,
                    until: float | None = None) -> int:
        """Send a simulator's messages (of simulated times in [since, until)); returns
        readings."""
        n = 0
        for t, messages in sim.messages():
            if until is not None and t >= until:
                break
            if since is not None and t < since:
                continue
            for m in messages:
                group = m.readings[0].group
                self.producer.send_raw(self.names.events(group), m.key, m.payload())
                n += len(m.readings)
        self.producer.flush(60)
        return n

    def send_raw(self, group: str, key: str, value: bytes) -> None:
        self.producer.send_raw(self.names.events(group), key, value)

    def command(self, cmd: Command, key: str) -> None:
        """Send an operator command keyed by the source it is about."""
        self.producer.send_raw(self.names.commands, key, encode(cmd))
        self.producer.flush(30)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()


class WorkerProcess:
    """``ioc worker`` as a subprocess of the test, supervised as ``ioc demo`` and the compose
    file do: a worker that exits because its table recovery stalled (status 75,
    ``streams.recovery_watch``) is started again; ``restarts`` counts those."""

    def __init__(self, env: Env, name: str) -> None:
        self.env = env
        self.name = name
        self.port = free_port()
        self.log_path = env.tmp / f"worker-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0
        self.restarts = 0

    def start(self) -> WorkerProcess:
        env = {**os.environ, **self.env.env, "IOC_WORKER_PORT": str(self.port),
               "IOC_DATA_DIR": str(self.env.tmp / f"data-{self.name}")}
        log = self.log_path.open("ab")
        proc = self.proc = subprocess.Popen(
            [sys.executable, "-m", "ioc", "worker", "--topic-prefix", self.env.names.prefix],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.started += 1
        threading.Thread(target=self._supervise, args=(proc,), daemon=True).start()
        return self

    def _supervise(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.wait() == EXIT_STALLED and self.proc is proc:
            self.restarts += 1
            self.start()

    def health(self) -> dict[str, Any] | None:
        return health(self.port)

    def wait_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            assert self.proc is not None
            if self.proc.poll() not in (None, EXIT_STALLED):  # 75: being started again
                raise AssertionError(f"worker {self.name} exited ({self.proc.returncode}): "
                                     f"{self.tail()}")
            h = self.health()
            return h if h and h.get("ready") else None
        try:
            return wait_until(ready, timeout, f"worker {self.name} to be ready")  # type: ignore
        except AssertionError as exc:  # say why: its health and the end of its log
            raise AssertionError(f"{exc}; health {self.health()}; log: {self.tail()}") from None

    def metrics(self) -> dict[str, float]:
        """Every ``ioc_worker_*`` sample summed over its labels."""
        return scrape_metrics(self.port)

    def clock(self) -> float:
        h = self.health()
        return float(h["clock"]) if h else 0.0

    def wait_clock(self, t: float, timeout: float = 180.0) -> None:
        """Wait until the worker's stream clock reaches ``t`` (its windows up to there closed
        once the clock passes their end plus the lateness)."""
        wait_until(lambda: self.clock() >= t, timeout, f"worker {self.name} clock >= {t}")

    def wait_readings(self, n: int, timeout: float = 300.0) -> dict[str, float]:
        """Wait until the worker has taken in ``n`` readings (accepted or dropped as late)."""
        def done() -> dict[str, float] | None:
            m = self.metrics()
            got = m.get("ioc_worker_readings_total", 0) + m.get(
                "ioc_worker_dropped_readings_total", 0)
            return m if got >= n else None
        return wait_until(done, timeout, f"worker {self.name} to take in {n} readings")  # type: ignore

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 15) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.contextmanager
def running(*workers: WorkerProcess) -> Iterator[tuple[WorkerProcess, ...]]:
    try:
        for w in workers:
            w.start()
        yield workers
    finally:
        for w in workers:
            with contextlib.suppress(Exception):
                w.stop(30)


class Trail:
    """Everything published on a test's ``ioc.alerts`` (or ``ioc.deadletter``), read from
    the beginning; alerts are applied by (alert_id, version) like a dashboard does."""

    def __init__(self, env: Env, topic: str | None = None) -> None:
        self.topic = topic or env.names.alerts
        self.consumer = KafkaConsumer(self.topic, bootstrap_servers=env.bootstrap,
                                      group_id=None, auto_offset_reset="earliest",
                                      consumer_timeout_ms=500, enable_auto_commit=False)
        self.records: list[tuple[bytes | None, bytes]] = []

    def poll(self) -> None:
        for msg in self.consumer:
            self.records.append((msg.key, msg.value))

    def alerts(self) -> list[Alert]:
        self.poll()
        out = []
        for _, raw in self.records:
            rec = decode_alert(raw)
            if isinstance(rec, Alert):
                out.append(rec)
        return out

    def incidents(self) -> list[Incident]:
        self.poll()
        return [r for r in (decode_alert(v) for _, v in self.records) if isinstance(r, Incident)]

    def dead_letters(self) -> list[DeadLetter]:
        self.poll()
        return [decode_deadletter(v) for _, v in self.records]

    def latest(self) -> dict[str, Alert]:
        """Alert id -> the highest version seen (duplicates and old versions ignored)."""
        held: dict[str, Alert] = {}
        for a in self.alerts():
            cur = held.get(a.alert_id)
            if cur is None or a.version > cur.version:
                held[a.alert_id] = a
        return held

    def settle(self, quiet: float = 3.0, timeout: float = 60.0) -> None:
        """Read until nothing new arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            self.poll()
            if len(self.records) != last:
                last, since = len(self.records), time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
        raise AssertionError(f"{self.topic} kept growing for {timeout:g} s")

    def wait(self, check: Callable[[Trail], Any], timeout: float, what: str) -> Any:
        return wait_until(lambda: check(self), timeout, what, poll=0.5)

    def close(self) -> None:
        self.consumer.close()


def opened(alerts: Iterable[Alert]) -> list[Alert]:
    """The records that opened (or reopened) an alert, one per (alert_id, version)."""
    seen: dict[tuple[str, int], Alert] = {}
    for a in alerts:
        if a.change in ("opened", "reopened"):
            seen.setdefault((a.alert_id, a.version), a)
    return list(seen.values())


def consistent_versions(alerts: Iterable[Alert]) -> bool:
    """True when every (alert_id, version) seen more than once has identical content."""
    seen: dict[tuple[str, int], bytes] = {}
    for a in alerts:
        raw = encode(a)
        if seen.setdefault((a.alert_id, a.version), raw) != raw:
            return False
    return True


def window_s(group: str) -> float:
    return float(catalog_group(group).window_s)
