"""A worker's web port serves ``/metrics`` and ``/healthz`` and nothing else, on 127.0.0.1.

The attack it answers (issue 9): Faust's built-in ``/table/alerts/<key>/`` page returned a whole
alert record (title, status, evidence, sensor-health alerts included) to anyone who could reach
the worker's port, which listened on every interface; the keys are guessable from the catalog.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from _worker_harness import MIDNIGHT, Env, Trail, WorkerProcess, opened, running

from ioc.tools.anomalies import AnomalyPlan, place
from ioc.tools.simulator import CitySimulator
from streams.lifecycle import lane_key

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SPIKE = MIDNIGHT + 25 * 60
END = MIDNIGHT + 30 * 60


@pytest.fixture(scope="module")
def worker_with_an_alert(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
                         ) -> Iterator[tuple[WorkerProcess, str]]:
    """A ready worker whose alert table holds the lane of one open alert (its key)."""
    env = Env(kafka_bootstrap, tmp_path_factory.mktemp("web"))
    trail = Trail(env)
    plan = AnomalyPlan([place("flooding", "flood-HC-01", "flood_depth", "spike", SPIKE)])
    sim = CitySimulator(seed=5, start=MIDNIGHT, duration=END - MIDNIGHT, anomalies=plan,
                        groups=["flooding"], pack_size=10)
    try:
        with running(env.worker()) as (w,):
            w.wait_ready()
            env.send_stream(sim)
            alert = trail.wait(lambda t: next(iter(opened(t.alerts())), None), 120,
                               "an alert to open")
            yield w, lane_key(alert.group, alert.source, alert.metric, alert.category)
    finally:
        trail.close()
        env.close()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_only_metrics_and_healthz_are_served(worker_with_an_alert: tuple[WorkerProcess, str]
                                            ) -> None:
    w, key = worker_with_an_alert
    base = f"http://127.0.0.1:{w.port}"
    assert _status(f"{base}/metrics") == 200
    assert _status(f"{base}/healthz") == 200
    for path in (f"/table/alerts/{key}/", "/table/alerts/", "/table/series/", "/table/",
                 "/router/", "/graph/", "/stats/", "/performance/", "/", "/signal/"):
        assert _status(base + path) == 404, path


def _outside_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, it only picks a route
        except OSError:
            return None
        addr = str(s.getsockname()[0])
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


def test_the_web_port_listens_on_loopback_only(worker_with_an_alert: tuple[WorkerProcess, str]
                                               ) -> None:
    w, _ = worker_with_an_alert
    addr = _outside_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with pytest.raises(OSError), socket.create_connection((addr, w.port), timeout=3):
        pass
