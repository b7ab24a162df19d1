"""A third-party detector plugin, installed like any package, is picked up by a worker on a
real broker and its alerts flow to ``ioc.alerts`` (examples/ioc-detector-example).

The plugin's `rate_of_change` is added to the flood-depth towers by a detectors config file
(the other city detectors of that metric are removed, so the plugin owns the alert), and the
worker must refuse nothing: ``IOC_REQUIRE_PLUGINS=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _worker_harness import MIDNIGHT, Env, Trail, opened, running

from ioc.tools.anomalies import AnomalyPlan, place
from ioc.tools.simulator import CitySimulator

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ioc-detector-example"
AT = MIDNIGHT + 30 * 60
END = MIDNIGHT + 38 * 60
SHIFT = place("flooding", "flood-HC-01", "flood_depth", "level_shift", AT)
CONFIG = """
[groups.flooding.flood_depth]
add = ["rate_of_change"]
remove = ["robust_z", "cusum", "threshold"]
"""


def pip(*args: str) -> None:
    res = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    src = tmp_path_factory.mktemp("plugin") / "ioc-detector-example"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns(
        "*.egg-info", "build", "__pycache__", ".pytest_cache"))
    pip("install", "-q", "--no-index", "--no-deps", "--no-build-isolation", str(src))
    try:
        yield
    finally:
        pip("uninstall", "-q", "-y", "ioc-detector-example")


def test_plugin_alerts_flow_from_a_worker(plugin: None, kafka_bootstrap: str,
                                          tmp_path: Path) -> None:
    config = tmp_path / "detectors.toml"
    config.write_text(CONFIG)
    env = Env(kafka_bootstrap, tmp_path, extra={"IOC_DETECTORS_CONFIG": str(config),
                                                "IOC_REQUIRE_PLUGINS": "true"})
    trail = Trail(env)
    try:
        with running(env.worker()) as (w,):
            w.wait_ready()
            sim = CitySimulator(seed=5, start=MIDNIGHT, duration=END - MIDNIGHT,
                                anomalies=AnomalyPlan([SHIFT]), groups=["flooding"],
                                pack_size=10)
            w.wait_readings(env.send_stream(sim))
            trail.wait(lambda t: any(a.detector == "rate_of_change" for a in t.alerts()), 60,
                       "an alert from the plugin")
            trail.settle()
        hits = [a for a in opened(trail.alerts())
                if a.source == SHIFT.source and a.metric == SHIFT.metric]
        assert [a.detector for a in hits] == ["rate_of_change"]
        alert = hits[0]
        assert alert.alert_id == "rate_of_change:flooding:flood-HC-01:flood_depth"
        assert alert.category == "city" and alert.evidence.detector == "rate_of_change"
        assert alert.evidence.params == {"threshold": 6.0, "alpha": 0.05, "min_samples": 10}
        assert AT <= alert.evidence.window_end <= AT + 2 * 60
        others = [a for a in opened(trail.alerts()) if a.detector == "rate_of_change"
                  and a.source != SHIFT.source]
        assert len(others) <= 2, [(a.alert_id, a.first_seen - MIDNIGHT) for a in others]
    finally:
        trail.close()
        env.close()


def test_a_worker_that_requires_plugins_names_a_missing_one(tmp_path: Path,
                                                           kafka_bootstrap: str) -> None:
    config = tmp_path / "detectors.toml"
    config.write_text('[groups.flooding.flood_depth]\nadd = ["no_such_detector"]\n')
    env = Env(kafka_bootstrap, tmp_path, extra={"IOC_DETECTORS_CONFIG": str(config)})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ioc", "worker", "--topic-prefix", env.names.prefix],
            env={**os.environ, **env.env}, capture_output=True, text=True,
            timeout=120)
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr
        assert "no_such_detector" in proc.stderr
    finally:
        env.close()
