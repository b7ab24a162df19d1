"""The agents with Faust's ``test_context()``: events in, records queued for Kafka out (no
broker; the publisher's queue is inspected instead of being sent)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest

from ioc.events import (
    Alert,
    Command,
    DeadLetter,
    Evidence,
    GroupIndicator,
    Incident,
    WindowSummaries,
    encode,
)
from ioc.settings import Settings
from streams.agents import WorkerApp
from streams.handlers import decode_parts
from streams.indicators import IndicatorPart

T0 = 1_795_410_000.0


@pytest.fixture
async def worker() -> AsyncIterator[tuple[WorkerApp, list[tuple[str, bytes, bytes]]]]:
    """A WorkerApp that never talks to Kafka: published records land in a list."""
    w = WorkerApp(Settings(kafka_bootstrap="127.0.0.1:9", app_id=f"t-{uuid.uuid4().hex[:8]}",
                           allowed_lateness_s=0.0, resolve_after_windows=2,
                           events_client="faust"),
                  checkpoint_s=3600.0)
    sent: list[tuple[str, bytes, bytes]] = []

    async def flush_out() -> int:
        n = 0
        for topic, records in w.publisher.queue.items():
            sent.extend((topic, k, v) for k, v in records)
            n += len(records)
        for (topic, _p), recs in w.publisher.placed.items():
            sent.extend((topic, k, v or b"") for k, v in recs)
            n += len(recs)
        w.publisher.queue.clear()
        w.publisher.placed.clear()
        return n

    w.publisher.flush_out = flush_out  # type: ignore[method-assign]
    w.ready = True
    yield w, sent


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = check()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def agent(w: WorkerApp, name: str) -> Any:
    return next(a for a in w.app.agents.values() if a.name == name)


def reading(minute: int, second: int, value: float, source: str = "flood-HC-01") -> dict:
    return {"group": "flooding", "source": source, "metric": "flood_depth", "value": value,
            "ts": T0 + 60 * minute + second, "district": "Hai Chau"}


async def test_events_agent_windows_packs_and_dead_letters_the_rest(worker: Any) -> None:
    w, sent = worker
    async with agent(w, "events").test_context() as a:
        a._get_strtopic = lambda channel: "ioc.flooding.events"
        for m in range(3):
            await a.put(encode([reading(m, s, 4.0 + s / 100) for s in (5, 25, 45)]),
                        key=b"flood-HC-01")
        await a.put(b"{not json", key=b"flood-HC-01")
        summaries = await until(lambda: [
            s for t, _, v in sent if t == "ioc.indicators"
            for s in msgspec.json.decode(v, type=WindowSummaries).rows()])
        dead = await until(lambda: [msgspec.json.decode(v, type=DeadLetter)
                                    for t, _, v in sent if t == "ioc.deadletter"])
    assert [(s.source, s.start, s.count) for s in summaries[:2]] == [
        ("flood-HC-01", T0, 3), ("flood-HC-01", T0 + 60, 3)]
    assert (dead[0].topic, dead[0].offset, dead[0].raw) == ("ioc.flooding.events", 3,
                                                            b"{not json")
    assert w.registry.get_sample_value("ioc_worker_deadletter_total",
                                       {"group": "flooding", "reason_class": "malformed"}) == 1
    assert len(w.pending[("flooding", 0)]) == 4  # not acknowledged before a checkpoint
    # each closed window's share of the district indicators is counted as sent
    parts = [p for t, _, v in sent if t == w.topics.parts.get_topic_name()
             for p in decode_parts(v) or []]
    assert parts and w.registry.get_sample_value("ioc_worker_indicator_parts_total",
                                                 {"stage": "sent"}) == len(parts)


def alert(group: str, source: str, metric: str, t: float, version: int = 1) -> Alert:
    ev = Evidence(window_start=t - 60, window_end=t, value=1.0, baseline=0.0, threshold=None,
                  score=1.0, raw=1.0, detector="robust_z", detector_version="1", params={},
                  recent=[])
    return Alert(alert_id=f"robust_z:{group}:{source}:{metric}", version=version,
                 status="firing", severity="warning", category="city", group=group,
                 district="Hai Chau", source=source, metric=metric, detector="robust_z",
                 title="t", first_seen=t, last_seen=t, count=1, updated_at=t, change="opened",
                 evidence=ev)


async def test_incidents_agent_links_two_groups_in_a_district(worker: Any) -> None:
    w, sent = worker
    async with agent(w, "incidents").test_context() as a:
        await a.put(encode(alert("flooding", "rain-HC-01", "rainfall", T0)), key=b"Hai Chau")
        await a.put(encode(alert("traffic", "trf-HC-01", "speed", T0 + 120)), key=b"Hai Chau")
        incidents = await until(lambda: [
            msgspec.json.decode(v, type=Incident) for t, _, v in sent
            if t == "ioc.alerts" and b'"incident"' in v])
    inc = incidents[0]
    assert inc.groups == ["flooding", "traffic"] and len(inc.alert_ids) == 2
    assert [k for t, k, _ in sent if t == "ioc.alerts"] == [b"Hai Chau"]


async def test_indicators_agent_merges_parts(worker: Any) -> None:
    w, sent = worker

    def part(p: int, start: float, n: int) -> bytes:
        return encode(IndicatorPart(group="flooding", district="Hai Chau", partition=p,
                                    start=start, end=start + 60, reporting=n, in_breach=0,
                                    open_alerts={}, kpis={"max_rain": [float(n)]}))

    async with agent(w, "indicators").test_context() as a:
        await a.put(part(0, T0, 1), key=b"flooding:Hai Chau")
        # a pack: a step's parts of one key in one message
        await a.put(b"[" + part(1, T0, 2) + b"," + part(0, T0 + 60, 1) + b"]",
                    key=b"flooding:Hai Chau")
        got = await until(lambda: [msgspec.json.decode(v, type=GroupIndicator)
                                   for t, _, v in sent if t == "ioc.indicators"])
    assert (got[0].start, got[0].sources_reporting, got[0].kpis) == (T0, 3, {"max_rain": 2.0})
    assert next(k for t, k, _ in sent if t == "ioc.indicators") == b"flooding:Hai Chau"
    # all three taken in (counted once their batch's records were handed over)
    assert await until(lambda: w.registry.get_sample_value(
        "ioc_worker_indicator_parts_total", {"stage": "merged"}) == 3)


async def test_commands_agent_refuses_unknown_alerts_and_bad_commands(worker: Any) -> None:
    w, sent = worker
    cmd = Command(command_id="c1", action="ack", user="lan", ts=T0,
                  alert_id="robust_z:flooding:flood-HC-01:flood_depth")
    async with agent(w, "commands").test_context() as a:
        await a.put(encode(cmd), key=b"flood-HC-01")
        await a.put(b'{"action":"ack"}', key=b"flood-HC-01")
        dead = await until(lambda: len([1 for t, _, _ in sent if t == "ioc.deadletter"]) == 2
                           and [msgspec.json.decode(v, type=DeadLetter) for t, _, v in sent
                                if t == "ioc.deadletter"])
    assert "no alert" in dead[0].reason
    assert dead[1].field.endswith("command_id") or "required" in dead[1].reason


async def test_commands_agent_acknowledges_an_alert_it_holds(worker: Any) -> None:
    w, sent = worker
    # an open alert in the book, as a window close would have left it
    async with agent(w, "events").test_context() as ev:
        ev._get_strtopic = lambda channel: "ioc.flooding.events"
        for m in range(30):
            await ev.put(encode([reading(m, s, 4.0 + (m % 3) / 10 + s / 100)
                                 for s in (5, 25, 45)]))
        await ev.put(encode([reading(30, s, 60.0 + s / 10) for s in (5, 25, 45)]))
        await ev.put(encode([reading(31, 5, 4.0)]))
        opened = await until(lambda: [msgspec.json.decode(v, type=Alert) for t, _, v in sent
                                      if t == "ioc.alerts" and b'"opened"' in v])
    aid = opened[0].alert_id
    cmd = Command(command_id="c2", action="ack", user="lan", ts=T0 + 1900, alert_id=aid,
                  reason="crew sent")
    async with agent(w, "commands").test_context() as a:
        await a.put(encode(cmd), key=b"flood-HC-01")
        acked = await until(lambda: [msgspec.json.decode(v, type=Alert) for t, _, v in sent
                                     if t == "ioc.alerts" and b'"acknowledged"' in v])
    assert (acked[0].alert_id, acked[0].user, acked[0].reason) == (aid, "lan", "crew sent")
    before = [msgspec.json.decode(v, type=Alert) for t, _, v in sent
              if t == "ioc.alerts" and b'"acknowledged"' not in v]
    assert acked[0].version == max(x.version for x in before if x.alert_id == aid) + 1
    # the lane lives on the partition its readings arrived on: its writes go there
    assert w.book.partition_of(aid) == 0
    assert w.pipeline.open_alerts[aid][3] == 0


def test_ioc_worker_without_a_broker_is_a_one_line_usage_error(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from ioc.cli import main

    monkeypatch.delenv("IOC_KAFKA_BOOTSTRAP", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["worker"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Kafka broker" in err[0]


def test_ioc_worker_refuses_a_bad_topic_prefix(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from ioc.cli import main

    monkeypatch.setenv("IOC_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    with pytest.raises(SystemExit) as exit_:
        main(["worker", "--topic-prefix", "no spaces"])
    assert exit_.value.code == 2
    assert "topic prefix" in capsys.readouterr().err


def test_ioc_worker_refuses_the_librdkafka_reader_with_exactly_once_before_any_broker(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from ioc.cli import main

    monkeypatch.setenv("IOC_KAFKA_BOOTSTRAP", "127.0.0.1:9")  # nobody listens there
    monkeypatch.setenv("IOC_PROCESSING_GUARANTEE", "exactly_once")
    monkeypatch.setenv("IOC_EVENTS_CLIENT", "librdkafka")
    with pytest.raises(SystemExit) as exit_:
        main(["worker"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert "IOC_EVENTS_CLIENT=librdkafka cannot run with IOC_PROCESSING_GUARANTEE" in err


def test_health_of_a_port_nobody_listens_on_is_none() -> None:
    from ioc.errors import BrokerError
    from ioc.kafka.broker import free_port
    from streams.worker import health, wait_ready

    port = free_port()
    assert health(port, timeout=0.2) is None
    with pytest.raises(BrokerError, match="not ready within"):
        wait_ready(port, timeout=0.3)


async def test_the_checkpoint_interval_comes_from_the_settings() -> None:
    w = WorkerApp(Settings(kafka_bootstrap="127.0.0.1:9", app_id=f"t-{uuid.uuid4().hex[:8]}",
                           checkpoint_interval_s=0.25))
    assert w.checkpoint_s == 0.25


async def test_events_agent_dead_letters_future_late_and_jumping_readings(worker: Any) -> None:
    w, sent = worker
    w.pipeline.partitions.max_jump_s = 3600.0
    async with agent(w, "events").test_context() as a:
        a._get_strtopic = lambda channel: "ioc.flooding.events"
        for m in range(3):
            await a.put(encode([reading(m, s, 4.0) for s in (5, 25, 45)]), key=b"flood-HC-01")
        await a.put(encode(reading(0, 10, 4.5)), key=b"flood-HC-01")  # its window closed
        await a.put(encode(reading(60 * 24 * 2, 0, 4.0)), key=b"flood-HC-01")  # 2 days on
        far = reading(0, 0, 4.0) | {"ts": 4_000_000_000.0}  # 2096
        await a.put(encode(far), key=b"flood-HC-01")
        dead = await until(lambda: len(found := [msgspec.json.decode(v, type=DeadLetter)
                                                 for t, _, v in sent
                                                 if t == "ioc.deadletter"]) >= 3 and found)
    by_reason = {d.reason.split(":")[0].split(" ")[0]: d for d in dead}
    assert set(by_reason) == {"late", "clock", "dated"}
    assert msgspec.json.decode(by_reason["late"].raw)["value"] == 4.5
    assert by_reason["late"].offset == 3 and by_reason["clock"].offset == 4
    assert by_reason["dated"].raw == encode(far)
    counts = {cls: w.registry.get_sample_value(
        "ioc_worker_deadletter_total", {"group": "flooding", "reason_class": cls})
        for cls in ("late", "clock_jump", "future")}
    assert counts == {"late": 1.0, "clock_jump": 1.0, "future": 1.0}
    assert w.health.time_refused == 3 and w.health.seen == 12
    assert w.pipeline.state("flooding", 0).windows.clock == T0 + 2 * 60 + 45
