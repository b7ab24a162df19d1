"""``ioc notify`` as a real subprocess on a real broker, with its own alerts topic, consumer
group and database, for the integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from waits import wait_until

from ioc.events import Alert, encode
from ioc.kafka.admin import TopicSpec, ensure_topics
from ioc.kafka.broker import free_port
from ioc.tools.producer import EventProducer

REPO = Path(__file__).resolve().parents[2]


class Alerts:
    """A test's own ``<prefix>.alerts`` topic and a producer onto it."""

    def __init__(self, bootstrap: str, partitions: int = 2) -> None:
        self.prefix = f"n{uuid.uuid4().hex[:10]}"
        self.topic = f"{self.prefix}.alerts"
        ensure_topics([TopicSpec(self.topic, partitions, 1)], bootstrap)
        self.producer = EventProducer(bootstrap, linger_ms=5)

    def send(self, *alerts: Alert) -> None:
        for a in alerts:
            self.producer.send_raw(self.topic, a.alert_id, encode(a))
        self.producer.flush(30)

    def close(self) -> None:
        self.producer.close()


class NotifyProcess:
    """``ioc notify`` as a subprocess (its own process group, so ``kill`` is a real
    ``kill -9``)."""

    def __init__(self, bootstrap: str, alerts: Alerts, url: str, config: Path, log: Path,
                 app_id: str | None = None) -> None:
        self.port = free_port()
        self.env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": bootstrap,
                    "IOC_APP_ID": app_id or f"ntest-{uuid.uuid4().hex[:8]}",
                    "IOC_DATABASE_URL": url, "IOC_NOTIFY_PORT": str(self.port),
                    "IOC_NOTIFY_CONFIG": str(config), "IOC_LOG_LEVEL": "INFO"}
        self.argv = [sys.executable, "-m", "ioc", "notify", "--topic-prefix", alerts.prefix]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> NotifyProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=REPO)
        return self

    def _get(self, path: str) -> bytes | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"ioc notify exited ({self.proc.returncode}): "
                                 f"{self.log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=5) as r:
                return bytes(r.read())
        except urllib.error.HTTPError as exc:
            return bytes(exc.read())
        except OSError:
            return None

    def health(self) -> dict[str, Any]:
        raw = self._get("/healthz")
        return json.loads(raw) if raw else {}

    def metrics(self) -> dict[str, float]:
        """Every ``ioc_notify_*`` sample, by name and labels as exposed."""
        raw = self._get("/metrics") or b""
        out: dict[str, float] = {}
        for line in raw.decode().splitlines():
            if line.startswith("ioc_notify_"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def wait_ready(self) -> NotifyProcess:
        try:
            wait_until(lambda: self.health().get("status") in ("ok", "degraded"), 120,
                       "ioc notify to be ready")
        except AssertionError as exc:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{exc}; /healthz {self.health()}; log: {tail}") from None
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
