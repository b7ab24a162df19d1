"""Fixtures of the ingest tests: a Mosquitto broker, per-test topics, a bridge in a thread.

``mqtt_url`` is the Mosquitto that ``scripts/test.sh`` started (``IOC_TEST_MQTT_URL``), else
one started here with ``scripts/mosquitto.sh`` when the binary exists; tests that need it skip
with the reason when neither is possible.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ingestkit import Topics

from ioc.kafka.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO_SH = ROOT / "scripts" / "mosquitto.sh"


def _mosquitto() -> str | None:
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


@pytest.fixture(scope="session")
def mqtt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mqtt://127.0.0.1:PORT`` of a running Mosquitto (anonymous, persistent sessions)."""
    given = os.environ.get("IOC_TEST_MQTT_URL", "").strip()
    if given:
        yield given
        return
    if _mosquitto() is None:
        pytest.skip("no Mosquitto: install it (apt-get install mosquitto; scripts/test.sh "
                    "does) or set IOC_TEST_MQTT_URL")
    port = free_port()
    env = dict(os.environ, MQTT_PORT=str(port),
               MQTT_STATE_DIR=str(tmp_path_factory.mktemp("mosquitto")))
    done = subprocess.run([str(MOSQUITTO_SH), "start"], env=env, capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0:
        pytest.skip(f"could not start Mosquitto: {done.stderr.strip()[-300:]}")
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        subprocess.run([str(MOSQUITTO_SH), "stop"], env=env, capture_output=True, timeout=60)


@pytest.fixture
def topics(kafka_bootstrap: str, unique_name: Callable[[str], str]) -> Topics:
    """A topic prefix of this test, with its events topics and dead-letter topic created."""
    return Topics.create(kafka_bootstrap, unique_name("ing").replace(".", "-"))
