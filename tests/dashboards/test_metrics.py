"""The dashboard's /metrics: names per ARCH.md, values from a fresh registry, and an
exposition that `promtool check metrics` accepts."""

from __future__ import annotations

import asyncio
import doctest
import shutil
import subprocess
import urllib.request
from typing import Any

import pytest
from dashkit import LEADERSHIP, OPERATOR, Producer, make_alert, make_indicator, open_client

import dashboards.auth
import dashboards.board
import dashboards.hardening
import dashboards.hub
import dashboards.live
import dashboards.metrics
import dashboards.protocol
import dashboards.server
import dashboards.state
import dashboards.web


@pytest.mark.parametrize("module", [
    dashboards.auth, dashboards.board, dashboards.hardening, dashboards.hub, dashboards.live,
    dashboards.metrics, dashboards.protocol, dashboards.server, dashboards.state,
    dashboards.web])
def test_doctests(module: Any) -> None:
    """The examples in the dashboards modules' docstrings run."""
    result = doctest.testmod(module)
    assert result.failed == 0


async def test_metrics_after_traffic_pass_promtool(producer: Producer,
                                                   start_dashboard: Any) -> None:
    await producer.alerts([make_alert(1)])
    await producer.indicators([make_indicator()])
    d = await start_dashboard()
    op = await open_client(d, OPERATOR)
    lead = await open_client(d, LEADERSHIP)
    await op.until("snapshot")
    await lead.until("snapshot")
    await op.send({"type": "command", "ref": "c", "action": "ack",
                   "alert_id": make_alert(1).alert_id})
    await op.until("accepted")
    await op.send("{bad")
    await op.until("error")
    await producer.alerts([make_alert(2)])
    await op.until("delta")
    text = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"{d.url}/metrics", timeout=10).read().decode())
    reg = d.registry
    assert reg.get_sample_value("ioc_dashboard_clients", {"role": "operator"}) == 1
    assert reg.get_sample_value("ioc_dashboard_clients", {"role": "leadership"}) == 1
    assert reg.get_sample_value("ioc_dashboard_commands_total", {"action": "ack"}) == 1
    assert reg.get_sample_value("ioc_dashboard_client_errors_total", {"code": "bad_json"}) == 1
    assert reg.get_sample_value("ioc_dashboard_records_consumed_total",
                                {"topic": d.topics.alerts}) == 2
    assert (reg.get_sample_value("ioc_dashboard_messages_sent_total") or 0) >= 6
    assert (reg.get_sample_value("ioc_dashboard_snapshot_bytes_count") or 0) >= 2
    assert reg.get_sample_value("ioc_dashboard_ready") == 1
    assert 'ioc_dashboard_messages_dropped_total{reason="resync"}' in text
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`)")
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    await op.close()
    await lead.close()
