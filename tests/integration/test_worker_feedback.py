"""Direction, labels and shadow mode on a real broker (issue 16): a PM2.5 drop (cleaner air)
raises nothing while a rise does; a label given when resolving reaches the archive and
``ioc detectors feedback``; an ``ewma`` configured as shadow on PM2.5 never reaches the
alerts topic (the wall's and the notifier's only input) and appears in
``ioc detectors shadow-report``.

The environment group only, compressed time: from 00:20 air station air-HC-01's PM2.5 drops
by 6 sigma for 15 minutes and air-HC-02's rises by as much.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _worker_harness import MIDNIGHT, Env, Trail, opened, running
from waits import wait_until

from archive.feedback import labels, shadow_windows
from archive.run import run_archive
from archive.store import Store
from ioc.events import Alert, Command
from ioc.settings import Settings
from ioc.tools.anomalies import AnomalyPlan, place
from ioc.tools.simulator import CitySimulator

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SHIFT = MIDNIGHT + 20 * 60
END = MIDNIGHT + 40 * 60
CLEANER, DIRTIER = "air-HC-01", "air-HC-02"
PLAN = AnomalyPlan([
    place("environment", CLEANER, "pm25", "level_shift", SHIFT, 15 * 60, sign=-1),
    place("environment", DIRTIER, "pm25", "level_shift", SHIFT, 15 * 60, sign=1),
])
CONFIG = '[groups.environment.pm25]\nshadow = ["ewma"]\n'
PERIOD = ["--since", "2026-11-22", "--until", "2026-11-24", "--json"]


def ioc_json(url: str, *args: str) -> Any:
    out = subprocess.run([sys.executable, "-m", "ioc", "detectors", *args],
                         env={**os.environ, "IOC_DATABASE_URL": url}, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def outcome(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("feedback")
    config = tmp / "detectors.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = Env(kafka_bootstrap, tmp, extra={"IOC_DETECTORS_CONFIG": str(config)})
    url = f"sqlite:///{tmp / 'archive.db'}"
    trail = Trail(env)
    shadow_trail = Trail(env, env.names.shadow)
    stop = threading.Event()
    archive = threading.Thread(target=run_archive, args=(Settings(
        kafka_bootstrap=kafka_bootstrap, database_url=url, app_id=f"{env.app_id}-arch"), stop),
        kwargs={"topic_prefix": env.names.prefix, "port": 0}, daemon=True)
    sim = CitySimulator(seed=5, start=MIDNIGHT, duration=END - MIDNIGHT, anomalies=PLAN,
                        groups=["environment"], pack_size=20)
    try:
        archive.start()
        with running(env.worker()) as (w,):
            w.wait_ready(300)  # a worker joins its group slowly on a loaded machine
            env.send_stream(sim)
            w.wait_clock(END - 31)
            aid = trail.wait(lambda t: next((a.alert_id for a in opened(t.alerts())
                                             if a.source == DIRTIER and a.category == "city"),
                                            None), 180, "the PM2.5 rise's alert")
            shadow_trail.wait(lambda t: t.alerts(), 120, "a shadow record")
            env.command(Command(command_id=f"resolve-{time.monotonic_ns()}",
                                action="resolve", user="operator:lan", ts=END, alert_id=aid,
                                label="false_alarm", reason="a bus idling at the inlet"),
                        key=DIRTIER)
            trail.wait(lambda t: any(a.alert_id == aid and a.label == "false_alarm"
                                     for a in t.alerts()), 120, "the labelled record")
            trail.settle()
            shadow_trail.settle()
        store = Store(url)
        try:
            wait_until(lambda: labels(store) and shadow_windows(store), 180,
                       "the label and the shadow windows in the archive")
        finally:
            store.close()
        yield {"alerts": trail.alerts(), "shadow": shadow_trail.alerts(), "aid": aid,
               "feedback": ioc_json(url, "feedback", "--by", "all", *PERIOD),
               "shadow_report": ioc_json(url, "shadow-report", "--detector", "ewma", *PERIOD)}
    finally:
        stop.set()
        archive.join(30)
        trail.close()
        shadow_trail.close()
        env.close()


def test_a_harmless_side_deviation_raises_nothing(outcome: dict[str, Any]) -> None:
    """Cleaner air at air-HC-01 opens no city alert; dirtier air at air-HC-02 does."""
    alerts: list[Alert] = outcome["alerts"]
    assert not [a for a in alerts if a.source == CLEANER and a.metric == "pm25"
                and a.category == "city"]
    assert any(a.source == DIRTIER and a.metric == "pm25" for a in opened(alerts))


def test_labels_reach_the_feedback_report(outcome: dict[str, Any]) -> None:
    rows = [r for r in outcome["feedback"]["rows"]
            if r["group"] == "environment" and r["metric"] == "pm25"]
    assert rows and sum(r["false_alarm"] for r in rows) == 1
    assert all(r["precision"] == 0.0 for r in rows)


def test_a_shadow_detector_stays_off_the_wall_and_appears_in_its_report(
        outcome: dict[str, Any]) -> None:
    """ewma in shadow: records on the shadow topic only, never on the alerts topic."""
    assert not [a for a in outcome["alerts"] if a.detector == "ewma" or a.change == "shadow"]
    shadow: list[Alert] = outcome["shadow"]
    assert shadow and {a.detector for a in shadow} == {"ewma"}
    assert {a.source for a in shadow} == {DIRTIER}  # the harmful side only, as live
    report = outcome["shadow_report"]
    assert report["metrics"] == ["environment/pm25"]
    assert report["shadow"]["episodes"] >= 1 and report["live"]["episodes"] >= 1
    assert report["shadow"]["overlap"] == 1.0 and report["lead_s"] is not None
    assert report["shadow"]["labelled"] == 1 and report["shadow"]["precision"] == 0.0


def test_the_archive_kept_the_label_note(outcome: dict[str, Any], tmp_path: Path) -> None:
    (labelled,) = [a for a in outcome["alerts"] if a.alert_id == outcome["aid"]
                   and a.change == "resolved"]
    assert labelled.label_note == "a bus idling at the inlet"
