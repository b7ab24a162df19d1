"""Live multivariate models on a real broker: an air station's PM2.5, PM10 and AQI each within
their normal range but together abnormal (the simulator's ``mix``) raise an
``isolation_forest`` alert, and the fitted models survive ``kill -9`` and a rebalance: the
restored worker scores with the same model version at once, without fitting again.

Stream: environment only, 76 simulated minutes from local midnight. The forest fits once at
48 windows (``min_samples``) and never again in this test (``refit_every`` is far away), so
a subject that had lost its model could not score before minute 103: every alert in the
second part comes from a model put back from the changelog. Mixes start at minute 62 on four
air stations, one on each partition, so whichever partitions the second worker takes, one of
them is scored there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _worker_harness import MIDNIGHT, Env, Trail, WorkerProcess, opened, running, wait_until
from kafka import KafkaConsumer

from detectors.multivariate import source_layouts
from ioc import catalog
from ioc.events import Alert
from ioc.kafka.admin import TopicSpec, ensure_topics
from ioc.tools.anomalies import AnomalyPlan
from ioc.tools.mix import place_mix
from ioc.tools.simulator import CitySimulator
from streams.publish import default_partition

# a worker reads an hour of a group and fits 21 forests before each test can start: on the
# shared 2-core machine under load that alone can take minutes
pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(1200)]

GROUP = "environment"
END = MIDNIGHT + 76 * 60
SPLIT = MIDNIGHT + 55 * 60
MIX_AT = MIDNIGHT + 62 * 60
# partitions 0, 1, 2, 3 of 4; stations whose mix (PM2.5 up, PM10 and AQI down) the forest
# explains with PM2.5 among its top metrics, so the direction rule wants the alert (with
# seed 21, air-HC-01's is explained by its PM10 and AQI falling alone: cleaner air, no alert)
MIXED = ("air-TK-02", "air-TK-01", "air-HC-02", "air-ST-02")
PLAN = AnomalyPlan([place_mix(GROUP, s, "pm25", MIX_AT) for s in MIXED])
CONFIG = """
[params.isolation_forest]
min_samples = 48
refit_every = 100000
"""
SUBJECTS = sum(1 for s in catalog.group(GROUP).sources() if s.kind in source_layouts(GROUP))


def stream() -> CitySimulator:
    return CitySimulator(seed=21, start=MIDNIGHT, duration=END - MIDNIGHT, anomalies=PLAN,
                         groups=[GROUP], pack_size=10)


def env_for(bootstrap: str, tmp: Path) -> Env:
    cfg = tmp / "detectors.toml"
    cfg.write_text(CONFIG)
    env = Env(bootstrap, tmp, extra={"IOC_CHECKPOINT_INTERVAL_S": "0.2",
                                     "IOC_MULTIVARIATE": "sources",
                                     "IOC_DETECTORS_CONFIG": str(cfg)})
    # the worker's internal indicator-parts topic, made before the worker starts: on a loaded
    # machine Faust created it after the first window's parts were sent, and that worker
    # stalled on its first flush (seen once)
    ensure_topics([TopicSpec(f"{env.app_id}-indicator-parts", env.partitions, 1)], bootstrap)
    return env


def count(w: WorkerProcess, name: str) -> float:
    return w.metrics().get(f"ioc_worker_multivariate_{name}_total", 0.0)


def forest_alerts(trail: Trail) -> dict[str, Alert]:
    """source -> the isolation_forest alert opened during its mix."""
    out: dict[str, Alert] = {}
    for a in opened(trail.alerts()):
        if a.detector == "isolation_forest" and a.metric == "combined" \
                and MIX_AT <= a.first_seen <= MIX_AT + 13 * 60:
            out.setdefault(a.source, a)
    return out


def fitted_and_saved(env: Env, w: WorkerProcess) -> None:
    """Wait until every subject has a model and its model is in the series changelog."""
    try:
        wait_until(lambda: count(w, "fits") >= SUBJECTS, 540, f"{SUBJECTS} models fitted")
    except AssertionError as exc:
        got = {k: v for k, v in w.metrics().items()
               if "multivariate" in k or k in ("ioc_worker_readings_total",
                                               "ioc_worker_windows_closed_total")}
        raise AssertionError(f"{exc}: {got}, health {w.health()}, log: {w.tail(30)}") from None
    changelog = KafkaConsumer(f"{env.app_id}-series-changelog",
                              bootstrap_servers=env.bootstrap, group_id=None,
                              auto_offset_reset="earliest", consumer_timeout_ms=500,
                              enable_auto_commit=False)
    saved: set[bytes] = set()

    def all_saved() -> bool:
        saved.update(m.key for m in changelog if m.key and m.key.endswith(b'.model"'))
        return len(saved) >= SUBJECTS

    try:
        wait_until(all_saved, 60, f"the {SUBJECTS} models in the series changelog")
    finally:
        changelog.close()


def check_mixes(trail: Trail, *workers: WorkerProcess) -> dict[str, Alert]:
    try:
        got = trail.wait(lambda t: (f := forest_alerts(t)) and set(f) >= set(MIXED) and f,
                         240, f"an isolation_forest alert on each of {MIXED}")
    except AssertionError as exc:
        seen = sorted((a.source, a.change, (a.first_seen - MIDNIGHT) / 60)
                      for a in trail.alerts() if a.detector == "isolation_forest")
        state = {w.name: (w.clock() - MIDNIGHT, {k: v for k, v in w.metrics().items()
                                                 if "multivariate" in k}) for w in workers}
        raise AssertionError(f"{exc}: forest alerts {seen}; workers {state}") from None
    for source, a in got.items():
        assert a.evidence.detail["model_version"] == 1, (source, a.evidence.detail)
        top = str(a.evidence.detail["top_metrics"]).split(",")
        assert "pm25" in top and a.evidence.detail["cause"] == "pm25", (source, top)
        # in operators' words, with a sparkline of the metric that made it fire
        assert a.title_parts is not None and a.title_parts["key"].startswith("title.mix_high")
        assert a.title.startswith("Unusual mix at air station") and "PM2.5 high" in a.title
        assert len(a.evidence.recent) > 1 and a.evidence.recent[-1] == a.evidence.value
    false = [a.source for a in opened(trail.alerts())
             if a.detector == "isolation_forest" and a.source not in MIXED]
    assert len(false) <= 1, false
    return got


def test_mix_alerts_and_the_model_survives_kill_9(
        kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    env = env_for(kafka_bootstrap, tmp_path_factory.mktemp("mv-crash"))
    trail = Trail(env)
    try:
        env.send_stream(stream(), until=SPLIT)
        w = env.worker("a")
        with running(w):
            w.wait_ready()
            fitted_and_saved(env, w)
            w.kill()
            w.start()
            w.wait_ready()
            assert count(w, "restored_models") >= SUBJECTS
            env.send_stream(stream(), since=SPLIT)
            check_mixes(trail, w)
            assert count(w, "fits") == 0, "the restarted worker fitted again"
    finally:
        trail.close()
        env.close()


def test_models_follow_their_partitions_to_a_second_worker(
        kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    env = env_for(kafka_bootstrap, tmp_path_factory.mktemp("mv-rebalance"))
    trail = Trail(env)
    try:
        env.send_stream(stream(), until=SPLIT)
        a, b = env.worker("a"), env.worker("b")
        with running(a):
            a.wait_ready()
            fitted_and_saved(env, a)
            with running(b):
                def split() -> list[int] | None:
                    ha, hb = a.health(), b.health()
                    if not (ha and hb and ha["ready"] and hb["ready"]):
                        return None
                    pa, pb = ha["partitions"], hb["partitions"]
                    ok = pa and pb and sorted(pa + pb) == list(range(env.partitions))
                    return pb if ok else None

                taken = wait_until(split, 180, "both workers to own partitions")
                moved = [s for s in catalog.group(GROUP).sources()
                         if s.kind in source_layouts(GROUP)
                         and default_partition(s.id, env.partitions) in taken]
                wait_until(lambda: count(b, "restored_models") >= len(moved), 60,
                           f"worker b to restore the {len(moved)} models of {taken}")
                env.send_stream(stream(), since=SPLIT)
                got = check_mixes(trail, a, b)
                assert count(b, "fits") == 0 and count(a, "fits") == SUBJECTS
                assert any(default_partition(s, env.partitions) in taken for s in got)
    finally:
        trail.close()
        env.close()
