"""Sending one delivery: email over SMTP (STARTTLS, SSL and auth), a webhook (Alertmanager's
payload, HMAC-SHA256 signed) and SMS through an HTTP gateway described in the config. Each
returns an :class:`~notify.outbox.Outcome`: ``ok``, ``temporary`` (connection errors, 408,
429, 5xx, SMTP 4xx: retried) or ``permanent`` (other 4xx, SMTP 5xx: recorded, not retried).

>>> sign(b'{"a":1}', "s3cret")
'sha256=5910e62016ef5034272c926c27071992a465c2335cecf41851bda071577f4f6d'
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import mailbox
import smtplib
import ssl
import threading
import urllib.parse
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from notify.config import Config
from notify.outbox import Outcome, Row

__all__ = ["Sender", "sign"]

SIGNATURE_HEADER = "X-IOC-Signature"


def sign(body: bytes, secret: str) -> str:
    """The ``X-IOC-Signature`` header value: ``sha256=`` HMAC of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _http_outcome(status: int, text: str) -> Outcome:
    if 200 <= status < 300:
        return Outcome("ok")
    reason = f"HTTP {status}: {text[:200]}"
    if status in (408, 425, 429) or status >= 500:
        return Outcome("temporary", reason)
    return Outcome("permanent", reason)


class _Connections(threading.local):
    """Keep-alive HTTP connections, one per thread and origin."""

    def __init__(self) -> None:
        self.held: dict[tuple[str, str, int], http.client.HTTPConnection] = {}


class Sender:
    """Sends claimed rows with the transports of ``config``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._conns = _Connections()

    def send(self, row: Row) -> Outcome:
        try:
            if row.channel == "email":
                return self._email(row)
            if row.channel == "webhook":
                return self._webhook(row)
            if row.channel == "sms":
                return self._sms(row)
            return Outcome("permanent", f"unknown channel {row.channel!r}")
        except (OSError, http.client.HTTPException, smtplib.SMTPException) as exc:
            return Outcome("temporary", f"{type(exc).__name__}: {exc}"[:300])

    # --- HTTP ------------------------------------------------------------------------------
    def _post(self, url: str, body: bytes, headers: dict[str, str], *, method: str = "POST",
              timeout: float) -> Outcome:
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            return Outcome("permanent", f"not an http(s) URL: {url!r}")
        port = u.port or (443 if u.scheme == "https" else 80)
        origin = (u.scheme, u.hostname, port)
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        for attempt in (1, 2):  # a kept-alive connection the server closed: once more, fresh
            conn = self._conns.held.get(origin)
            if conn is None:
                cls = http.client.HTTPSConnection if u.scheme == "https" else \
                    http.client.HTTPConnection
                conn = cls(u.hostname, port, timeout=timeout)
                self._conns.held[origin] = conn
            try:
                conn.request(method, path, body=body if method != "GET" else None,
                             headers=headers)
                resp = conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                if resp.will_close:
                    conn.close()
                    self._conns.held.pop(origin, None)
                return _http_outcome(resp.status, text)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                self._conns.held.pop(origin, None)
                if attempt == 2:
                    raise
            except (OSError, http.client.HTTPException):
                conn.close()
                self._conns.held.pop(origin, None)
                raise
        raise AssertionError("unreachable")

    def _webhook(self, row: Row) -> Outcome:
        receiver = self.config.receivers.get(row.receiver)
        body = row.body
        headers = {"Content-Type": "application/json", "Idempotency-Key": row.key,
                   "User-Agent": "ioc-monitor-notify"}
        if receiver is not None and receiver.webhook_secret:
            headers[SIGNATURE_HEADER] = sign(body, receiver.webhook_secret)
        return self._post(row.address, body, headers, timeout=self.config.webhook_timeout)

    def _sms(self, row: Row) -> Outcome:
        gw = self.config.sms
        if not gw.url:
            return Outcome("permanent", "no [sms] gateway url in the config")
        text = row.message["text"]
        json_body = "json" in gw.content_type

        def fill(template: str, escape: Any) -> str:
            return template.replace("{to}", escape(row.address)).replace(
                "{text}", escape(text)).replace("{key}", escape(row.key))

        url = fill(gw.url, urllib.parse.quote)
        body = fill(gw.body, (lambda s: json.dumps(s)[1:-1]) if json_body
                    else urllib.parse.quote_plus).encode()
        headers = {"Content-Type": gw.content_type, "Idempotency-Key": row.key,
                   **gw.headers}
        return self._post(url, body, headers, method=gw.method, timeout=gw.timeout)

    # --- SMTP ------------------------------------------------------------------------------
    def _email(self, row: Row) -> Outcome:
        s = self.config.smtp
        m = row.message
        msg = EmailMessage()
        msg["From"] = s.sender
        msg["To"] = row.address
        msg["Subject"] = m["subject"]
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{row.key}@ioc-monitor>"
        msg["X-IOC-Idempotency-Key"] = row.key
        msg.set_content(m["text"])
        if m.get("html"):
            msg.add_alternative(m["html"], subtype="html")
        if s.mbox:
            return self._mbox(msg)
        try:
            if s.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with client:
                if s.starttls and not s.ssl:
                    client.starttls(context=ssl.create_default_context())
                if s.username:
                    client.login(s.username, s.password)
                client.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            return Outcome("permanent" if code >= 500 else "temporary",
                           f"recipient refused: {exc.recipients}"[:300])
        except smtplib.SMTPResponseException as exc:
            return Outcome("permanent" if exc.smtp_code >= 500 else "temporary",
                           f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:300])
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            return Outcome("temporary", f"{type(exc).__name__}: {exc}"[:300])
        return Outcome("ok")

    _mbox_lock = threading.Lock()

    def _mbox(self, msg: EmailMessage) -> Outcome:
        """Append to the local mailbox file ``[smtp] mbox`` (``mutt -f FILE`` reads it)."""
        with self._mbox_lock:
            box = mailbox.mbox(self.config.smtp.mbox)
            try:
                box.lock()
                box.add(msg)
                box.flush()
            finally:
                box.unlock()
                box.close()
        return Outcome("ok")
