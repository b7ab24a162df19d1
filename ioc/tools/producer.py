"""Publishing readings: a small Kafka producer, a JSON-lines file sink, and the paced loop that
feeds a simulation into either.

:class:`EventProducer` wraps kafka-python's ``KafkaProducer`` for the ``ioc.<group>.events``
topics: key = source id (so kafka-python's murmur2 partitioner keeps a source on one
partition), value = one reading or a pack (:meth:`ioc.tools.simulator.Message.payload`),
``acks="all"``, batching tuned for throughput, flushed on close. A broker that cannot be reached,
or a send that fails, is a one-line :class:`~ioc.errors.BrokerError`.

>>> import tempfile, pathlib
>>> from ioc.tools.simulator import CitySimulator
>>> path = pathlib.Path(tempfile.mkdtemp()) / "out.jsonl"
>>> with JsonLinesSink(path) as sink:
...     stats = publish_simulation(CitySimulator(seed=1, start=1795410000, duration=30), sink,
...                                speed=None)
>>> stats.readings > 900, stats.messages <= stats.readings, stats.reached
(True, True, 1795410030.0)
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Protocol

from ioc.errors import BrokerError, UsageError
from ioc.events import Reading
from ioc.settings import Settings
from ioc.tools.simulator import CitySimulator, Message, Pacer, format_ts, prefixed, to_messages

CONNECT_TIMEOUT_S = 10.0


class Sink(Protocol):
    """Where messages go: Kafka (:class:`EventProducer`) or a file (:class:`JsonLinesSink`)."""

    def send(self, message: Message) -> None:
        """Queue one message."""

    def flush(self) -> None:
        """Deliver everything queued (raise on a failed delivery)."""

    def close(self) -> None:
        """Flush and release resources."""


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


class EventProducer:
    """Publishes readings to ``ioc.<group>.events``, keyed by source id.

    ``linger_ms``/``batch_size`` trade a few milliseconds of latency for throughput;
    ``timeout_s`` bounds how long connecting or waiting for a topic's metadata may take.
    """

    def __init__(self, bootstrap: str, *, client_id: str = "ioc-producer", linger_ms: int = 20,
                 batch_size: int = 256 * 1024, acks: str | int = "all",
                 compression: str | None = None, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        from kafka import KafkaProducer

        self.bootstrap = bootstrap
        self.messages = 0
        self.bytes = 0
        self.failed = 0
        self._error: BaseException | None = None
        ms = max(1000, int(timeout_s * 1000))
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap, client_id=client_id, acks=acks,
                linger_ms=linger_ms, batch_size=batch_size, compression_type=compression,
                bootstrap_timeout_ms=ms, max_block_ms=ms, request_timeout_ms=max(ms, 30000))
        except Exception as exc:
            raise BrokerError(f"cannot reach Kafka at {bootstrap}: {_reason(exc)}") from None

    def _failed(self, exc: BaseException) -> None:
        self.failed += 1
        if self._error is None:
            self._error = exc

    def _check(self) -> None:
        if self._error is not None:
            raise BrokerError(f"{self.failed} message(s) could not be delivered to "
                              f"{self.bootstrap}: {_reason(self._error)}")

    def send_raw(self, topic: str, key: str, value: bytes) -> None:
        """Queue ``value`` on ``topic`` under ``key``."""
        self._check()
        try:
            future = self._producer.send(topic, key=key.encode(), value=value)
        except Exception as exc:
            raise BrokerError(f"cannot send to {topic} on {self.bootstrap}: {_reason(exc)} "
                              "(do the topics exist? `ioc topics create`)") from None
        future.add_errback(self._failed)
        self.messages += 1
        self.bytes += len(value)

    def send(self, message: Message) -> None:
        """Queue one message (a reading or a pack)."""
        self.send_raw(message.topic, message.key, message.payload())

    def send_readings(self, readings: Sequence[Reading], *, pack: bool = False) -> int:
        """Queue readings: one message each, or (``pack=True``) one pack per source.
        Return the number of messages."""
        msgs = to_messages(readings, pack=pack)
        for m in msgs:
            self.send(m)
        return len(msgs)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued message is delivered; BrokerError if any failed."""
        try:
            self._producer.flush(timeout=timeout)
        except Exception as exc:
            raise BrokerError(f"cannot deliver to {self.bootstrap}: {_reason(exc)}") from None
        self._check()

    def close(self) -> None:
        """Flush and close (idempotent)."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            producer.flush()
        finally:
            with contextlib.suppress(Exception):
                producer.close(timeout=5)
        self._check()

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:  # do not hide the original error behind a flush failure
            with contextlib.suppress(Exception):
                self.close()


class JsonLinesSink:
    """Writes each message's value as one line (a reading or a pack): a recording that
    ``ioc replay`` can play back."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.messages = 0
        self.bytes = 0
        try:
            self._file: IO[bytes] | None = self.path.open("wb")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None

    def send(self, message: Message) -> None:
        """Write one message as one line."""
        assert self._file is not None, "sink is closed"
        data = message.payload()
        self._file.write(data + b"\n")
        self.messages += 1
        self.bytes += len(data)

    def flush(self) -> None:
        """Flush the file."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> JsonLinesSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class RunStats:
    """What a publishing run did."""

    readings: int = 0
    messages: int = 0
    packs: int = 0
    reached: float = 0.0       # epoch seconds the simulation reached (end of the last second)
    wall_s: float = 0.0
    interrupted: bool = False

    @property
    def rate(self) -> float:
        """Readings per wall second."""
        return self.readings / self.wall_s if self.wall_s > 0 else 0.0


class Progress:
    """A rich progress bar on a terminal; nothing at all when ``enabled`` is false."""

    def __init__(self, enabled: bool, description: str, total: float | None,
                 unit: str = "sim s") -> None:
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn(unit), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=False)
        self._task = self._bar.add_task(description, total=total, info="")

    def update(self, completed: float, info: str, *, force: bool = False) -> None:
        """Show progress (at most ten times a second unless ``force``)."""
        if self._bar is None:
            return
        now = time.monotonic()
        if force or now - self._last >= 0.1:
            self._last = now
            self._bar.update(self._task, completed=completed, info=info)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def on_terminal() -> bool:
    """True when stderr is a terminal (progress bars on)."""
    return sys.stderr.isatty()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while the block runs, so a terminated run stops
    like a Ctrl-C one: flushed, with its summary and ground truth written."""

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def publish_simulation(sim: CitySimulator, sink: Sink, *, speed: float | None,
                       progress: bool = False,
                       on_second: Callable[[float], None] | None = None,
                       stats: RunStats | None = None, live_from: float | None = None,
                       ) -> RunStats:
    """Feed ``sim`` into ``sink`` at ``speed`` simulated seconds per wall second (``None``:
    as fast as possible) until it ends or is interrupted (Ctrl-C, SIGTERM); then flush.
    With ``live_from``, simulated seconds before it are sent as fast as possible (a backfill
    of recent history) and pacing starts there. Progress goes into ``stats`` as it happens
    (so a caller still knows how far a run that raised got); the same object is returned."""
    if stats is None:
        stats = RunStats()
    stats.reached = sim.start
    origin = sim.start if live_from is None else max(live_from, sim.start)
    pacer = Pacer(speed)
    paced = live_from is None
    began = time.monotonic()
    total = sim.duration
    with Progress(progress, "simulating", total) as bar:
        try:
            for t, msgs in sim.messages():
                if not paced and t >= origin:
                    pacer, paced = Pacer(speed), True
                if paced:
                    pacer.wait(t - origin)
                for m in msgs:
                    sink.send(m)
                    stats.readings += len(m.readings)
                    stats.packs += m.pack
                stats.messages += len(msgs)
                stats.reached = max(stats.reached, t + 1)
                if on_second is not None:
                    on_second(t)
                per_s = stats.readings / max(time.monotonic() - began, 1e-9)
                bar.update(stats.reached - sim.start,
                           f"{stats.readings} readings, {per_s:,.0f}/s, at {format_ts(t)}")
        except KeyboardInterrupt:
            stats.interrupted = True
        stats.wall_s = time.monotonic() - began
        bar.update(stats.reached - sim.start, f"{stats.readings} readings", force=True)
    sink.flush()
    stats.wall_s = time.monotonic() - began
    return stats


def ensure_topics(settings: Settings, bootstrap: str, timeout: float,
                  topic_prefix: str = "ioc") -> None:
    """Create any missing ioc-monitor topic (under ``topic_prefix``) before producing, so
    none is auto-created with the broker's default partition count."""
    from ioc.kafka import admin

    specs = [dataclasses.replace(s, name=prefixed(s.name, topic_prefix))
             for s in admin.topic_specs(settings)]
    admin.ensure_topics(specs, bootstrap, timeout)
