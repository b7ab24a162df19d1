"""The dashboard's edge against the attacks of issue 9 (defects 6, 7, 9, 10, the dashboard's
``/healthz``, unregistered sources, and what each HTTP route gives without a token): a real
websockets client and raw sockets against a Dashboard reading real Kafka topics."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from typing import Any

import pytest
from dashkit import (
    ENGINEER,
    LEADERSHIP,
    OPERATOR,
    SETTINGS,
    T0,
    Producer,
    make_alert,
    make_indicator,
    make_window,
    open_client,
    wait_for,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from dashboards.server import SECURITY_HEADERS

pytestmark = pytest.mark.timeout(120)

DEEP = b"[" * 1000 + b"]" * 1000   # about 2 KB of nested arrays


async def raw_http(port: int, lines: list[str]) -> tuple[int, dict[str, str], bytes]:
    """Send one hand-written HTTP/1.1 request (headers exactly as given, duplicates too);
    return the status, the headers (lower-case names) and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
        return int(status_line.split()[1]), headers, body
    finally:
        writer.close()


def upgrade(path: str, host: str, *extra: str) -> list[str]:
    return [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
            "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13", *extra]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Tracebacks and errors the dashboard (or websockets under it) logged; the Kafka
    client's own complaints about fresh topics are not the subject here."""
    return [r.getMessage() for r in caplog.records if r.exc_info or (
        r.levelno >= logging.ERROR and not r.name.startswith("aiokafka"))]


# --- defect 6: deep nesting ----------------------------------------------------------------

async def test_deep_nesting_is_refused_with_a_protocol_error_and_one_log_line(
        start_dashboard: Any, caplog: pytest.LogCaptureFixture) -> None:
    """~2 KB of nested arrays, before auth and after: a `bad_json` error frame saying "too
    deep" (before auth then close 1008 as any failed auth, after auth the connection stays
    usable), one warning line each, no traceback, never close 1011."""
    caplog.set_level(logging.INFO)
    d = await start_dashboard()
    before = await open_client(d, send_auth=False)
    await before.ws.send((b'{"type":"auth","token":' + DEEP + b"}").decode())
    err = await before.recv()
    assert (err["type"], err["code"]) == ("error", "bad_json")
    assert err["reason"].startswith("too deep")
    with pytest.raises(ConnectionClosed) as closed:
        await before.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    after = await open_client(d, OPERATOR)
    await after.until("snapshot")
    for frame in (DEEP, b'{"type":"ping","ref":' + DEEP + b"}",
                  b'{"type":"command","action":"silence","matchers":' + DEEP + b"}"):
        await after.send(frame.decode())
        err = await after.until("error")
        assert err["code"] == "bad_json" and err["reason"].startswith("too deep"), frame[:30]
    await after.send({"type": "ping", "ref": "alive"})
    assert (await after.until("pong"))["ref"] == "alive"
    await after.close()

    lines = [r for r in caplog.records if "too deep" in r.getMessage()]
    assert len(lines) == 4 and all(r.levelno == logging.WARNING for r in lines)
    assert all(len(r.getMessage()) < 300 for r in lines)
    assert tracebacks(caplog) == []


# --- defect 7: duplicate headers -----------------------------------------------------------

@pytest.mark.parametrize("header", ["Authorization: Bearer {token}", "Origin: {origin}"])
async def test_a_duplicate_authorization_or_origin_header_gets_400(
        start_dashboard: Any, caplog: pytest.LogCaptureFixture, header: str) -> None:
    """Twice the same Authorization or Origin header: 400 on the websocket upgrade and on the
    API, no 500 and no traceback."""
    d = await start_dashboard()
    host = f"127.0.0.1:{d.port}"
    line = header.format(token=OPERATOR, origin=d.url)
    other = header.format(token=LEADERSHIP, origin="http://localhost:1")
    for request in (upgrade("/ws", host, line, other), upgrade("/ws", host, line, line),
                    ["GET /api/state HTTP/1.1", f"Host: {host}", line, other]):
        status, _, body = await raw_http(d.port, request)
        assert status == 400, request
        assert b"more than one" in body
    assert tracebacks(caplog) == []
    # one of each is fine
    status, _, _ = await raw_http(d.port, ["GET /api/state HTTP/1.1", f"Host: {host}",
                                           f"Authorization: Bearer {OPERATOR}",
                                           f"Origin: {d.url}"])
    assert status == 200


# --- defect 9: the rate-limit close --------------------------------------------------------

async def test_rate_limit_close_sends_every_queued_reply_and_the_error_first(
        start_dashboard: Any) -> None:
    """A burst of 120 pings with the default limits: every ping the server processed gets
    its pong, every refused one its `rate_limited` error, and the last frame before close
    1008 is the `rate_limited` error saying the connection is closed."""
    d = await start_dashboard()
    c = await open_client(d, OPERATOR)
    await c.until("snapshot")
    await asyncio.gather(*(c.send({"type": "ping", "ref": str(i)}) for i in range(120)))
    frames: list[dict[str, Any]] = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frame = await c.recv()
            if frame["type"] in ("pong", "error"):
                frames.append(frame)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    pongs = [f for f in frames if f["type"] == "pong"]
    errors = [f for f in frames if f["type"] == "error"]
    assert {e["code"] for e in errors} == {"rate_limited"}
    assert len(pongs) >= 40, f"{len(pongs)} pongs for a burst allowance of 40"
    assert [p["ref"] for p in pongs] == [str(i) for i in range(len(pongs))]
    assert len(errors) == 50  # 49 refusals, then the one that closes
    assert frames[-1]["type"] == "error" and "closing" in frames[-1]["reason"]
    await wait_for(lambda: d.registry.get_sample_value(
        "ioc_dashboard_disconnects_total", {"reason": "rate_limit"}) == 1, 10,
        "the disconnect to be counted as rate_limit")


# --- defect 10: origins and headers --------------------------------------------------------

async def test_origin_is_checked_against_the_bind_address_never_the_host_header(
        start_dashboard: Any) -> None:
    """DNS rebinding: `Host: evil.example:PORT` with the matching Origin is refused (403);
    the dashboard's own origins (bind address, localhost) and IOC_ALLOWED_ORIGINS pass."""
    d = await start_dashboard(settings=replace(SETTINGS,
                                               allowed_origins="https://wall.city.example"))
    evil = f"evil.example:{d.port}"
    status, _, _ = await raw_http(d.port, upgrade("/ws", evil, f"Origin: http://{evil}"))
    assert status == 403
    status, _, _ = await raw_http(d.port, upgrade("/ws", evil, "Origin: null"))
    assert status == 403
    status, _, _ = await raw_http(d.port, upgrade("/ws", f"127.0.0.1:{d.port}",
                                                  f"Origin: http://127.0.0.1:{d.port + 1}"))
    assert status == 403
    for origin in (d.url, f"http://localhost:{d.port}", "https://wall.city.example"):
        status, _, _ = await raw_http(d.port, upgrade("/ws", evil, f"Origin: {origin}"))
        assert status == 101, origin
    with pytest.raises(InvalidStatus) as refused:
        await connect(d.ws_url, origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403


async def test_every_http_answer_carries_the_security_headers(start_dashboard: Any) -> None:
    """Pages, assets, API, errors and websocket refusals all carry a strict CSP (no inline
    script or style, no framing), X-Frame-Options DENY, nosniff and no-referrer."""
    d = await start_dashboard()
    host = f"127.0.0.1:{d.port}"
    requests = [[f"GET {path} HTTP/1.1", f"Host: {host}"] for path in (
        "/", "/summary", "/static/wall.js", "/static/ioc.css", "/healthz", "/metrics",
        "/api/catalog", "/api/state", "/nope", "/static/../x")]
    requests += [["POST / HTTP/1.1", f"Host: {host}", "Content-Length: 0"],
                 upgrade("/ws", host, "Origin: http://evil.example"),
                 upgrade("/ws", host, "Origin: http://a", "Origin: http://b"),
                 upgrade("/nope", host),  # no websocket there: 403
                 ["GET /healthz HTTP/1.1", f"Host: {host}", f"Host: {host}"],  # 400
                 ["GET /ws HTTP/1.1", f"Host: {host}", "Upgrade: websocket",  # no key:
                  "Connection: Upgrade", "Sec-WebSocket-Version: 13"],  # websockets' 400
                 ["GET /ws HTTP/1.1", f"Host: {host}"]]  # no upgrade: 426
    statuses = set()
    for request in requests:
        status, headers, _ = await raw_http(d.port, request)
        statuses.add(status)
        for name, value in SECURITY_HEADERS:
            assert headers.get(name.lower()) == value, (request[0], name)
        csp = headers["content-security-policy"]
        assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert {200, 400, 401, 403, 404, 405, 426} <= statuses


# --- /healthz and stale data ----------------------------------------------------------------

async def get_json(url: str) -> tuple[int, dict[str, Any]]:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    status, _, body = await raw_http(port, ["GET /healthz HTTP/1.1",
                                            f"Host: 127.0.0.1:{port}"])
    return status, json.loads(body)


async def test_healthz_degraded_while_indicators_stop_and_ok_when_they_resume(
        producer: Producer, start_dashboard: Any) -> None:
    """Connected, but no indicator for longer than IOC_DASHBOARD_STALE_AFTER_S: `/healthz`
    answers 200 `degraded` with the reason; a new indicator makes it `ok` again; heartbeats
    carry how old the newest indicator is."""
    await producer.indicators([make_indicator(end=T0)])
    d = await start_dashboard(settings=replace(SETTINGS, dashboard_stale_after_s=3.0),
                              heartbeat_s=0.2, summary_every_s=0.1)
    c = await open_client(d, OPERATOR)
    snap = await c.until("snapshot")
    assert snap["stale_after_s"] == 3.0 and snap["indicators_age_s"] >= 0.0
    health: dict[str, Any] = {}

    async def degraded() -> bool:
        nonlocal health
        status, health = await get_json(d.url)
        return status == 200 and health["status"] == "degraded"

    await until_async(degraded, 15, "healthz to say degraded")
    assert any("no indicator" in r and d.topics.indicators in r for r in health["reasons"])
    assert health["indicators_age_s"] >= 3.0 and health["ready"] is True
    beat = await c.until("heartbeat", where=lambda f: f["indicators_age_s"] >= 3.0)
    assert beat["stale_after_s"] == 3.0

    await producer.indicators([make_indicator(end=T0 + 60)])

    async def ok() -> bool:
        nonlocal health
        status, health = await get_json(d.url)
        return status == 200 and health["status"] == "ok"

    await until_async(ok, 15, "healthz to say ok again")
    assert health["reasons"] == []
    status, _, body = await raw_http(d.port, ["GET /metrics HTTP/1.1",
                                              f"Host: 127.0.0.1:{d.port}"])
    assert status == 200 and b"ioc_dashboard_indicator_age_seconds " in body
    await c.until("heartbeat", where=lambda f: f["indicators_age_s"] < 3.0)
    await c.close()


async def until_async(check: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


# --- unregistered sources (defect 11, the engineers' view) ----------------------------------

async def test_engineers_see_unregistered_sources_and_no_one_else_does(
        producer: Producer, start_dashboard: Any) -> None:
    """Window summaries of sources the catalog does not list show up for engineers (in the
    snapshot and as `unregistered` frames, per group with their ids); operators and
    leadership never get them; a catalog source is never listed."""
    await producer.indicators([make_window("rain-HC-01"), make_window("rain-ZZ-01")])
    d = await start_dashboard(summary_every_s=0.1)
    eng = await open_client(d, ENGINEER)
    snap = await eng.until("snapshot")
    assert snap["unregistered"] == {"total": 1, "groups": [
        {"group": "flooding", "count": 1, "more": False, "sources": ["rain-ZZ-01"]}]}
    others = [await open_client(d, OPERATOR), await open_client(d, LEADERSHIP)]
    for other in others:
        assert "unregistered" not in await other.until("snapshot")

    await producer.indicators([make_window("rain-ZZ-02", end=T0 + 60),
                               make_window("rain-ST-01", end=T0 + 60)])
    frame = await eng.until("unregistered", where=lambda f: f["total"] == 2)
    assert frame["groups"][0]["sources"] == ["rain-ZZ-02", "rain-ZZ-01"]
    d._sync_counters()
    assert d.registry.get_sample_value("ioc_dashboard_unregistered_sources",
                                       {"group": "flooding"}) == 2
    await producer.alerts([make_alert(1)])  # something every role gets, to flush the queues
    for other in others:
        await other.until("delta")
        assert not any(f["type"] == "unregistered" for f in other.frames)
        await other.close()
    await eng.close()


# --- what each HTTP route gives without a token --------------------------------------------

async def test_no_route_gives_alert_content_without_a_token(
        producer: Producer, start_dashboard: Any) -> None:
    """Without a token: pages, assets, the catalog, /healthz and /metrics answer, and none of
    them carries an alert's id, title, source or evidence; the API answers 401."""
    secret = make_alert(1, title="SECRET-TITLE-7f3a", category="sensor_health")
    await producer.alerts([secret])
    await producer.indicators([make_window("rain-ZZ-09")])
    d = await start_dashboard()
    host = f"127.0.0.1:{d.port}"
    for path in ("/", "/summary", "/static/wall.js", "/static/common.js", "/api/catalog",
                 "/healthz", "/metrics"):
        status, _, body = await raw_http(d.port, [f"GET {path} HTTP/1.1", f"Host: {host}"])
        assert status in (200, 303, 503), path  # 303: a page sends to the login page
        for leak in (b"SECRET-TITLE", secret.alert_id.encode(), secret.source.encode(),
                     b"rain-ZZ-09"):
            assert leak not in body, (path, leak)
    for path in ("/api/state", "/api/summary", "/api/history?group=flooding"):
        status, _, _ = await raw_http(d.port, [f"GET {path} HTTP/1.1", f"Host: {host}"])
        assert status == 401, path
