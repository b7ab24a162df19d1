"""Scope on a running dashboard (issue 12, items 4 and 7), with hand-made websocket commands
and HTTP requests, no browser: a Lien Chieu operator's snapshot, deltas, summary, live API,
archive search, alert history and reports hold Lien Chieu only; their commands and silences
outside it are refused with the ``forbidden`` error frame, counted, and never reach
``ioc.commands``; a group-scoped reader sees a city incident's members of its group only."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiokafka import AIOKafkaConsumer
from dashkit import (
    PASSWORD,
    SETTINGS,
    T0,
    Producer,
    accounts_db,
    make_alert,
    make_indicator,
    open_client,
    wait_for,
)
from test_signin import Browser, request
from websockets.asyncio.client import connect

from archive.access import Access
from archive.accounts import parse_scope
from archive.sample import add_alert_versions
from archive.store import Store
from dashboards.feed import Topics
from ioc.events import Command, Incident, decode_command

pytestmark = pytest.mark.timeout(120)
MINE = make_alert(1, district="Lien Chieu")
THEIRS = make_alert(2, district="Hai Chau")
MINE_TRAFFIC = make_alert(3, group="traffic", district="Lien Chieu", severity="warning")
DAY = "2026-11-20"
DAY_T = 1_795_107_600.0 + 3600  # 2026-11-20 01:00 in Da Nang


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = accounts_db(tmp_path, ("an", "An Le", "operator", "Lien Chieu"),
                      ("lan", "Lan Nguyen", "operator"))
    store = Store(url)
    for n, district in ((1, "Lien Chieu"), (2, "Hai Chau")):
        add_alert_versions(store, f"robust_z:flooding:arch-{n}:rainfall",
                           [("opened", DAY_T, None), ("acknowledged", DAY_T + 60, "operator")],
                           district=district)
    store.close()
    return url


async def start(start_dashboard: Any, db_url: str) -> Any:
    return await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=db_url))


async def signed_in(d: Any, login: str) -> Browser:
    b = Browser(d.url)
    assert (await b.sign_in(login, PASSWORD)).status == 303
    return b


async def ws_of(d: Any, b: Browser) -> Any:
    headers = {"Cookie": f"ioc_session={b.jar['ioc_session']}", "Origin": d.url}
    ws = await connect(d.ws_url, additional_headers=headers, open_timeout=10, max_size=None)
    await ws.send('{"type":"auth"}')
    return ws


async def frame_of(ws: Any, kind: str, where: Any = None) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame.get("type") == kind and (where is None or where(frame)):
            return frame


async def commands_written(bootstrap: str, topic: str) -> list[Command]:
    """Every command on ``topic`` (read to the end offsets), in time order."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    out: list[Command] = []
    try:
        await wait_for(lambda: bool(consumer.assignment()), 10, "the partitions")
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=500)
            out += [decode_command(m.value or b"") for ms in batch.values() for m in ms]
    finally:
        await consumer.stop()
    return sorted(out, key=lambda c: c.ts)


async def test_a_district_operator_sees_and_acts_on_their_district_only(
        start_dashboard: Any, db_url: str, producer: Producer, kafka_bootstrap: str,
        topic_names: Topics) -> None:
    await producer.alerts([MINE, THEIRS])
    d = await start(start_dashboard, db_url)
    await wait_for(lambda: len(d.state.alerts) == 2, 20, "the alerts")
    an = await ws_of(d, await signed_in(d, "an"))
    welcome = await frame_of(an, "welcome")
    assert welcome["scope"] == {"districts": ["Lien Chieu"], "groups": []}
    snap = await frame_of(an, "snapshot")
    assert [a["alert_id"] for a in snap["alerts"]] == [MINE.alert_id]

    later_theirs = make_alert(5, district="Hai Chau")
    await producer.alerts([later_theirs, MINE_TRAFFIC])
    delta = await frame_of(an, "delta")
    assert delta["data"]["alert_id"] == MINE_TRAFFIC.alert_id  # the Hai Chau one never came

    async def command(ref: str, **fields: Any) -> dict[str, Any]:
        await an.send(json.dumps({"type": "command", "ref": ref, **fields}))
        return await frame_of(an, "error", lambda f: f["ref"] == ref) if ref.startswith(
            "no") else await frame_of(an, "accepted", lambda f: f["ref"] == ref)

    refused = await command("no-1", action="ack", alert_id=THEIRS.alert_id)
    assert (refused["code"], refused["field"]) == ("forbidden", "alert_id")
    assert refused["reason"] == "outside your scope (districts Lien Chieu)"
    unknown = await command("no-2", action="ack", alert_id="robust_z:flooding:zz-9:rainfall")
    assert unknown["reason"] == refused["reason"]  # never says whether it exists
    for ref, matchers in (("no-3", {"district": "Hai Chau"}), ("no-4", {"group": "traffic"})):
        got = await command(ref, action="silence", matchers=matchers, duration_s=600)
        assert (got["code"], got["field"]) == ("forbidden", "matchers")
    await command("ok-1", action="ack", alert_id=MINE.alert_id, reason="crew sent")
    await command("ok-2", action="silence", matchers={"district": "Lien Chieu",
                                                       "group": "traffic"}, duration_s=600)
    written = await commands_written(kafka_bootstrap, topic_names.commands)
    assert [(c.action, c.user) for c in written] == [("ack", "operator:an"),
                                                     ("silence", "operator:an")]
    assert d.registry.get_sample_value("ioc_dashboard_commands_rejected_total",
                                       {"reason": "out_of_scope"}) == 4
    await an.close()

    lan = await ws_of(d, await signed_in(d, "lan"))  # a city operator still sees everything
    snap = await frame_of(lan, "snapshot")
    assert len(snap["alerts"]) == 4
    await lan.close()


async def test_the_live_api_holds_the_scope_only(start_dashboard: Any, db_url: str,
                                                producer: Producer) -> None:
    await producer.alerts([MINE, THEIRS])
    await producer.indicators([make_indicator(district="Lien Chieu", kpis={"max_depth": 4.0}),
                               make_indicator(district="Hai Chau", kpis={"max_depth": 40.0})])
    d = await start(start_dashboard, db_url)
    await wait_for(lambda: len(d.state.latest) == 2 and len(d.state.alerts) == 2, 20,
                   "the records")
    b = await signed_in(d, "an")
    state = json.loads((await b.go("GET", "/api/state")).body)
    assert [a["district"] for a in state["alerts"]] == ["Lien Chieu"]
    assert [i["district"] for i in state["indicators"]] == ["Lien Chieu"]
    summary = json.loads((await b.go("GET", "/api/summary")).body)
    assert summary["open_alerts"]["total"] == 1
    assert [x["district"] for x in summary["districts"]] == ["Lien Chieu"]
    flooding = next(g for g in summary["groups"] if g["group"] == "flooding")
    assert flooding["kpis"] == {"max_depth": 4.0}
    city_trend = json.loads((await b.go("GET", "/api/history?group=flooding")).body)
    assert [p["kpis"]["max_depth"] for p in city_trend["points"]] == [4.0]
    outside = await b.go("GET", "/api/history?group=flooding&district=Hai%20Chau")
    assert outside.status == 403 and json.loads(outside.body)["error"] == "district"
    assert d.registry.get_sample_value("ioc_dashboard_auth_refusals_total",
                                       {"reason": "out_of_scope"}) == 1


async def test_the_archive_holds_the_scope_only(start_dashboard: Any, db_url: str) -> None:
    d = await start(start_dashboard, db_url)
    b = await signed_in(d, "an")
    found = json.loads((await b.go("GET", "/api/history/alerts")).body)
    assert {r["district"] for r in found["alerts"]} == {"Lien Chieu"}
    assert (await b.go("GET", "/api/history/alerts?district=Hai%20Chau")).status == 403
    mine = await b.go("GET", "/api/history/alerts/" + quote(
        "robust_z:flooding:arch-1:rainfall", safe=""))
    assert mine.status == 200
    theirs = await b.go("GET", "/api/history/alerts/" + quote(
        "robust_z:flooding:arch-2:rainfall", safe=""))
    assert theirs.status == 404  # as if it did not exist
    report = json.loads((await b.go("GET", f"/api/reports?period=day&from={DAY}")).body)
    assert report["totals"]["opened"] == 1 and report["totals"]["acknowledged"] == 1
    assert [x["district"] for x in report["districts"]] == ["Lien Chieu"]
    assert report["filters"]["scope"] == {"districts": ["Lien Chieu"], "groups": []}
    csv = await b.go("GET", f"/api/reports.csv?period=day&from={DAY}")
    rows = [line.split(",")[:3] for line in csv.body.splitlines()]
    assert ["city", "all", "1"] in rows and not any(r[1] == "Hai Chau" for r in rows)
    assert (await b.go("GET", f"/api/reports?from={DAY}&district=Hai%20Chau")).status == 403
    city = await signed_in(d, "lan")
    everything = json.loads((await city.go("GET", f"/api/reports?period=day&from={DAY}")).body)
    assert everything["totals"]["opened"] == 2 and "scope" not in everything["filters"]


async def test_a_group_scoped_key_sees_a_city_incident_narrowed(
        start_dashboard: Any, db_url: str, producer: Producer) -> None:
    store = Store(db_url)
    _, secret = Access(store).add_key("flood-desk", "leadership", parse_scope("", "flooding"))
    store.close()
    members = [MINE, MINE_TRAFFIC]
    incident = Incident(incident_id="inc:LC:1", version=1, status="open",
                        district="Lien Chieu", groups=["flooding", "traffic"],
                        alert_ids=[a.alert_id for a in members], severity="major",
                        title="Lien Chieu: flooding + traffic", first_seen=T0, last_seen=T0,
                        updated_at=T0)
    await producer.alerts([*members, incident])
    d = await start(start_dashboard, db_url)
    await wait_for(lambda: len(d.state.incidents) == 1, 20, "the incident")
    c = await open_client(d, secret)
    snap = await c.until("snapshot")
    assert [a["group"] for a in snap["alerts"]] == ["flooding"]
    inc, = snap["incidents"]
    assert inc["groups"] == ["flooding"] and inc["alert_ids"] == [MINE.alert_id]
    assert inc["title"] == "Lien Chieu: flooding" and inc["severity"] == "major"
    await c.send({"type": "command", "ref": "x", "action": "ack", "alert_id": MINE.alert_id})
    refused = await c.until("error")
    assert "leadership role cannot send commands" in refused["reason"]  # read-only first
    await c.close()
    auth = {"Authorization": f"Bearer {secret}"}
    got = await asyncio.to_thread(request, d.url, "GET", "/api/state", headers=auth)
    assert json.loads(got.body)["incidents"][0]["groups"] == ["flooding"]
