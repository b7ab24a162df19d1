"""Crash and scale-out on a real broker.

* ``kill -9`` a worker mid-stream (it has read the first 30 minutes and written state, its last
  windows are open; the rest of the stream arrives while it is down) and start it again:
  every injected anomaly still alerts
  exactly once by alert_id (records may repeat, with identical content, never fork), and the
  detector state comes back from the changelog (the new process tracks its series before it
  reads a single new reading, and raises no burst of false alerts while re-learning). The kill
  waits until the worker has no unsaved series state (``ioc_worker_unsaved_series``): killed
  while a partition's first closes were still unwritten, that partition's series would come
  back from the input instead, and the restored count would depend on timing.
* Two workers share the partitions; stop one, and the other takes them over with no alert
  lost.

Stream: flooding, traffic and environment, 50 simulated minutes from local midnight, three
anomalies before and three after the moment a worker goes away.
"""

from __future__ import annotations

import pytest
from _worker_harness import (
    MIDNIGHT,
    Env,
    Trail,
    WorkerProcess,
    consistent_versions,
    opened,
    running,
    wait_until,
    window_s,
)

from ioc.tools.anomalies import Anomaly, AnomalyPlan, place
from ioc.tools.simulator import CitySimulator

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

GROUPS = ["flooding", "traffic", "environment"]
END = MIDNIGHT + 50 * 60
EARLY = MIDNIGHT + 22 * 60
LATE = MIDNIGHT + 36 * 60
KILL_AT = MIDNIGHT + 30 * 60
PLAN = AnomalyPlan([
    place("flooding", "flood-HC-01", "flood_depth", "spike", EARLY),
    place("traffic", "trf-TK-02", "speed", "level_shift", EARLY),
    place("environment", "air-LC-01", "pm10", "stuck", EARLY),
    place("flooding", "flood-ST-01", "flood_depth", "spike", LATE),
    place("flooding", "flood-TK-01", "", "silence", LATE),
    place("traffic", "trf-HC-03", "speed", "level_shift", LATE),
])
FALSE_PER_SERIES_HOUR = 0.15


def stream() -> CitySimulator:
    return CitySimulator(seed=13, start=MIDNIGHT, duration=END - MIDNIGHT, anomalies=PLAN,
                         groups=GROUPS, pack_size=10)


def alerted_once(trail: Trail, a: Anomaly) -> list[str]:
    w = window_s(a.group)
    return sorted({x.alert_id for x in opened(trail.alerts())
                   if x.source == a.source and x.metric == a.metric
                   and a.start - w <= x.first_seen <= a.end + 2 * w})


def wait_all_alerted(env: Env, trail: Trail, *workers: WorkerProcess) -> None:
    """Wait until every injected anomaly has opened an alert, then until the trail is quiet.

    The worker's clock is the median of its partitions' clocks: one partition (a taken-over
    or restored one catching up) may still be closing windows when it reaches the end, so the
    test waits on the alerts themselves, then checks that each opened exactly once."""
    try:
        trail.wait(lambda t: all(alerted_once(t, a) for a in PLAN), 120,
                   "every injected anomaly to open an alert")
    except AssertionError as exc:  # say which, and what the workers refused or dropped
        missing = [(a.kind, a.source) for a in PLAN if not alerted_once(trail, a)]
        dead = Trail(env, env.names.deadletter)
        reasons: set[str] = set()
        for _ in range(6):  # a fresh consumer's first polls may come back empty
            reasons |= {d.reason.split(":")[0] for d in dead.dead_letters()}
        dead.close()
        counts = {w.name: {k: v for k, v in (w.metrics() or {}).items()
                           if k in ("ioc_worker_dropped_readings_total",
                                    "ioc_worker_deadletter_total", "ioc_worker_tracked_series")}
                  for w in workers if w.proc is not None and w.proc.poll() is None}
        seen = sorted({(x.alert_id, x.change, x.first_seen - MIDNIGHT, x.last_seen - MIDNIGHT)
                       for x in trail.alerts() if x.source in {src for _, src in missing}})
        raise AssertionError(f"{exc}: no alert for {missing}; dead letters: {sorted(reasons)}; "
                             f"workers: {counts}; their alerts: {seen}; logs in {env.tmp}"
                             ) from None
    trail.settle()


def check_no_loss_no_fork(trail: Trail) -> None:
    for a in PLAN:
        ids = alerted_once(trail, a)
        assert len(ids) == 1, (a.kind, a.source, ids)
    alerts = trail.alerts()
    assert consistent_versions(alerts), "two different records with one (alert_id, version)"
    versions: dict[str, set[int]] = {}
    for x in alerts:
        versions.setdefault(x.alert_id, set()).add(x.version)
    for aid, vs in versions.items():
        assert vs == set(range(1, max(vs) + 1)), (aid, sorted(vs))


EMBEDDED_RECOVERY = (
    "the embedded broker (tansu) answers ListOffsets(latest) with the base offset of a "
    "partition's last record batch + 1, not its last offset + 1, so Faust's table recovery, "
    "which reads a changelog up to that end offset, stops early and restores only part of the "
    "state (seen: 10-150 of ~165 series); Apache Kafka restores all of it")


def test_kill_9_and_restart_loses_and_forks_nothing(
        kafka_bootstrap: str, broker_kind: str, request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    if broker_kind == "embedded":
        request.applymarker(pytest.mark.xfail(reason=EMBEDDED_RECOVERY, strict=False))
    # checkpoints every 0.2 s: a worker reads this stream in a second or two
    env = Env(kafka_bootstrap, tmp_path_factory.mktemp("crash"),
              extra={"IOC_CHECKPOINT_INTERVAL_S": "0.2"})
    trail = Trail(env)
    try:
        # the first 30 minutes (the early anomalies), then the kill, then the rest
        first = env.send_stream(stream(), until=KILL_AT)
        w = env.worker("a")
        with running(w):
            w.wait_ready()
            # kill it once it has read them and written the state of every window closed,
            # while the last windows are still open (their messages unacknowledged)
            def saved() -> dict[str, float] | None:
                x = w.metrics()
                return x if (x.get("ioc_worker_readings_total", 0) >= first
                             and x.get("ioc_worker_state_writes_total", 0) > 0
                             and x.get("ioc_worker_unsaved_series") == 0) else None
            at_kill = wait_until(saved, 300, "the worker to read the first part and save state")
            killed_at = w.clock()
            w.kill()
            env.send_stream(stream(), since=KILL_AT)
            w.start()
            health = w.wait_ready()
            # state came back from the changelog: series are tracked before any replay
            assert health["series"] > 0, health
            restored = health["series"]
            wait_until(lambda: w.clock() >= END - 60, 300, "the restarted worker to finish")
            wait_all_alerted(env, trail, w)
            metrics = w.metrics()
        check_no_loss_no_fork(trail)
        assert restored >= 0.9 * metrics["ioc_worker_tracked_series"], (
            restored, metrics["ioc_worker_tracked_series"], at_kill)
        # no re-warm-up burst: false openings after the restart stay at the normal rate
        touched = {a.source for a in PLAN}
        false = [x for x in opened(trail.alerts())
                 if x.source not in touched and x.first_seen >= killed_at - 120]
        hours = (END - killed_at + 120) / 3600
        bound = FALSE_PER_SERIES_HOUR * metrics["ioc_worker_tracked_series"] * hours
        assert len(false) <= max(bound, 3), sorted((x.alert_id, x.first_seen - MIDNIGHT)
                                                   for x in false)
    finally:
        trail.close()
        env.close()


def test_two_workers_share_partitions_and_one_takes_over(
        kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    env = Env(kafka_bootstrap, tmp_path_factory.mktemp("scaleout"))
    trail = Trail(env)
    sim = list(stream().messages())
    half = MIDNIGHT + 29 * 60

    def send(lo: float, hi: float) -> int:
        n = 0
        for t, msgs in sim:
            if lo <= t < hi:
                for msg in msgs:
                    env.send_raw(msg.readings[0].group, msg.key, msg.payload())
                    n += len(msg.readings)
        env.producer.flush(60)
        return n

    try:
        a, b = env.worker("a"), env.worker("b")
        with running(a, b):
            a.wait_ready()
            b.wait_ready()

            def split() -> tuple[list[int], list[int]] | None:
                ha, hb = a.health(), b.health()
                if not (ha and hb and ha["ready"] and hb["ready"]):
                    return None
                pa, pb = ha["partitions"], hb["partitions"]
                if pa and pb and sorted(pa + pb) == list(range(env.partitions)):
                    return pa, pb
                return None

            pa, pb = wait_until(split, 120, "both workers to own partitions")
            assert not set(pa) & set(pb)
            n1 = send(MIDNIGHT, half)
            wait_until(lambda: sum(w.metrics().get("ioc_worker_readings_total", 0)
                                   for w in (a, b)) >= n1, 300, "the first half to be read")
            b.stop()
            wait_until(lambda: (h := a.health()) and h["ready"]
                       and h["partitions"] == list(range(env.partitions)), 120,
                       "worker a to own every partition")
            send(half, END + 1)
            wait_until(lambda: a.clock() >= END - 60, 300, "worker a to read to the end")
            wait_all_alerted(env, trail, a, b)
        check_no_loss_no_fork(trail)
    finally:
        trail.close()
        env.close()
