"""deploy/prometheus with the real Prometheus and promtool (Debian's ``prometheus`` package).

* ``promtool check config`` / ``check rules`` on the shipped files, and ``promtool test rules``
  (tests/deploy/ioc.rules.test.yml: each alert fires on the series it should, and only then);
* a real ``ioc worker`` and a real ``ioc dashboard`` (subprocesses on free ports, on the
  session's Kafka) scraped by a real Prometheus running the shipped scrape jobs and rules:
  both targets ``up``, the rules loaded, ``promtool check metrics`` clean on each ``/metrics``
  body, every metric ARCH.md names exposed, and every Grafana panel query accepted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ioc.kafka.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = ROOT / "deploy" / "prometheus"
CONFIG = PROM_DIR / "prometheus.yml"
RULES = PROM_DIR / "ioc.rules.yml"
RULE_TESTS = Path(__file__).with_name("ioc.rules.test.yml")
BOARD = ROOT / "deploy" / "grafana" / "dashboards" / "ioc-monitor.json"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
IOC = str(Path(sys.executable).with_name("ioc"))

WORKER_METRICS = (
    "ioc_worker_readings_total", "ioc_worker_deadletter_total",
    "ioc_worker_windows_closed_total", "ioc_worker_late_readings_total",
    "ioc_worker_dropped_readings_total", "ioc_worker_detector_seconds",
    "ioc_worker_alerts_total", "ioc_worker_open_alerts", "ioc_worker_consumer_lag",
    "ioc_worker_tracked_series", "ioc_worker_unsaved_series", "ioc_worker_detector_errors_total",
)
ARCHIVE_METRICS = (
    "ioc_archive_records_total", "ioc_archive_rows_written_total", "ioc_archive_lag_records",
    "ioc_archive_write_seconds", "ioc_archive_db_errors_total",
)
DASHBOARD_METRICS = (
    "ioc_dashboard_clients", "ioc_dashboard_messages_sent_total",
    "ioc_dashboard_messages_dropped_total", "ioc_dashboard_commands_total",
    "ioc_dashboard_records_consumed_total",
)

needs_promtool = pytest.mark.skipif(not Path(PROMTOOL).exists(),
                                    reason="promtool is not installed (Debian `prometheus`)")


def _promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True, timeout=120)


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body: bytes = resp.read()
        return body


# --- the shipped files ----------------------------------------------------------------------

@needs_promtool
def test_promtool_check_config() -> None:
    done = _promtool("check", "config", str(CONFIG))
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    assert b"1 rule files found" in done.stdout + done.stderr


@needs_promtool
def test_promtool_check_rules() -> None:
    done = _promtool("check", "rules", *map(str, sorted(PROM_DIR.glob("*.rules.yml"))))
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


@needs_promtool
def test_alert_rules_fire_as_intended() -> None:
    """Worker down, all workers down, lag growing, dead-letter rate and share, dashboard
    down: promtool's rule unit tests (series in, alerts out)."""
    done = subprocess.run([PROMTOOL, "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    assert b"SUCCESS" in done.stdout


def test_the_issue_alerts_are_there() -> None:
    rules = yaml.safe_load(RULES.read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert {"IocWorkerDown", "IocConsumerLagGrowing", "IocDeadLetterRate",
            "IocDashboardDown"} <= names
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]


# --- a real scrape ------------------------------------------------------------------------

def _wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes], what: str,
               log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}: "
                                 f"{log.read_text()[-2000:]}")
        try:
            _get(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{what} did not answer {url} within {timeout} s: "
                         f"{log.read_text()[-2000:]}")


class Procs:
    """Subprocesses started by this module, each in its own process group, stopped in
    reverse order."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> tuple[
            subprocess.Popen[bytes], Path]:
        log = self.tmp / f"{name}.log"
        out = log.open("wb")
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        out.close()
        self.procs.append((name, proc))
        return proc, log

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[dict[str, Any]]:
    """`ioc worker` and `ioc dashboard` on free ports, scraped by Prometheus on a free port."""
    from ioc.cli import cli

    missing = [c for c in ("worker", "dashboard") if c not in cli.commands]
    if missing:
        pytest.fail(f"ioc.cli has no {', '.join(missing)} command")
    if not Path(PROMETHEUS).exists():
        pytest.skip("prometheus is not installed (Debian `prometheus`)")
    tmp = tmp_path_factory.mktemp("prometheus-stack")
    procs = Procs(tmp)
    prefix = f"prom{uuid.uuid4().hex[:8]}"
    worker_port, dashboard_port, prom_port, archive_port = (free_port() for _ in range(4))
    while len({worker_port, dashboard_port, prom_port, archive_port}) < 4:
        dashboard_port, prom_port, archive_port = free_port(), free_port(), free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    base.update(IOC_KAFKA_BOOTSTRAP=kafka_bootstrap, IOC_LOG_LEVEL="WARNING",
                IOC_PARTITIONS="2")
    try:
        worker, worker_log = procs.start("worker", [IOC, "worker", "--topic-prefix", prefix], {
            **base, "IOC_APP_ID": f"{prefix}-app", "IOC_WORKER_PORT": str(worker_port),
            "IOC_DATA_DIR": str(tmp / "worker-data")})
        dashboard, dashboard_log = procs.start("dashboard", [
            IOC, "dashboard", "--host", "127.0.0.1", "--port", str(dashboard_port)], {
            **base, "IOC_OPERATOR_TOKEN": "op-" + prefix, "IOC_LEADERSHIP_TOKEN": "ld-" + prefix})
        archive, archive_log = procs.start("archive", [
            IOC, "archive", "--topic-prefix", prefix, "--port", str(archive_port)], {
            **base, "IOC_APP_ID": f"{prefix}-app",
            "IOC_DATABASE_URL": f"sqlite:///{tmp / 'archive.db'}"})
        _wait_http(f"http://127.0.0.1:{dashboard_port}/metrics", 60, dashboard, "ioc dashboard",
                   dashboard_log)
        _wait_http(f"http://127.0.0.1:{archive_port}/metrics", 60, archive, "ioc archive",
                   archive_log)
        _wait_http(f"http://127.0.0.1:{worker_port}/metrics", 120, worker, "ioc worker",
                   worker_log)

        # the shipped scrape jobs and rules, pointed at the local processes
        config = yaml.safe_load(CONFIG.read_text())
        config["global"]["scrape_interval"] = "1s"
        config["global"]["evaluation_interval"] = "1s"
        config["rule_files"] = [str(PROM_DIR / f) for f in config["rule_files"]]
        targets = {"ioc-worker": [f"127.0.0.1:{worker_port}"],
                   "ioc-dashboard": [f"127.0.0.1:{dashboard_port}"],
                   "ioc-archive": [f"127.0.0.1:{archive_port}"],
                   "prometheus": [f"127.0.0.1:{prom_port}"]}
        # the notifier's and ingest's jobs stay out: this test runs no such process
        config["scrape_configs"] = [job for job in config["scrape_configs"]
                                    if job["job_name"] in targets]
        for job in config["scrape_configs"]:
            job["static_configs"] = [{"targets": targets[job["job_name"]]}]
        prom_yml = tmp / "prometheus.yml"
        prom_yml.write_text(yaml.safe_dump(config))
        check = _promtool("check", "config", str(prom_yml))
        assert check.returncode == 0, (check.stdout + check.stderr).decode()
        prom, prom_log = procs.start("prometheus", [
            PROMETHEUS, f"--config.file={prom_yml}", f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"], dict(os.environ))
        _wait_http(f"http://127.0.0.1:{prom_port}/-/ready", 60, prom, "prometheus", prom_log)
        yield {"worker": f"http://127.0.0.1:{worker_port}",
               "dashboard": f"http://127.0.0.1:{dashboard_port}",
               "archive": f"http://127.0.0.1:{archive_port}",
               "prometheus": f"http://127.0.0.1:{prom_port}", "tmp": tmp}
    finally:
        procs.stop()


def _api(stack: dict[str, Any], path: str, **params: str) -> Any:
    url = f"{stack['prometheus']}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    body = json.loads(_get(url))
    assert body["status"] == "success", body
    return body["data"]


@pytest.mark.prometheus
@pytest.mark.slow
def test_prometheus_scrapes_the_worker_and_the_dashboard(stack: dict[str, Any]) -> None:
    """The worker, archive and dashboard targets are `up` within 60 s; `up` is 1 for each."""
    jobs = ("ioc-worker", "ioc-archive", "ioc-dashboard")
    deadline = time.monotonic() + 60
    health: dict[str, str] = {}
    while time.monotonic() < deadline:
        active = _api(stack, "targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in active}
        if all(health.get(job) == "up" for job in jobs):
            break
        time.sleep(0.5)
    assert all(health.get(job) == "up" for job in jobs), _api(stack, "targets")["activeTargets"]
    for job in jobs:
        result = _api(stack, "query", query=f'up{{job="{job}"}}')["result"]
        assert [r["value"][1] for r in result] == ["1"], (job, result)


@pytest.mark.prometheus
@pytest.mark.slow
def test_prometheus_loaded_the_shipped_rules(stack: dict[str, Any]) -> None:
    groups = _api(stack, "rules")["groups"]
    loaded = {r["name"] for g in groups for r in g["rules"]}
    shipped = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"]
               for r in g["rules"]}
    assert loaded == shipped
    assert all(r["health"] in ("ok", "unknown") for g in groups for r in g["rules"])


@needs_promtool
@pytest.mark.prometheus
@pytest.mark.slow
@pytest.mark.parametrize(("target", "names"), [("worker", WORKER_METRICS),
                                               ("archive", ARCHIVE_METRICS),
                                               ("dashboard", DASHBOARD_METRICS)])
def test_metrics_bodies_pass_promtool_and_name_the_arch_metrics(
        stack: dict[str, Any], target: str, names: tuple[str, ...]) -> None:
    body = _get(f"{stack[target]}/metrics")
    done = _promtool("check", "metrics", stdin=body)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    text = body.decode()
    declared = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    missing = [n for n in names if n not in declared and n.removesuffix("_total") not in declared]
    assert not missing, f"{target} /metrics lacks {missing}"


@pytest.mark.prometheus
@pytest.mark.slow
def test_every_grafana_panel_query_runs_on_prometheus(stack: dict[str, Any]) -> None:
    """The provisioned dashboard's queries, with Grafana's variables filled in, are accepted
    by the running Prometheus; the `up` panels return data."""
    board = json.loads(BOARD.read_text())
    empty_ok = 0
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "1m")
            expr = re.sub(r"\$\{?group\}?", ".*", expr)
            data = _api(stack, "query", query=expr)
            if 'up{job="' in expr:
                assert data["result"], (panel["title"], expr)
            empty_ok += 1
    assert empty_ok >= 15
