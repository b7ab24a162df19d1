"""Starting a worker: garbage-collector tuning, fail-fast configuration checks."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def test_tune_gc_freezes_start_up_objects_and_raises_the_thresholds() -> None:
    code = ("import gc; from streams.worker import GC_THRESHOLDS, tune_gc; tune_gc(); "
            "assert gc.get_threshold() == GC_THRESHOLDS, gc.get_threshold(); "
            "assert gc.get_freeze_count() > 10_000, gc.get_freeze_count(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_a_bad_detector_config_fails_before_waiting_for_kafka(tmp_path: object) -> None:
    from pathlib import Path

    from ioc.kafka.broker import free_port

    bad = Path(str(tmp_path)) / "detectors.toml"
    bad.write_text('[groups.flooding.rainfall]\nadd = ["no_such_detector"]\n')
    env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nobody there
           "IOC_DETECTORS_CONFIG": str(bad)}
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "ioc", "worker"], capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.returncode != 0 and time.monotonic() - started < 30
    assert "no_such_detector" in out.stderr and "Traceback" not in out.stderr
