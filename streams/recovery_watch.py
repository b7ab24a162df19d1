"""A worker whose table recovery stops making progress exits, for its supervisor to restart it.

After every rebalance Faust rebuilds the tables from their changelogs before the worker takes
in anything. Rarely the consumer stops fetching the changelogs and the recovery waits forever:
the worker holds its partitions, is never ready, and no other worker may take them (seen once
in CI, on a takeover: two minutes without a single changelog record while Faust warned
"No event received for active tp"). A new process reads the changelogs again from scratch,
and that is what a supervisor does with a worker that exits (``ioc demo`` restarts it; the
compose file's workers have ``restart: unless-stopped``). So when the changelog records left
to read have not gone down for ``IOC_RECOVERY_STALL_S`` seconds, :func:`watch_recovery` logs
what the consumer was doing and ends the process with :data:`EXIT_STALLED`.

>>> w = RecoveryWatch(stall_s=60.0)
>>> w.stalled(now=0.0, remaining=100)    # a recovery starts
False
>>> w.stalled(now=30.0, remaining=40), w.stalled(now=89.0, remaining=40)
(False, False)
>>> w.stalled(now=91.0, remaining=40)    # nothing read for 61 s
True
>>> w.stalled(now=92.0, remaining=None)  # not recovering: the watch starts over
False
>>> w.stalled(now=200.0, remaining=40)
False
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["EXIT_STALLED", "RecoveryWatch", "StallGuard", "consumer_state", "watch_recovery"]

log = logging.getLogger("ioc.worker")

EXIT_STALLED = 75  # EX_TEMPFAIL: try again (a restart)
CHECK_EVERY_S = 5.0


class RecoveryWatch:
    """Says when a recovery's remaining record count has not changed for ``stall_s``."""

    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self.remaining: int | None = None
        self.since = 0.0  # when ``remaining`` last changed

    def stalled(self, *, now: float, remaining: int | None) -> bool:
        """``remaining``: records left to recover (None: not recovering) at ``now``."""
        if remaining is None or remaining != self.remaining:
            self.remaining, self.since = remaining, now
            return False
        return remaining > 0 and now - self.since > self.stall_s


def _remaining(recovery: Any) -> tuple[int | None, dict[Any, int]]:
    """Records left to recover in all and per changelog partition (None: not recovering), of
    a Faust ``Recovery``."""
    if not recovery.in_recovery:
        return None, {}
    left = recovery.active_remaining()
    return sum(left.values()), left


def consumer_state(app: Any) -> str:
    """What the Faust consumer's aiokafka fetcher is doing, for the log of a stall: requests
    in flight, its background tasks, and the partitions without a position (best effort: these
    are aiokafka's internals)."""
    try:
        consumer = app.consumer._thread._ensure_consumer()
        fetcher = consumer._fetcher
        assignment = fetcher._subscriptions.subscription.assignment
        no_position = sorted(f"{tp.topic}[{tp.partition}]" for tp in assignment.tps
                             if not assignment.state_value(tp).has_valid_position)
        tasks = sorted(str(getattr(t.get_coro(), "__qualname__", t)) for t in
                       fetcher._pending_tasks if not t.done())
        return (f"fetch nodes in flight {sorted(fetcher._in_flight)}, pending tasks {tasks}, "
                f"buffered {len(fetcher._records)} partitions, without a position "
                f"{no_position[:20]}")
    except Exception as exc:  # internals moved: say so, never fail the report
        return f"(consumer state unavailable: {exc!r})"


class StallGuard:
    """Checks a Faust ``Recovery`` with a :class:`RecoveryWatch`; on a stall, logs what the
    consumer was doing and calls ``exit(EXIT_STALLED)``."""

    def __init__(self, app: Any, stall_s: float, *, exit: Callable[[int], Any] = os._exit,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.recovery = app.tables.recovery  # created here, in the loop's thread
        self.watch = RecoveryWatch(stall_s)
        self.exit = exit
        self.clock = clock

    def check(self) -> bool:
        """One look; True when it ended the worker."""
        try:
            remaining, left = _remaining(self.recovery)
        except RuntimeError:  # a dict changed under us (the loop's thread): next time
            return False
        if not self.watch.stalled(now=self.clock(), remaining=remaining):
            return False
        log.error("table recovery read nothing for %.0f s with %d changelog records left "
                  "(%s); %s. Exiting (status %d) for the supervisor to restart the worker "
                  "(IOC_RECOVERY_STALL_S)", self.watch.stall_s, remaining,
                  {f"{tp.topic}[{tp.partition}]": n for tp, n in left.items() if n},
                  consumer_state(self.app), EXIT_STALLED)
        for handler in (*logging.getLogger().handlers, *log.handlers):
            handler.flush()  # os._exit flushes nothing
        self.exit(EXIT_STALLED)
        return True


def watch_recovery(app: Any, stall_s: float, *, exit: Callable[[int], Any] = os._exit,
                   every_s: float = CHECK_EVERY_S) -> threading.Event | None:
    """Check ``app``'s recovery every ``every_s`` from a thread of its own (a blocked event
    loop cannot hide a stall). Returns the event that stops the watch; ``stall_s`` 0: none."""
    if stall_s <= 0:
        return None
    guard = StallGuard(app, stall_s, exit=exit)
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every_s) and not guard.check():
            pass

    threading.Thread(target=run, name="ioc-recovery-watch", daemon=True).start()
    return stop
