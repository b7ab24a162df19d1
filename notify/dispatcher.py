"""The dispatcher: claims due outbox rows and sends them on a pool of threads, so one slow or
failing receiver never holds up the others (at most ``PER_ADDRESS`` tasks in flight per
address, each sending up to ``BATCH`` rows one after the other on its kept-alive connection,
and at most ``2 * workers`` rows in flight in all; a claimed row that cannot start within a
second goes back to the outbox), within per-receiver rate limits. A task stops at its first
temporary failure or after ``hold / 3`` seconds: its other rows go back to the outbox
untried. Outcomes are recorded in batches (every ``RECORD_EVERY_S`` or ``RECORD_BATCH``).

>>> b = Buckets({"sms": (2, 60.0)})
>>> [b.take("lan", "sms", now=0.0) for _ in range(3)]
[0.0, 0.0, 30.0]
>>> b.take("lan", "sms", now=30.0), b.take("lan", "email", now=0.0)
(0.0, 0.0)
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from archive.store import Store, Unavailable
from notify.config import Config
from notify.metrics import NotifyMetrics
from notify.outbox import Outcome, Row, claim, finish, queue_stats

__all__ = ["Buckets", "Dispatcher"]

log = logging.getLogger("ioc.notify")
PER_ADDRESS = 4
BATCH = 4              # rows one task sends in turn (one future, one wake-up for them all)
WAIT_S = 1.0           # a claimed row waits this long for a free slot of its address
RECORD_EVERY_S = 0.01
RECORD_BATCH = 64
Done = tuple[Row, Outcome, float]  # a row, how its send went, and a delay to put it back


class Buckets:
    """Token buckets per (receiver, channel): ``limits[channel] = (n, per_seconds)``."""

    def __init__(self, limits: dict[str, tuple[int, float]]) -> None:
        self.limits = limits
        self.state: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, receiver: str, channel: str, now: float) -> float:
        """0 when a send may go now (a token taken), else the seconds until one may."""
        if channel not in self.limits:
            return 0.0
        n, per = self.limits[channel]
        rate = n / per
        tokens, at = self.state.get((receiver, channel), (float(n), now))
        tokens = min(float(n), tokens + max(0.0, now - at) * rate)
        if tokens >= 1.0:
            self.state[(receiver, channel)] = (tokens - 1.0, now)
            return 0.0
        self.state[(receiver, channel)] = (tokens, now)
        return (1.0 - tokens) / rate


def claim_hold(config: Config) -> float:
    """How long a claim keeps a row from other notifiers: three times the slowest send
    timeout of the channels in use (a task starts sends for ``hold / 3`` seconds, each of
    which ends within its timeout). A crashed notifier's claimed rows are sent again by
    another after this long.

    >>> from notify.config import Config, SmsGateway
    >>> claim_hold(Config(path="", routes=(), receivers={}))
    30.0
    >>> claim_hold(Config(path="", routes=(), receivers={}, webhook_timeout=2.0,
    ...                   sms=SmsGateway(url="http://gw", timeout=25.0)))
    75.0
    """
    timeouts = [config.smtp.timeout, config.webhook_timeout]
    if config.sms.url:
        timeouts.append(config.sms.timeout)
    return 3 * max(timeouts)


class Dispatcher:
    """Sends the outbox of ``store`` with ``send`` until ``stop`` is set."""

    def __init__(self, store: Store, config: Config, send: Callable[[Row], Outcome], *,
                 metrics: NotifyMetrics, lock: threading.Lock, wake: threading.Event,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.config, self.send = store, config, send
        self.metrics, self.lock, self.wake, self.clock = metrics, lock, wake, clock
        self.buckets = Buckets(config.limits)
        self.capacity = config.workers * 8
        self.hold = claim_hold(config)
        self.rng = random.Random()

    def run(self, stop: threading.Event) -> None:
        pool = ThreadPoolExecutor(self.config.workers, thread_name_prefix="notify-send")
        self.flying: dict[Future[list[Done]], list[Row]] = {}
        self.in_flight = 0  # rows
        self.waiting: deque[tuple[float, Row]] = deque()
        self.by_address: Tally[tuple[str, str]] = Tally()
        done: list[Done] = []
        first_done = 0.0
        last_stats = 0.0
        try:
            while not stop.is_set():
                now = self.clock()
                try:
                    self._start(pool, now)
                    if done and (len(done) >= RECORD_BATCH or not self.flying
                                 or time.monotonic() - first_done >= RECORD_EVERY_S):
                        self._finish(done)
                        done = []
                    if now - last_stats >= 1.0:
                        last_stats = now
                        depth, age = queue_stats(self.store, now)
                        self.metrics.queue_depth.set(depth)
                        self.metrics.queue_age.set(age)
                except Unavailable as exc:
                    self.metrics.db_errors.inc()
                    log.warning("notify: database unavailable (%s)", exc)
                    stop.wait(1.0)
                    continue
                if not self.flying and not self.waiting:
                    self.wake.wait(0.25)
                    self.wake.clear()
                    continue
                got, _ = wait(list(self.flying), timeout=0.05, return_when=FIRST_COMPLETED)
                if got and not done:
                    first_done = time.monotonic()
                for f in got:
                    rows = self.flying.pop(f)
                    self.by_address[(rows[0].channel, rows[0].address)] -= 1
                    self.in_flight -= len(rows)
                    done += f.result()
        finally:
            for f in list(self.flying):  # let sends in flight end, and record them
                rows = self.flying.pop(f)
                try:
                    done += f.result(timeout=self.hold)
                except Exception as exc:
                    done += [(row, Outcome("temporary", repr(exc)), 0.0) for row in rows]
            done += [(row, Outcome("ok"), 0.01) for _, row in self.waiting]
            if done:
                self._finish(done)
            pool.shutdown(wait=False, cancel_futures=True)

    def _start(self, pool: ThreadPoolExecutor, now: float) -> None:
        """Start the waiting rows whose address has a free slot, then claim more."""
        later: list[Done] = []
        kept: deque[tuple[float, Row]] = deque()
        free = self.capacity - self.in_flight - len(self.waiting)
        if free > 0 and len(self.waiting) < self.config.workers:
            with self.lock:
                claimed = claim(self.store, now, limit=free, hold=self.hold)
            self.waiting.extend((now, row) for row in claimed)
        batches: dict[tuple[str, str], list[Row]] = {}
        while self.waiting:
            since, row = self.waiting.popleft()
            where = (row.channel, row.address)
            batch = batches.get(where)
            if batch is not None and len(batch) >= BATCH:
                self._launch(pool, batches.pop(where))
                batch = None
            if self.in_flight >= self.config.workers * 2 or (
                    batch is None and self.by_address[where] >= PER_ADDRESS):
                if now - since > WAIT_S:
                    later.append((row, Outcome("ok"), 0.01))  # back to the outbox
                else:
                    kept.append((since, row))
                continue
            wait_s = self.buckets.take(row.receiver, row.channel, now)
            if wait_s > 0:
                self.metrics.rate_limited.labels(row.channel).inc()
                later.append((row, Outcome("ok"), wait_s))
                continue
            if batch is None:
                batch = batches[where] = []
                self.by_address[where] += 1
            batch.append(row)
            self.in_flight += 1
        for batch in batches.values():
            self._launch(pool, batch)
        self.waiting = kept
        if later:
            self._record(later)

    def _launch(self, pool: ThreadPoolExecutor, rows: list[Row]) -> None:
        self.flying[pool.submit(self._send_all, rows)] = rows

    def _send_all(self, rows: list[Row]) -> list[Done]:
        """Send ``rows`` (of one address) in turn; after a temporary failure, or past
        ``hold / 3`` seconds, the rest go back to the outbox untried."""
        out: list[Done] = []
        until = time.monotonic() + self.hold / 3
        for n, row in enumerate(rows):
            outcome = self._send(row)
            out.append((row, outcome, 0.0))
            if n + 1 < len(rows) and (outcome.result == "temporary"
                                      or time.monotonic() > until):
                out += [(rest, Outcome("ok"), 0.01) for rest in rows[n + 1:]]
                break
        return out

    def _send(self, row: Row) -> Outcome:
        try:
            return self.send(row)
        except Exception as exc:  # a bug in a channel must not stop the dispatcher
            log.exception("notify: sending %s to %s failed", row.channel, row.receiver)
            return Outcome("temporary", f"{type(exc).__name__}: {exc}")

    def _finish(self, done: list[Done]) -> None:
        self._record(done)

    def _record(self, done: list[Done]) -> None:
        now = self.clock()
        jitter = [self.rng.random() for _ in done]
        while True:
            try:
                with self.lock:
                    got = finish(self.store, done, now=now,
                                 max_attempts=self.config.max_attempts,
                                 give_up_after=self.config.give_up_after,
                                 base=self.config.retry_base, cap=self.config.retry_max,
                                 jitter=jitter)
                break
            except Unavailable as exc:  # the sends happened: keep trying to record them
                self.metrics.db_errors.inc()
                log.warning("notify: cannot record outcomes (%s); retrying", exc)
                time.sleep(1.0)
        m = self.metrics
        sent = Tally(row.channel for row, _ in got["sent"])
        for channel, n in sent.items():
            m.sent.labels(channel).inc(n)
            latency = m.latency.labels(channel)
            for row, _ in got["sent"]:
                if row.channel == channel:
                    latency.observe(max(0.0, now - row.record_ts))
        for row, reason in got["retried"]:
            m.retried.labels(row.channel).inc()
            log.info("notify: %s to %s failed (%s); will retry", row.channel, row.receiver,
                     reason)
        for row, reason in got["failed"]:
            m.failed.labels(row.channel).inc()
            log.warning("notify: %s to %s (%s) failed for good: %s", row.channel,
                        row.receiver, row.address, reason)
