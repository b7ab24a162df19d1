"""The notifier tests' helpers: alert records, a real HTTP receiver (webhook and SMS gateway)
and a real SMTP server (aiosmtpd), both on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from ioc.events import Alert, Evidence
from ioc.kafka.broker import free_port

T0 = 1_795_410_000.0  # 2026-11-23 12:00 in Da Nang


def alert(source: str = "rain-HC-01", *, version: int = 1, status: str = "firing",
          severity: str = "major", group: str = "flooding", district: str = "Hai Chau",
          metric: str = "rainfall", first_seen: float = T0, updated_at: float | None = None,
          category: str = "city", user: str | None = None) -> Alert:
    """One version of the robust_z alert of ``source``/``metric``."""
    ev = Evidence(window_start=first_seen, window_end=first_seen + 60, value=42.0,
                  baseline=3.0, threshold=20.0, score=0.97, raw=9.1, detector="robust_z",
                  detector_version="2", params={}, recent=[3.0, 42.0])
    change = "opened" if version == 1 else ("acknowledged" if status == "acknowledged"
                                           else "updated")
    return Alert(alert_id=f"robust_z:{group}:{source}:{metric}", version=version,
                 status=status,  # type: ignore[arg-type]
                 severity=severity, category=category,  # type: ignore[arg-type]
                 group=group, district=district, source=source, metric=metric,
                 detector="robust_z", title=f"{metric} high at {source}",
                 first_seen=first_seen, last_seen=first_seen, count=version,
                 updated_at=first_seen if updated_at is None else updated_at, change=change,
                 evidence=ev, user=user)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers.get("Idempotency-Key", "")


@dataclass
class HttpReceiver:
    """A webhook receiver / SMS gateway: records every request it accepts; answers 200, or
    the status ``fail[path]`` while one is set (not recording the request)."""

    got: list[Received] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        me = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request (kill -9): not received
                    self.close_connection = True
                    return
                with me.lock:
                    status = me.fail.get(self.path, 200)
                    if status == 200:
                        me.got.append(Received(self.path, dict(self.headers), body))
                    else:
                        me.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.got if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Sink:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content)
        msg["X-Rcpt"] = ",".join(envelope.rcpt_tos)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1: every message received, parsed."""

    def __init__(self) -> None:
        self.sink = _Sink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self) -> list[Message]:
        with self.sink.lock:
            return list(self.sink.messages)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["X-Rcpt"].split(",")]

    def close(self) -> None:
        self.controller.stop()


def text_of(msg: Message) -> str:
    """The plain-text part of an email."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    return ""


def html_of(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    return ""
