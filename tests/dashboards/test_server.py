"""The dashboard server end to end: a real websockets client against a Dashboard consuming
real Kafka topics (the session broker; each test has its own topics)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from dashkit import (
    ENGINEER,
    LEADERSHIP,
    OPERATOR,
    T0,
    Producer,
    make_alert,
    make_incident,
    make_indicator,
    make_window,
    open_client,
    wait_for,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from dashboards.feed import Topics
from ioc.events import decode_command

pytestmark = pytest.mark.timeout(120)


def http_get(url: str, token: str | None = None) -> tuple[int, Message, bytes]:
    """Status, headers (names compare case-insensitively, as in HTTP) and body."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


async def get(url: str, token: str | None = None) -> tuple[int, Message, bytes]:
    return await asyncio.to_thread(http_get, url, token)


async def test_state_is_rebuilt_from_the_beginning_and_sent_as_a_snapshot(
        producer: Producer, start_dashboard: Any) -> None:
    """Records written before the dashboard started are in the first snapshot, applied by
    version: a resolved alert is gone, a newer version wins, a stale duplicate is ignored."""
    await producer.alerts([
        make_alert(1), make_alert(1, version=2, severity="critical", change="escalated"),
        make_alert(1, version=1),  # a duplicate of an older version, read later
        make_alert(2), make_alert(2, version=2, status="resolved", change="resolved"),
        make_incident(1)])
    await producer.indicators([make_indicator(end=T0), make_indicator(end=T0 + 60),
                               make_indicator(district="Son Tra")])
    d = await start_dashboard()
    assert d.state.knows_alert(make_alert(2).alert_id)
    c = await open_client(d, OPERATOR, name="Lan")
    welcome = await c.until("welcome")
    assert welcome["role"] == "operator" and welcome["user"] == "operator"  # name not recorded
    assert welcome["can_command"] is True and welcome["v"] == 1
    snap = await c.until("snapshot")
    assert snap["ready"] is True
    assert [(a["alert_id"], a["version"], a["severity"]) for a in snap["alerts"]] == [
        (make_alert(1).alert_id, 2, "critical")]
    assert [i["incident_id"] for i in snap["incidents"]] == ["inc:Hai Chau:1"]
    latest = {(i["district"], i["end"]) for i in snap["indicators"]}
    assert latest == {("Hai Chau", T0 + 60), ("Son Tra", T0)}
    await c.close()


async def test_snapshot_then_live_deltas_in_sequence(producer: Producer,
                                                     start_dashboard: Any) -> None:
    """After the snapshot, new records arrive as deltas with increasing seq; versions at or
    below the held one are not forwarded."""
    d = await start_dashboard()
    c = await open_client(d, OPERATOR)
    snap = await c.until("snapshot")
    assert snap["alerts"] == [] and snap["seq"] == 0
    await producer.alerts([make_alert(1), make_alert(1, version=2, change="updated"),
                           make_alert(1, version=2, change="updated")])
    await producer.indicators([make_indicator()])
    seen: list[dict[str, Any]] = []
    while len(seen) < 3:
        seen.append(await c.until("delta"))
    assert [f["kind"] for f in seen if f["kind"] == "alert"] == ["alert", "alert"]
    seqs = [f["seq"] for f in seen]
    assert seqs == sorted(seqs) and seqs[0] > snap["seq"]
    assert [f["data"]["version"] for f in seen if f["kind"] == "alert"] == [1, 2]
    # the duplicate version 2 is not forwarded: nothing else arrives
    with pytest.raises(asyncio.TimeoutError):
        await c.until("delta", timeout=1.0)
    await c.close()


async def test_stop_closes_every_websocket_with_1001_after_its_queue(
        start_dashboard: Any) -> None:
    """Shutdown (SIGTERM in `ioc dashboard`) closes each wall with 1001 "server shutting
    down" (docs/protocol.md), authenticated or not, and the port stops answering."""
    d = await start_dashboard()
    walls = [await open_client(d, OPERATOR), await open_client(d, LEADERSHIP)]
    for wall in walls:
        await wall.until("snapshot")
    pending = await open_client(d, send_auth=False)
    await wait_for(lambda: len(d.live.sessions) == 3, 10, "three sessions")
    await d.stop()
    for client in (*walls, pending):
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await client.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1001, "server shutting down")
    with pytest.raises(OSError):
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", d.port), 5)


async def test_bad_or_missing_token_is_rejected(start_dashboard: Any) -> None:
    """A wrong token in the first message gets an error frame and close 1008; a wrong
    Authorization header is refused with 401 at the upgrade; messages before auth are
    refused; no auth at all times out with 1008."""
    d = await start_dashboard()
    c = await open_client(d, "not-a-token")
    err = await c.recv()
    assert err["type"] == "error" and err["code"] == "unauthorized" and err["field"] == "token"
    with pytest.raises(ConnectionClosed) as closed:
        await c.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    c = await open_client(d, None)
    assert (await c.recv())["code"] == "unauthorized"

    c = await open_client(d, send_auth=False)
    await c.send({"type": "ping"})
    err = await c.recv()
    assert err["code"] == "unauthorized" and err["field"] == "type"

    with pytest.raises(InvalidStatus) as refused:
        await connect(d.ws_url, additional_headers={"Authorization": "Bearer nope"})
    assert refused.value.response.status_code == 401

    ws = await connect(d.ws_url, additional_headers={"Authorization": f"Bearer {ENGINEER}"})
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome" and welcome["role"] == "engineer"
    await ws.close()



async def test_no_auth_within_the_timeout_closes_1008(start_dashboard: Any) -> None:
    """A connection that never authenticates is closed with 1008."""
    d = await start_dashboard(auth_timeout_s=0.5)
    ws = await connect(d.ws_url)
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "timeout" in closed.value.rcvd.reason


async def test_origin_check(start_dashboard: Any) -> None:
    """A browser Origin other than the server's own host (or IOC_ALLOWED_ORIGINS) gets 403."""
    from dataclasses import replace

    from dashkit import SETTINGS
    d = await start_dashboard(settings=replace(SETTINGS,
                                               allowed_origins="https://wall.city.example"))
    with pytest.raises(InvalidStatus) as refused:
        await connect(d.ws_url, origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    for origin in (d.url, "https://wall.city.example"):
        ws = await connect(d.ws_url, origin=origin)  # type: ignore[arg-type]
        await ws.close()


async def test_leadership_cannot_send_commands_and_sees_no_sensor_health(
        producer: Producer, start_dashboard: Any, kafka_bootstrap: str,
        topic_names: Topics) -> None:
    """Commands from the leadership role are refused with `forbidden`; leadership never gets
    sensor_health alerts, the operator does."""
    health = make_alert(7, detector="stuck", category="sensor_health")
    await producer.alerts([make_alert(1), health])
    d = await start_dashboard()
    lead = await open_client(d, LEADERSHIP)
    snap = await lead.until("snapshot")
    assert [a["alert_id"] for a in snap["alerts"]] == [make_alert(1).alert_id]
    await lead.send({"type": "command", "ref": "x1", "action": "ack",
                     "alert_id": make_alert(1).alert_id})
    err = await lead.until("error")
    assert err["code"] == "forbidden" and err["ref"] == "x1"
    op = await open_client(d, OPERATOR)
    snap = await op.until("snapshot")
    assert {a["alert_id"] for a in snap["alerts"]} == {make_alert(1).alert_id,
                                                        health.alert_id}
    await lead.send({"type": "subscribe", "windows": True})
    assert (await lead.until("error"))["field"] == "windows"
    await lead.close()
    await op.close()


async def test_an_operator_ack_lands_on_the_commands_topic(
        producer: Producer, start_dashboard: Any, kafka_bootstrap: str,
        topic_names: Topics) -> None:
    """A valid ack is written to ioc.commands as a valid Command (user = the role, key =
    the alert's source) and answered `accepted` with its command_id; invalid commands get an
    error naming the field."""
    alert = make_alert(3)
    await producer.alerts([alert])
    d = await start_dashboard()
    c = await open_client(d, OPERATOR, name="Lan")
    await c.until("snapshot")
    await c.send({"type": "command", "ref": "c1", "action": "note", "alert_id": alert.alert_id})
    err = await c.until("error")
    assert (err["code"], err["field"], err["ref"]) == ("invalid_command", "text", "c1")
    await c.send({"type": "command", "ref": "c2", "action": "ack",
                  "alert_id": "robust_z:flooding:nope:rainfall"})
    err = await c.until("error")
    assert (err["code"], err["field"]) == ("invalid_command", "alert_id")
    await c.send({"type": "command", "ref": "c3", "action": "silence",
                  "matchers": {"group": "traffic", "colour": "red"}, "duration_s": 60})
    err = await c.until("error")
    assert (err["code"], err["field"]) == ("invalid_command", "matchers")

    await c.send({"type": "command", "ref": "c4", "action": "ack", "alert_id": alert.alert_id,
                  "reason": "crew dispatched"})
    ok = await c.until("accepted")
    assert ok["ref"] == "c4" and len(ok["command_id"]) == 32

    consumer = AIOKafkaConsumer(topic_names.commands, bootstrap_servers=kafka_bootstrap,
                                group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        messages = [m for ms in batch.values() for m in ms]
    finally:
        await consumer.stop()
    assert len(messages) == 1
    cmd = decode_command(messages[0].value or b"")
    assert cmd.command_id == ok["command_id"] and cmd.action == "ack"
    assert cmd.user == "operator" and cmd.alert_id == alert.alert_id  # "Lan" is not verified
    assert cmd.reason == "crew dispatched"
    assert messages[0].key == alert.source.encode()
    assert d.registry.get_sample_value("ioc_dashboard_commands_total", {"action": "ack"}) == 1
    await c.close()


async def test_malformed_frames_get_error_frames_and_the_server_survives(
        start_dashboard: Any) -> None:
    """Bad JSON, binary frames, unknown types and wrong field types each get an error frame;
    the connection stays usable; an oversized frame closes only that client with 1009."""
    d = await start_dashboard()
    c = await open_client(d, OPERATOR)
    await c.until("snapshot")
    cases: list[tuple[Any, str, str | None]] = [
        ("{not json", "bad_json", None), ("[1, 2]", "bad_json", None),
        ({"type": "subscribed"}, "bad_message", "type"),
        ({"type": "subscribe", "groups": "flooding"}, "bad_message", "groups"),
        ({"type": "subscribe", "groups": ["atlantis"]}, "bad_message", "groups"),
        ({"type": "ping", "extra": 1}, "bad_message", "extra"),
        ({"type": "command", "ref": "r", "action": "explode"}, "invalid_command", "action"),
    ]
    for payload, code, fieldname in cases:
        await c.send(payload)
        err = await c.until("error")
        assert (err["code"], err["field"]) == (code, fieldname), payload
    await c.ws.send(b"\x00\x01")
    assert (await c.until("error"))["code"] == "bad_json"
    await c.send({"type": "ping", "ref": "still-alive"})
    assert (await c.until("pong"))["ref"] == "still-alive"

    other = await open_client(d, OPERATOR)
    await other.until("snapshot")
    await c.send("x" * 70_000)
    with pytest.raises(ConnectionClosed) as closed:
        await c.until("never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await other.send({"type": "ping", "ref": "p"})
    assert (await other.until("pong"))["ref"] == "p"
    await other.close()


async def test_rate_limit_answers_errors_then_closes_abusers(start_dashboard: Any) -> None:
    """Messages over the token bucket get `rate_limited`; persistent abuse closes 1008."""
    d = await start_dashboard(hub_options={"rate_per_s": 1.0, "burst": 2.0,
                                           "abuse_limit": 5})
    c = await open_client(d, OPERATOR)
    await c.until("snapshot")
    for i in range(4):
        await c.send({"type": "ping", "ref": str(i)})
    kinds = [(await c.recv())["type"] for _ in range(4)]
    assert kinds.count("pong") == 2 and kinds.count("error") == 2
    for i in range(5):
        await c.send({"type": "ping", "ref": f"more{i}"})
    with pytest.raises(ConnectionClosed) as closed:
        await c.until("never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_resume_after_reconnect_and_resync_when_too_old(
        producer: Producer, start_dashboard: Any) -> None:
    """A client that reconnects with its last (epoch, seq) gets exactly the deltas it missed;
    one whose seq fell out of the resume buffer (or from another epoch) gets a resync and a
    snapshot."""
    d = await start_dashboard(hub_options={"resume_buffer": 5})
    c = await open_client(d, OPERATOR)
    snap = await c.until("snapshot")
    await producer.alerts([make_alert(1)])
    first = await c.until("delta")
    await c.close()

    await producer.alerts([make_alert(2), make_alert(3)])
    await wait_for(lambda: d.hub.seq >= first["seq"] + 2, 10, "two more deltas")
    c = await open_client(d, OPERATOR, resume={"epoch": snap["epoch"], "seq": first["seq"]})
    welcome = await c.until("welcome")
    assert welcome["resumed"] is True
    missed = [await c.until("delta"), await c.until("delta")]
    assert [m["data"]["alert_id"] for m in missed] == [make_alert(2).alert_id,
                                                       make_alert(3).alert_id]
    assert not any(f["type"] == "snapshot" for f in c.frames)
    await c.close()

    await producer.alerts([make_alert(n) for n in range(4, 12)])
    await wait_for(lambda: d.hub.seq >= first["seq"] + 10, 10, "eight more deltas")
    c = await open_client(d, OPERATOR, resume={"epoch": snap["epoch"], "seq": first["seq"]})
    assert (await c.until("welcome"))["resumed"] is False
    assert (await c.until("resync"))["reason"] == "too_old"
    snap2 = await c.until("snapshot")
    assert len(snap2["alerts"]) == 11 and snap2["seq"] == d.hub.seq
    await c.close()

    c = await open_client(d, OPERATOR, resume={"epoch": "other", "seq": 1})
    assert (await c.until("resync"))["reason"] == "epoch_changed"
    await c.close()


async def test_subscription_filters_by_group_district_and_severity(
        producer: Producer, start_dashboard: Any) -> None:
    """Only matching deltas arrive; an alert escalating out of the severity filter is sent
    once more so the client can drop it; windows only when asked."""
    d = await start_dashboard()
    c = await open_client(d, OPERATOR, subscribe={
        "groups": ["flooding"], "districts": ["Hai Chau"], "severities": ["major",
                                                                           "critical"]})
    await c.until("snapshot")
    w = await open_client(d, ENGINEER, subscribe={"windows": True})
    await w.until("snapshot")
    await producer.alerts([
        make_alert(1, group="traffic"), make_alert(2, district="Son Tra"),
        make_alert(3, severity="warning"), make_alert(4),
        make_alert(4, version=2, severity="warning", change="updated"),
        make_alert(4, version=3, severity="info", change="updated")])
    await producer.indicators([make_indicator(group="traffic", kpis={}), make_window()])
    got = []
    with pytest.raises(asyncio.TimeoutError):
        while True:
            got.append(await c.until("delta", timeout=2.0))
    assert [(g["data"]["alert_id"], g["data"]["version"]) for g in got] == [
        (make_alert(4).alert_id, 1), (make_alert(4).alert_id, 2)]
    window = await w.until("delta", where=lambda f: f["kind"] == "window")
    assert window["data"]["source"] == "rain-HC-01"
    await c.close()
    await w.close()


async def test_a_stalled_client_does_not_delay_others(
        producer: Producer, start_dashboard: Any) -> None:
    """With a client that never reads connected, a reading client still gets every alert
    delta promptly (p95 receipt latency bound), and the stalled client's queue stays bounded;
    the stalled client gets resynced (counted in metrics) rather than blocking fan-out."""
    d = await start_dashboard(hub_options={"queue_frames": 50})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no receive autotuning
    sock.connect(("127.0.0.1", d.port))
    stalled = await connect(d.ws_url, sock=sock, max_queue=1, max_size=None)
    await stalled.send(json.dumps({"type": "auth", "token": OPERATOR}))
    # more bytes than the server's socket buffers hold (4 MiB at most on Linux)
    n_alerts = 600
    await producer.alerts([make_alert(n, title="x" * 8000) for n in range(1, n_alerts + 1)])
    await wait_for(lambda: len(d.state.alerts) == n_alerts, 30, "the alerts to arrive")
    fast = await open_client(d, OPERATOR)
    await fast.until("snapshot", where=lambda f: len(f["alerts"]) == n_alerts, timeout=20)
    stalled_client = next(c for c in d.hub.clients.values() if c.id == 1)
    await wait_for(lambda: d.hub.stats.resyncs.get("lagging", 0) >= 1 or
                   stalled_client.closing, 20, "the stalled client to lag")

    latencies: list[float] = []
    for n in range(1000, 1060):
        sent_at = time.perf_counter()
        await producer.alerts([make_alert(n, title="y" * 8000)])
        frame = await fast.until("delta", where=lambda f, n=n: f["data"]["alert_id"] ==
                                 make_alert(n).alert_id)
        latencies.append(time.perf_counter() - sent_at)
        assert frame["kind"] == "alert"
        assert len(stalled_client.queue) <= 50 + 10
    latencies.sort()
    p95 = latencies[int(0.95 * len(latencies))]
    print(f"receipt latency with a stalled client: median {latencies[len(latencies) // 2]:.4f}"
          f" s, p95 {p95:.4f} s")
    assert p95 < 0.5, f"p95 receipt latency {p95:.3f} s with a stalled client connected"
    dropped = d.hub.stats.dropped
    assert dropped.get("resync", 0) + dropped.get("resync_pending", 0) > 0
    await fast.close()
    stalled.transport.abort()  # type: ignore[attr-defined]


async def test_http_endpoints(producer: Producer, start_dashboard: Any, tmp_path: Any) -> None:
    """/healthz, /metrics, /api/catalog, /api/summary, /api/history, /api/state and static
    pages with content types; no directory traversal; bearer required on the API."""
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "wall.html").write_text("<!doctype html><title>wall</title>")
    (static / "summary.html").write_text("<!doctype html><title>summary</title>")
    (static / "app.js").write_text("console.log(1)")
    (static / "css" / "wall.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("secret")
    await producer.alerts([make_alert(1, severity="critical"),
                           make_alert(2, version=1),
                           make_alert(2, version=2, status="acknowledged",
                                      change="acknowledged", updated_at=T0 + 120)])
    await producer.indicators([make_indicator(end=T0 - 600 * k) for k in range(5)])
    d = await start_dashboard(static_dir=static)

    status, headers, body = await get(f"{d.url}/healthz")
    assert status == 200 and json.loads(body)["ready"] is True
    status, headers, body = await get(f"{d.url}/", OPERATOR)  # pages: signed-in clients
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"wall" in body
    status, headers, body = await get(f"{d.url}/summary", OPERATOR)
    assert status == 200 and b"summary" in body
    status, headers, _ = await get(f"{d.url}/static/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    status, headers, _ = await get(f"{d.url}/static/css/wall.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    for bad in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/css/../../x",
                "/static/.hidden", "/static/", "/nope"):
        status, _, body = await get(f"{d.url}{bad}")
        assert status == 404, bad
        assert b"secret" not in body

    status, headers, body = await get(f"{d.url}/api/catalog")
    cat = json.loads(body)
    assert status == 200 and len(cat["groups"]) == 15 and len(cat["districts"]) == 8
    assert cat["groups"][0]["metrics"][0]["unit"] is not None

    assert (await get(f"{d.url}/api/summary"))[0] == 401
    assert (await get(f"{d.url}/api/summary", "wrong-token-x"))[0] == 401
    status, _, body = await get(f"{d.url}/api/summary", LEADERSHIP)
    summary = json.loads(body)
    assert summary["open_alerts"]["total"] == 2
    assert summary["open_alerts"]["by_severity"]["critical"] == 1
    assert summary["last_24h"]["acknowledged"] == 1 and summary["last_24h"]["mtta_s"] == 120
    assert summary["last_24h"]["noisiest_detectors"] == [{"detector": "robust_z",
                                                          "opened": 2}]
    status, _, body = await get(f"{d.url}/api/history?group=flooding&district=Hai%20Chau",
                                OPERATOR)
    hist = json.loads(body)
    assert status == 200 and len(hist["points"]) == 5 and hist["bucket_s"] == 300
    assert [p["t"] for p in hist["points"]] == sorted(p["t"] for p in hist["points"])
    assert (await get(f"{d.url}/api/history?group=atlantis", OPERATOR))[0] == 400
    status, _, body = await get(f"{d.url}/api/state", OPERATOR)
    assert status == 200 and json.loads(body)["type"] == "snapshot"

    status, headers, body = await get(f"{d.url}/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    for name in ("ioc_dashboard_clients", "ioc_dashboard_messages_sent_total",
                 "ioc_dashboard_messages_dropped_total", "ioc_dashboard_commands_total",
                 "ioc_dashboard_records_consumed_total", "ioc_dashboard_snapshot_bytes",
                 "ioc_dashboard_fanout_seconds"):
        assert name in text, name
    consumed = d.registry.get_sample_value("ioc_dashboard_records_consumed_total",
                                           {"topic": d.topics.alerts})
    assert consumed == 3


async def test_summary_frames_for_leadership(producer: Producer, start_dashboard: Any) -> None:
    """Leadership clients get `summary` frames when the state changes."""
    d = await start_dashboard(summary_every_s=0.2)
    lead = await open_client(d, LEADERSHIP)
    await lead.until("snapshot")
    await producer.alerts([make_alert(1, severity="critical")])
    summary = await lead.until("summary", where=lambda f: f["open_alerts"]["total"] == 1)
    assert summary["open_alerts"]["by_severity"]["critical"] == 1
    assert len(summary["groups"]) == 15
    await lead.close()


async def test_heartbeats_carry_epoch_and_seq(start_dashboard: Any) -> None:
    """Heartbeats arrive periodically with the current epoch and seq."""
    d = await start_dashboard(heartbeat_s=0.2, summary_every_s=0.1)
    c = await open_client(d, ENGINEER)
    snap = await c.until("snapshot")
    beat = await c.until("heartbeat", timeout=5)
    assert beat["epoch"] == snap["epoch"] and beat["seq"] == d.hub.seq and beat["ready"]
    await c.close()


def test_generated_tokens_when_unset() -> None:
    """Unset role tokens get random, distinct values; the wall URL carries the operator's."""
    from dashboards.server import Dashboard
    from ioc.settings import Settings
    d = Dashboard(Settings(), "127.0.0.1:1", port=0)
    t = d.tokens
    assert t.generated == frozenset({"operator", "leadership", "engineer"})
    assert len({t.operator, t.leadership, t.engineer}) == 3
    assert d.wall_url.endswith(f"/#token={t.operator}")
    assert t.role_of(t.leadership) == "leadership" and t.role_of("x") is None
