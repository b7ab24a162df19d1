"""The recovery watch ends a worker whose table recovery reads nothing, and only that one."""

from __future__ import annotations

from collections import Counter, namedtuple
from types import SimpleNamespace
from typing import Any

import pytest
from waits import wait_until

from streams.recovery_watch import EXIT_STALLED, StallGuard, consumer_state, watch_recovery

TP = namedtuple("TP", "topic partition")("ioc-series-changelog", 2)


class FakeRecovery:
    """Faust's ``Recovery`` as the watch reads it: ``in_recovery`` and ``active_remaining``."""

    def __init__(self, left: int = 0) -> None:
        self.in_recovery = left > 0
        self.left = left

    def active_remaining(self) -> Counter[Any]:
        return Counter({TP: self.left})


def app_with(recovery: FakeRecovery) -> Any:
    return SimpleNamespace(tables=SimpleNamespace(recovery=recovery))


def test_a_recovery_that_reads_nothing_ends_the_worker_with_status_75(
        caplog: pytest.LogCaptureFixture) -> None:
    exits: list[int] = []
    stop = watch_recovery(app_with(FakeRecovery(left=120)), 0.2, exit=exits.append,
                          every_s=0.02)
    assert stop is not None
    try:
        wait_until(lambda: exits, 10, "the watch to end the worker")
    finally:
        stop.set()
    assert exits == [EXIT_STALLED]
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    message = record.getMessage()
    assert "120 changelog records left" in message and "ioc-series-changelog[2]" in message
    assert "IOC_RECOVERY_STALL_S" in message and "consumer state unavailable" in message


def test_a_recovery_that_reads_on_or_none_at_all_is_left_alone() -> None:
    recovery, exits, now = FakeRecovery(left=10_000), [], [0.0]
    guard = StallGuard(app_with(recovery), 60.0, exit=exits.append, clock=lambda: now[0])
    for _ in range(50):  # 50 looks 5 s apart, each after reading some records: 250 s
        recovery.left -= 100
        now[0] += 5.0
        assert not guard.check()
    recovery.in_recovery = False  # ready; then idle for long
    for _ in range(50):
        now[0] += 5.0
        assert not guard.check()
    recovery.in_recovery = True  # the next rebalance's recovery, stuck from its start:
    for _ in range(13):  # seen starting, then 60 s without a record read
        now[0] += 5.0
        assert not guard.check()
    now[0] += 5.0
    assert guard.check() and exits == [EXIT_STALLED]


def test_no_watch_when_stall_s_is_zero() -> None:
    assert watch_recovery(app_with(FakeRecovery()), 0.0, exit=lambda code: None) is None


def test_the_consumer_state_never_fails_the_report() -> None:
    assert consumer_state(SimpleNamespace()).startswith("(consumer state unavailable")
