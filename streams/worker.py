"""Start a worker: from the command line (``ioc worker``), a subprocess, or Python.

A worker needs a broker (``IOC_KAFKA_BOOTSTRAP``); it waits for it, creates any missing
ioc-monitor topic (idempotent, like ``ioc topics create``), then runs the Faust worker until
SIGINT/SIGTERM. Everything else comes from :class:`~ioc.settings.Settings`: the consumer group
(``IOC_APP_ID``), partitions, web port (``IOC_WORKER_PORT``: ``/metrics`` and ``/healthz``),
state directory (``IOC_DATA_DIR``), lateness, detector config, processing guarantee.

From another program, run it as a subprocess (what ``ioc demo`` and the tests do)::

    env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": bootstrap, "IOC_APP_ID": "ioc-monitor",
           "IOC_WORKER_PORT": "6066", "IOC_DATA_DIR": "/tmp/ioc-worker"}
    proc = subprocess.Popen([sys.executable, "-m", "ioc", "worker"], env=env)
    wait_ready(6066)     # GET /healthz answers 200 once partitions are assigned and recovered

or in-process with :func:`run_worker` (it blocks and owns the event loop).
"""

from __future__ import annotations

import gc
import json
import logging
import time
import urllib.error
import urllib.request

from ioc.errors import BrokerError, ConfigError
from ioc.kafka.admin import ensure_topics
from ioc.kafka.broker import wait_for_kafka
from ioc.settings import Settings
from streams.heap import pin_mmap_threshold
from streams.reader import events_client
from streams.topics import TopicNames, changelog_specs, parts_spec

__all__ = ["health", "run_worker", "tune_gc", "wait_ready"]

GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a long-running worker.

    Everything alive after start-up (modules, the catalog, the app) is frozen out of the
    collector's scans, and collections run after 50,000 container allocations instead of 700:
    the worker allocates a few objects per window and series and hardly any cycles, while a
    full collection has to walk every tracked series' detectors (millions of objects at
    100,000 series). The in-process pipeline spent ~10 % of its own time in the collector
    before (``benchmarks/throughput.py`` traffic stream, 1 s cadence).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_worker(settings: Settings, *, topic_prefix: str | None = None,
               offset_reset: str = "earliest", create_topics: bool = True,
               broker_timeout: float = 60.0) -> None:
    """Run a worker in this process until it is stopped (SIGINT/SIGTERM)."""
    from streams.agents import WorkerApp
    from streams.app import PromptWorker
    from streams.recovery_watch import watch_recovery
    from streams.runtime import DetectorRuntime

    if not settings.kafka_bootstrap:
        raise ConfigError("IOC_KAFKA_BOOTSTRAP is not set: a worker needs a Kafka broker "
                          "(`ioc broker` runs an embedded one)")
    names = TopicNames(topic_prefix or "ioc")
    runtime = DetectorRuntime.from_settings(settings)  # a bad detector config fails first
    events_client(settings)  # and a client that cannot run with the processing guarantee
    wait_for_kafka(settings.kafka_bootstrap, timeout=broker_timeout)
    if create_topics:
        report = ensure_topics([*names.specs(settings), parts_spec(settings),
                                *changelog_specs(settings)], settings.kafka_bootstrap)
        _check_events_partitions(settings, names, report.mismatched)
    pin_mmap_threshold()  # before the app's state grows (streams.heap)
    worker_app = WorkerApp(settings, names=names, offset_reset=offset_reset, runtime=runtime)
    tune_gc()
    logging.getLogger("ioc").setLevel(settings.log_level)
    worker = PromptWorker(worker_app.app, loglevel=settings.log_level.lower(), quiet=True,
                          redirect_stdouts=False)
    # Faust's terminal spinner sets the root logger to DEBUG (so that every record spins it):
    # then every library builds a debug record per message. No spinner, no debug records.
    worker.spinner = None
    watch_recovery(worker_app.app, settings.recovery_stall_s)
    worker.execute_from_commandline()


def _check_events_partitions(settings: Settings, names: TopicNames,
                             mismatched: dict[str, int]) -> None:
    """The events reader reads partition N of each events topic where the worker owns
    partition N of the side topics: every events topic needs ``IOC_PARTITIONS`` of them."""
    if events_client(settings) != "librdkafka":
        return
    events = set(names.all_events())
    wrong = {t: n for t, n in mismatched.items() if t in events}
    if wrong:
        topic, count = sorted(wrong.items())[0]
        raise ConfigError(f"topic {topic} has {count} partitions but IOC_PARTITIONS is "
                          f"{settings.partitions}: set IOC_PARTITIONS={count} (the worker "
                          f"reads partition N of every events topic with partition N of its "
                          f"own topics)")


def health(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> dict[str, object] | None:
    """The worker's ``/healthz`` body (whatever its status), or None if it does not answer."""
    url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return json.loads(exc.read())
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


def scrape_metrics(port: int, host: str = "127.0.0.1", timeout: float = 5.0, *,
                   labels: bool = False) -> dict[str, float]:
    """Every ``ioc_worker_*`` sample of the worker's ``/metrics``, summed over its labels
    (``labels``: each series apart, by its whole name, ``name{label="value"}``)."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("ioc_worker_"):
            series, _, value = line.rpartition(" ")
            name = series if labels else series.split("{", 1)[0]
            out[name] = out.get(name, 0.0) + float(value)
    return out


def wait_ready(port: int, timeout: float = 90.0, host: str = "127.0.0.1") -> dict[str, object]:
    """Wait until the worker on ``port`` reports ready; BrokerError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: dict[str, object] | None = None
    while time.monotonic() < deadline:
        last = health(port, host)
        if last is not None and last.get("ready"):
            return last
        time.sleep(0.25)
    raise BrokerError(f"the worker on port {port} was not ready within {timeout:g} s "
                      f"(last /healthz: {last})")
