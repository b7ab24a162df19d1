"""Shared test fixtures: a real Kafka broker for integration tests, and collision-free names.

Which broker ``kafka_bootstrap`` gives (for the whole session):

* ``IOC_TEST_BROKER=embedded``: the embedded ``tansu`` broker, started here;
* else ``IOC_TEST_BOOTSTRAP=host:port``: that broker (``scripts/test.sh`` starts Apache Kafka and
  sets it);
* else Apache Kafka started here with ``scripts/kafka.sh`` on free ports, stopped at the end
  (skipped, with the reason, when Java or the Kafka jars are not available).

Tests that need a broker carry ``@pytest.mark.kafka`` (added automatically to any test that
uses ``kafka_bootstrap``), so ``pytest -m "not kafka"`` runs the rest. ``broker_kind`` says
``"kafka"`` or ``"embedded"`` so a test can ``xfail`` a known limitation of one broker.

``database_url`` and ``store`` run a test on each of the archive's back ends: a SQLite file
and a fresh PostgreSQL database (see ``dbkit``).
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dbkit import BACKENDS, empty_database

from archive.store import Store
from ioc.kafka.broker import EmbeddedBroker, free_port, wait_for_kafka

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = ROOT / "scripts" / "kafka.sh"


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python 3.0 loads its protocol schemas with a deprecated importlib API.
    config.addinivalue_line(
        "filterwarnings", "ignore:.*is deprecated. Use files\\(\\) instead:DeprecationWarning")


INTEGRATION = ROOT / "tests" / "integration"
INTEGRATION_TIMEOUT_S = 900


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()) and \
                item.get_closest_marker("kafka") is None:
            item.add_marker(pytest.mark.kafka)
        # a worker test waits on conditions with deadlines of minutes each (start, read, kill,
        # restart, finish): the default 300 s for the whole test cut the crash test short at
        # load 45-68 while each of its waits was still within its own deadline
        if INTEGRATION in Path(str(item.fspath)).parents and \
                item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(INTEGRATION_TIMEOUT_S))


def _wanted_kind() -> str:
    kind = os.environ.get("IOC_TEST_BROKER", "kafka").strip().lower() or "kafka"
    if kind not in ("kafka", "embedded"):
        raise pytest.UsageError(f"IOC_TEST_BROKER must be 'kafka' or 'embedded', got {kind!r}")
    return kind


@pytest.fixture(scope="session")
def broker_kind() -> str:
    """``"kafka"`` (Apache Kafka) or ``"embedded"`` (tansu): the broker behind
    ``kafka_bootstrap``."""
    return _wanted_kind()


def _start_apache_kafka(state: Path) -> tuple[str, dict[str, str]]:
    port = free_port()
    cport = free_port()
    while cport == port:
        cport = free_port()
    env = dict(os.environ, KAFKA_PORT=str(port), KAFKA_CONTROLLER_PORT=str(cport),
               KAFKA_STATE_DIR=str(state))
    try:
        done = subprocess.run([str(KAFKA_SH), "start"], env=env, capture_output=True,
                              text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"could not start Apache Kafka with scripts/kafka.sh: {exc}")
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        pytest.skip(f"could not start Apache Kafka with scripts/kafka.sh "
                    f"(set IOC_TEST_BOOTSTRAP or IOC_TEST_BROKER=embedded): {tail}")
    return f"127.0.0.1:{port}", env


@pytest.fixture(scope="session")
def kafka_bootstrap(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of the session's broker (see the module docstring)."""
    if broker_kind == "embedded":
        log = tmp_path_factory.mktemp("embedded-broker") / "tansu.log"
        with EmbeddedBroker(log_path=log) as broker:
            yield broker.bootstrap
        return
    given = os.environ.get("IOC_TEST_BOOTSTRAP", "").strip()
    if given:
        wait_for_kafka(given, timeout=60)
        yield given
        return
    bootstrap, env = _start_apache_kafka(tmp_path_factory.mktemp("apache-kafka"))
    try:
        wait_for_kafka(bootstrap, timeout=60)
        yield bootstrap
    finally:
        subprocess.run([str(KAFKA_SH), "stop"], env=env, capture_output=True, timeout=120)


@pytest.fixture
def embedded_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A fresh embedded broker of this test's own (memory storage, so it starts empty)."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as broker:
        yield broker


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``unique_name("prefix")`` -> a topic/group name no other test or run will use."""
    test = re.sub(r"[^a-zA-Z0-9]+", "-", request.node.name).strip("-")[:60]

    def make(prefix: str = "t") -> str:
        return f"{prefix}.{test}.{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database on each back end of the archive."""
    with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated archive store on each back end."""
    s = Store(database_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()
