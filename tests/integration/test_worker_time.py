"""Event time on a real broker: one reading dated three years ahead does not blind the city.

One worker takes a live stream (dated at the wall clock) of three groups after 25 minutes of
backfilled history, with a flood-depth alert open. Then the attack of issue 9: one valid
flooding reading dated three years ahead. It must land on ``ioc.deadletter`` with its reason,
move no clock, and every group must go on publishing its window summaries on time, no alert
may escalate, and ``/healthz`` stays ``ok``. Then a reading for a window closed long ago is
dead-lettered as late, and a burst of future-dated readings makes ``/healthz`` say
``degraded`` with the reason.

The live feed is paced by the wall clock (that is what live means); the assertions wait on
conditions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from _worker_harness import Env, Trail, WorkerProcess, running, wait_until

from ioc.events import WindowSummary, decode_indicators, decode_readings, encode
from ioc.tools.anomalies import AnomalyPlan, place
from ioc.tools.simulator import CitySimulator
from streams.windows import window_start

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

GROUPS = ("flooding", "traffic", "environment")
HISTORY_S = 1500.0
LATENESS = 5.0
YEAR = 365 * 86400.0


def attack_reading(ts: float, value: float = 4.0) -> bytes:
    return encode({"group": "flooding", "source": "rain-HC-01", "metric": "rainfall",
                   "value": value, "ts": ts, "district": "Hai Chau"})


@dataclass
class Live:
    env: Env
    worker: WorkerProcess
    dead: Trail
    alerts: Trail
    indicators: Trail
    start: float
    summaries: list[tuple[float, WindowSummary]] = field(default_factory=list)  # (seen, s)

    def poll_summaries(self) -> list[tuple[float, WindowSummary]]:
        before = len(self.indicators.records)
        self.indicators.poll()
        seen = time.time()
        for _key, raw in self.indicators.records[before:]:
            for rec in decode_indicators(raw):
                if isinstance(rec, WindowSummary):
                    self.summaries.append((seen, rec))
        return self.summaries


def _feed(env: Env, sim: CitySimulator, stop: threading.Event) -> None:
    """Send the simulator's stream: history at once, then each second when the wall clock
    reaches it."""
    for t, messages in sim.messages():
        while t > time.time() and not stop.is_set():
            stop.wait(min(0.2, t - time.time()))
        if stop.is_set():
            return
        for m in messages:
            env.send_raw(m.readings[0].group, m.key, m.payload())
        env.producer.flush(30)


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    env = Env(kafka_bootstrap, tmp_path_factory.mktemp("time"), lateness=LATENESS)
    dead, alerts, indicators = (Trail(env, env.names.deadletter), Trail(env),
                                Trail(env, env.names.indicators))
    start = float(int(time.time() - HISTORY_S))
    shift = window_start(time.time() - 420, 60.0)  # a flood alert is open before the attack
    plan = AnomalyPlan([place("flooding", "flood-HC-01", "flood_depth", "level_shift", shift,
                              1800.0)])
    sim = CitySimulator(seed=21, start=start, duration=HISTORY_S + 900, groups=GROUPS,
                        anomalies=plan)
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(env, sim, stop), daemon=True)
    try:
        with running(env.worker()) as (w,):
            w.wait_ready()
            feeder.start()
            yield Live(env, w, dead, alerts, indicators, start)
    finally:
        stop.set()
        feeder.join(30)
        for t in (dead, alerts, indicators):
            t.close()
        env.close()


def test_a_reading_dated_three_years_ahead_blinds_nothing(live: Live) -> None:
    w = live.worker
    # live: the history is in and an alert is firing
    wait_until(lambda: w.clock() >= time.time() - 120, 180, "the worker to reach live time")
    live.alerts.wait(lambda t: any(a.status == "firing" for a in t.latest().values()), 120,
                     "a firing alert before the attack")
    attacked = time.time()
    bad = attack_reading(attacked + 3 * YEAR)
    live.env.send_raw("flooding", "rain-HC-01", bad)
    live.env.producer.flush(30)

    (letter,) = live.dead.wait(lambda t: [x for x in t.dead_letters() if x.raw == bad], 60,
                               "the future reading on ioc.deadletter")
    assert letter.field == "$.ts" and "ahead of the wall clock" in letter.reason
    assert "IOC_MAX_FUTURE_S" in letter.reason
    assert letter.topic == live.env.names.events("flooding")

    # every group goes on: the first window ending 20 s or more after the attack closes with
    # live readings in it, not before its end (a clock moved by the attack would have closed
    # it at once) and within the lateness and a margin of it
    after = window_start(attacked + 20.0, 60.0)

    def closed_after() -> dict[str, tuple[float, WindowSummary]] | None:
        got: dict[str, tuple[float, WindowSummary]] = {}
        for seen, s in live.poll_summaries():
            if s.start >= after and s.count > 0 and s.group not in got:
                got[s.group] = (seen, s)
        return got if set(got) == set(GROUPS) else None

    got = wait_until(closed_after, 240, "window summaries of every group after the attack",
                     poll=0.5)
    for group, (seen, s) in got.items():
        assert 0.0 <= seen - s.end <= LATENESS + 45.0, (group, seen - s.end)

    alerts = live.alerts.alerts()
    assert not [a.alert_id for a in alerts if a.change == "escalated"]
    assert any(a.status == "firing" for a in live.alerts.latest().values())
    health = w.health()
    assert health is not None and health["status"] == "ok", health
    assert health["clock"] <= time.time() + 1
    m = w.metrics()
    assert m.get("ioc_worker_dropped_readings_total", 0) == 0
    assert m.get("ioc_worker_deadletter_total", 0) == 1


def test_a_reading_for_a_closed_window_is_dead_lettered_as_late(live: Live) -> None:
    w = live.worker
    wait_until(lambda: w.clock() >= time.time() - 120, 180, "the worker to reach live time")
    ts = live.start + 120.0  # its window closed during the backfill
    raw = attack_reading(ts, 2.5)
    live.env.send_raw("flooding", "rain-HC-01", raw)
    live.env.producer.flush(30)
    (letter,) = live.dead.wait(
        lambda t: [x for x in t.dead_letters() if x.reason.startswith("late")
                   and decode_readings(x.raw)[0].epoch == ts], 60, "the late dead letter")
    (back,) = decode_readings(letter.raw)
    assert (back.source, back.value, back.epoch) == ("rain-HC-01", 2.5, ts)
    assert letter.field == "$.ts" and "IOC_ALLOWED_LATENESS_S" in letter.reason
    assert letter.topic == live.env.names.events("flooding") and letter.offset >= 0
    m = wait_until(lambda: (m := w.metrics()).get("ioc_worker_dropped_readings_total")
                   and m, 30, "the dropped reading counted")
    assert m["ioc_worker_dropped_readings_total"] == 1


def test_healthz_says_degraded_while_readings_are_refused_for_their_time(live: Live) -> None:
    w = live.worker
    health = w.health()
    assert health is not None and health["status"] == "ok", health
    future = time.time() + 3600
    for i in range(200):
        live.env.send_raw("flooding", "rain-HC-01", attack_reading(future + i))
    live.env.producer.flush(30)
    health = wait_until(lambda: (h := w.health()) and h["status"] == "degraded" and h, 60,
                        "/healthz degraded")
    assert any(r.startswith("refused: ") for r in health["reasons"]), health
    assert health["ready"] is True
