"""`ioc dashboard` as users run it: prints the wall URL with a generated operator token,
serves, stops cleanly on SIGTERM; one-line errors; and the server without Kafka."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from dashkit import OPERATOR, SETTINGS, open_client

from dashboards.server import Dashboard
from ioc.kafka.broker import free_port


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(extra)
    return env


def test_ioc_dashboard_prints_urls_serves_and_stops_on_sigterm(kafka_bootstrap: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "ioc", "dashboard", "--port", "0",
                             "--bootstrap", kafka_bootstrap], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(4)]
        wall = lines[0].removeprefix("wall: ")
        assert lines[0].startswith("wall: http://127.0.0.1:") and "/#token=" in wall
        assert lines[1].startswith("summary: ") and "/summary#token=" in lines[1]
        assert lines[2].startswith("engineer token: ")
        base = wall.split("/#token=")[0]
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                    assert json.loads(resp.read())["ready"] is True
                    break
            except (urllib.error.HTTPError, urllib.error.URLError):
                assert time.monotonic() < deadline, "dashboard never became healthy"
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "ioc", "dashboard", "--port", str(port),
                               "--bootstrap", "127.0.0.1:1"], capture_output=True, text=True,
                              timeout=60, env=_env())
    assert done.returncode == 1
    assert done.stderr.startswith(f"ioc: error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in done.stderr


def test_no_broker_is_a_one_line_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "ioc", "dashboard", "--port", "0"],
                          capture_output=True, text=True, timeout=60, env=_env())
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "no Kafka broker" in done.stderr


async def test_without_kafka_health_is_503_and_commands_are_unavailable() -> None:
    """An unreachable broker: /healthz says so (503), the websocket still serves a not-ready
    snapshot, and a command is answered `unavailable` instead of hanging."""
    dead = f"127.0.0.1:{free_port()}"
    d = Dashboard(SETTINGS, dead, host="127.0.0.1", port=0)
    await d.start()
    try:
        c = await open_client(d, OPERATOR)
        snap = await c.until("snapshot")
        assert snap["ready"] is False
        await c.send({"type": "command", "ref": "c", "action": "ack",
                      "alert_id": "robust_z:flooding:rain-HC-01:rainfall"})
        err = await c.until("error", timeout=30)
        assert (err["code"], err["ref"]) == ("unavailable", "c")

        def health() -> tuple[int, dict[str, Any]]:
            try:
                urllib.request.urlopen(f"{d.url}/healthz", timeout=5)
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())
            raise AssertionError("healthz answered 200 without Kafka")

        deadline = time.monotonic() + 30
        while True:
            code, body = await asyncio.to_thread(health)
            assert code == 503 and body["ready"] is False
            if body["status"] == "kafka_unavailable":
                break
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.5)
        await c.close()
    finally:
        await d.stop()
