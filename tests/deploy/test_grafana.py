"""The provisioned Grafana dashboard: well-formed, every panel query is valid PromQL (checked by
``promtool``), and it covers the metrics ARCH.md names for the workers and the dashboard."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BOARD = ROOT / "deploy" / "grafana" / "dashboards" / "ioc-monitor.json"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# Every metric of ARCH.md ("Metrics") must be on the dashboard.
ARCH_METRICS = (
    "ioc_worker_readings_total", "ioc_worker_deadletter_total", "ioc_worker_windows_closed_total",
    "ioc_worker_late_readings_total", "ioc_worker_dropped_readings_total",
    "ioc_worker_detector_seconds", "ioc_worker_alerts_total", "ioc_worker_open_alerts",
    "ioc_worker_consumer_lag", "ioc_worker_tracked_series", "ioc_worker_unsaved_series",
    "ioc_worker_detector_errors_total", "ioc_dashboard_clients",
    "ioc_dashboard_messages_sent_total", "ioc_dashboard_messages_dropped_total",
    "ioc_dashboard_commands_total", "ioc_dashboard_records_consumed_total",
)


def _board() -> dict[str, Any]:
    return json.loads(BOARD.read_text())


def _exprs() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in _board()["panels"] if p["type"] != "row"
            for t in p["targets"]]


def _as_plain_promql(expr: str) -> str:
    """Grafana's variables replaced by what Grafana sends (All = `.*`)."""
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")
    return re.sub(r"\$\{?group\}?", ".*", expr)


def test_dashboard_json_is_well_formed() -> None:
    board = _board()
    assert board["uid"] and board["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            refs = [t["refId"] for t in panel["targets"]]
            assert refs and len(refs) == len(set(refs)), panel["title"]
    used = {v["name"] for v in board["templating"]["list"]}
    for title, expr in _exprs():
        for var in re.findall(r"\$\{?([a-z_]+)", expr):
            assert var.startswith("__") or var in used, f"{title}: unknown variable ${var}"


def test_dashboard_shows_every_arch_metric() -> None:
    text = " ".join(expr for _, expr in _exprs())
    missing = [m for m in ARCH_METRICS if m not in text]
    assert not missing, f"not on the dashboard: {missing}"


@pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="promtool is not installed")
def test_every_panel_query_is_valid_promql(tmp_path: Path) -> None:
    """Each query becomes a recording rule; `promtool check rules` parses them all."""
    rules = [{"record": f"ioc:grafana_check:{i}", "expr": _as_plain_promql(expr)}
             for i, (_, expr) in enumerate(_exprs())]
    path = tmp_path / "grafana-queries.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": rules}]}))
    done = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(rules)} rules found" in done.stdout
