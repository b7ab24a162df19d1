"""The plain objects the worker's agents hand their work to, tested without a running Faust:
acknowledgement bookkeeping and checkpoints, the events intake, side inputs, the timer's tick,
rebalance and recovery, and the web pages."""

from __future__ import annotations

import math
import uuid
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry

from ioc.events import Alert, Command, DeadLetter, Evidence, GroupIndicator, Incident, encode
from ioc.settings import Settings
from streams.acks import NEVER_OPEN, AckLedger, Checkpointer
from streams.app import create_app
from streams.deadletters import DeadLetterSink
from streams.handlers import SideInputs, decode_alert_record, decode_parts
from streams.health import HealthWatch, WorkerStatus
from streams.incidents import IncidentLinker
from streams.indicators import PARTS_PACK, IndicatorMerger, IndicatorPart
from streams.intake import EventIntake
from streams.lifecycle import AlertBook, Verdict
from streams.metrics import WorkerMetrics
from streams.pipeline import Pipeline
from streams.publish import BatchPublisher, Outbox
from streams.reader import EventsReader, InputOffsets, ReaderFeed
from streams.rebalance import Rebalancer
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook
from streams.tables import PartitionedStore, WorkerTables
from streams.ticker import Ticker
from streams.topics import TopicNames
from streams.web import WorkerPages

T0 = 1_795_410_000.0
RUNTIME = DetectorRuntime.build()
TOPIC = "ioc.flooding.events"


class CapturingPublisher(BatchPublisher):
    """A publisher whose flush hands records to a list instead of a producer."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.out: list[tuple[str, bytes, bytes | None]] = []
        self.flushes = 0

    async def flush_out(self) -> int:
        self.flushes += 1
        recs = [(t, k, v) for t, rs in self.queue.items() for k, v in rs]
        recs += [(t, k, v) for (t, _p), rs in self.placed.items() for k, v in rs]
        self.queue, self.placed = {}, {}
        self.out += recs
        return len(recs)

    def records(self, topic: str) -> list[bytes]:
        return [v or b"" for t, _k, v in self.out if t == topic]


class Rig:
    """The worker's objects as WorkerApp wires them, without its agents."""

    def __init__(self) -> None:
        settings = Settings(kafka_bootstrap="127.0.0.1:9", app_id=f"t-{uuid.uuid4().hex[:8]}",
                            partitions=4, allowed_lateness_s=0.0, resolve_after_windows=2)
        self.app = create_app(settings)
        self.tables = WorkerTables(self.app, 4)
        self.names = TopicNames()
        self.registry = CollectorRegistry()
        self.metrics = WorkerMetrics(self.registry)
        self.publisher = CapturingPublisher(self.app)
        self.health = HealthWatch()
        self.status = WorkerStatus()
        self.book = AlertBook(PartitionedStore(self.tables.alerts, publisher=self.publisher),
                              partitions=4, resolve_after=2)
        self.pipeline = Pipeline(RUNTIME, self.book, SilenceBook({}), lateness=0.0,
                                 metrics=self.metrics)
        self.series = PartitionedStore(self.tables.series, publisher=self.publisher,
                                       keep_local=False)
        self.ledger = AckLedger()
        self.outbox = Outbox(self.publisher, self.names, "parts", self.pipeline.take_output)
        self.dead = DeadLetterSink(self.publisher, self.names.deadletter, self.metrics,
                                   self.health)
        self.acked: list[Any] = []
        self.checkpoints = Checkpointer(self.pipeline, self.ledger, self.series, self.metrics,
                                        flush=self.publisher.flush_out, ack=self.acked.append,
                                        interval_s=3600.0)
        self.intake = EventIntake(self.pipeline, self.names, self.dead, self.health,
                                  self.ledger, max_future_s=3600.0, generation=lambda: 1)
        self.linker = IncidentLinker.from_settings({}, settings)
        self.inputs = SideInputs(self.pipeline, self.linker, IndicatorMerger({}), self.outbox,
                                 self.dead)
        self.assignment: set[TP] = set()
        self.rebalance = Rebalancer(pipeline=self.pipeline, book=self.book,
                                    series_store=self.series, ledger=self.ledger,
                                    status=self.status,
                                    events_topics=self.names.all_events(),
                                    assignment=lambda: self.assignment)


def event(value: bytes, offset: int, partition: int = 0, generation: int = 1) -> Any:
    msg = SimpleNamespace(topic=TOPIC, partition=partition, offset=offset,
                          generation_id=generation, value=value)
    return SimpleNamespace(message=msg, value=value)


def reading(minute: int, second: int, value: float, source: str = "flood-HC-01") -> dict:
    return {"group": "flooding", "source": source, "metric": "flood_depth", "value": value,
            "ts": T0 + 60 * minute + second, "district": "Hai Chau"}


def minutes(n: int, partition: int = 0) -> list[Any]:
    return [event(encode([reading(m, s, 4.0 + s / 100) for s in (5, 25, 45)]), m, partition)
            for m in range(n)]


# --- acknowledgements ------------------------------------------------------------------------


def test_the_ledger_releases_messages_in_order_once_their_windows_closed() -> None:
    ledger = AckLedger()
    for i, after in enumerate([60.0, 30.0, 120.0]):
        ledger.hold("flooding", 0, after, f"m{i}")
    ledger.hold("traffic", 1, NEVER_OPEN, "t0")
    assert ledger.due(lambda g, p: 100.0) == ["m0", "m1", "t0"]  # m1 waited behind m0
    ledger.hold("flooding", 0, 130.0, "m3")
    ledger.forget({0})  # partition 0 revoked: its new owner reads m2 and m3 again
    assert len(ledger) == 0 and list(ledger.pending) == [("traffic", 1)]


async def test_a_checkpoint_flushes_writes_the_series_then_acknowledges() -> None:
    rig = Rig()
    rig.intake.ingest(minutes(3), now=T0 + 200)
    assert len(rig.ledger) == 3 and rig.acked == []
    assert rig.checkpoints.unsaved() == 1  # the series, its first windows closed
    flush, seen = rig.checkpoints.flush, []

    async def watched_flush() -> None:
        seen.append(rig.checkpoints.unsaved())
        await flush()
    rig.checkpoints.flush = watched_flush
    assert await rig.checkpoints.run() == 2  # the third minute's window is still open
    assert seen == [1, 1] and rig.checkpoints.unsaved() == 0  # unsaved until flushed
    assert [m.offset for m in rig.acked] == [0, 1]
    series_topic = rig.tables.series.changelog_topic.get_topic_name()
    assert rig.publisher.flushes == 2 and len(rig.publisher.records(series_topic)) == 1
    assert rig.registry.get_sample_value("ioc_worker_state_writes_total") == 1
    assert await rig.checkpoints.run() == 0 and rig.publisher.flushes == 2  # nothing to do


async def test_a_checkpoint_records_the_acknowledged_offsets_after_the_series_state() -> None:
    """With the events reader, acknowledging is recording the next offset to read: written
    after the series state, in a flush of its own, and only when it moved."""
    rig = Rig()
    store = PartitionedStore(rig.tables.offsets, publisher=rig.publisher)
    reader = EventsReader(bootstrap="127.0.0.1:9", group_id="g", topics=[TOPIC],
                          offset_reset="earliest", generation=lambda: 1)
    feed = ReaderFeed(reader, store, take=None)  # type: ignore[arg-type]  # never reads here
    rig.checkpoints.ack, rig.checkpoints.after_ack = feed.acked, feed.store_offsets
    rig.intake.ingest(minutes(3), now=T0 + 200)
    assert await rig.checkpoints.run() == 2 and rig.publisher.flushes == 3
    offsets_topic = rig.tables.offsets.changelog_topic.get_topic_name()
    assert rig.publisher.records(offsets_topic) == [b"2"]  # offsets 0 and 1: read on from 2
    assert store.get(InputOffsets.key(TOPIC, 0)) == b"2"
    assert await rig.checkpoints.run() == 0 and rig.publisher.flushes == 3


# --- the events intake -----------------------------------------------------------------------


def test_the_intake_feeds_readings_and_dead_letters_what_it_cannot_use() -> None:
    rig = Rig()
    events = [*minutes(2), event(b"{not json", 2), event(b"[]", 3, generation=0),
              event(encode(reading(0, 10, 4.5)), 4)]  # late: its window closed
    assert rig.intake.ingest(events, now=T0 + 200) == 4  # the old generation is skipped
    dead = [msgspec.json.decode(v, type=DeadLetter)
            for _k, v in rig.publisher.queue[rig.names.deadletter]]
    assert [d.offset for d in dead] == [2, 4] and dead[0].raw == b"{not json"
    assert msgspec.json.decode(dead[1].raw)["value"] == 4.5  # the late reading on its own
    assert rig.registry.get_sample_value("ioc_worker_deadletter_total",
                                         {"group": "flooding", "reason_class": "late"}) == 1
    assert rig.health.seen == 8 and rig.health.time_refused == 1  # 6 + 1 malformed + 1 late
    assert rig.pipeline.state("flooding", 0).windows.clock == T0 + 60 + 45
    assert [a for a, _m in rig.ledger.pending[("flooding", 0)]][2] == NEVER_OPEN


# --- side inputs -----------------------------------------------------------------------------


def alert(group: str, source: str, metric: str, t: float) -> Alert:
    ev = Evidence(window_start=t - 60, window_end=t, value=1.0, baseline=0.0, threshold=None,
                  score=1.0, raw=1.0, detector="robust_z", detector_version="1", params={},
                  recent=[])
    return Alert(alert_id=f"robust_z:{group}:{source}:{metric}", version=1, status="firing",
                 severity="warning", category="city", group=group, district="Hai Chau",
                 source=source, metric=metric, detector="robust_z", title="t", first_seen=t,
                 last_seen=t, count=1, updated_at=t, change="opened", evidence=ev)


async def test_side_inputs_link_incidents_and_refuse_unknown_commands() -> None:
    rig = Rig()
    for rec in (alert("flooding", "rain-HC-01", "rainfall", T0),
                alert("traffic", "trf-HC-01", "speed", T0 + 120)):
        decoded = decode_alert_record(encode(rec))
        assert decoded == rec
        rig.inputs.alert(decoded)
    cmd = Command(command_id="c1", action="ack", user="lan", ts=T0,
                  alert_id="robust_z:flooding:flood-HC-01:flood_depth")
    assert not rig.inputs.command(encode(cmd), topic="ioc.commands", partition=0, offset=7)
    await rig.outbox.send()
    incidents = [msgspec.json.decode(v, type=Incident) for v in rig.publisher.records("ioc.alerts")]
    assert incidents[0].groups == ["flooding", "traffic"]
    assert decode_alert_record(encode(incidents[0])) is None
    (dead,) = [msgspec.json.decode(v, type=DeadLetter)
               for v in rig.publisher.records(rig.names.deadletter)]
    assert (dead.offset, "no alert" in dead.reason) == (7, True)
    assert decode_parts(b"{}") is None


def part(district: str, partition: int, start: float) -> IndicatorPart:
    return IndicatorPart(group="flooding", district=district, partition=partition,
                         start=start, end=start + 60, reporting=1, in_breach=0,
                         open_alerts={}, kpis={})


async def test_indicator_parts_go_out_one_message_per_key_and_merge_as_sent() -> None:
    rig = Rig()
    hai_chau = [part("Hai Chau", p, T0 + 60 * m) for m in range(PARTS_PACK) for p in (0, 1)]
    parts = [*hai_chau, part("Son Tra", 2, T0)]
    rig.outbox.parts(parts)
    await rig.publisher.flush_out()
    sent = [(k, decode_parts(v)) for t, k, v in rig.publisher.out if t == "parts"]
    # a key's parts in order, packed up to PARTS_PACK; a key with one part: the part alone
    assert [(k, len(got or [])) for k, got in sent] == [
        (b"flooding:Hai Chau", PARTS_PACK), (b"flooding:Hai Chau", PARTS_PACK),
        (b"flooding:Son Tra", 1)]
    assert [p for _, got in sent for p in got or []] == parts
    assert rig.publisher.out[-1][2] == encode(parts[-1])
    # merged from the packs as from one message per part
    one_by_one = IndicatorMerger({})
    expected = [ind for p in parts for ind in one_by_one.add(p)]
    rig.inputs.parts([p for _, got in sent for p in got or []])
    await rig.outbox.send()
    merged = [msgspec.json.decode(v, type=GroupIndicator)
              for v in rig.publisher.records(rig.names.indicators)]
    # every Hai Chau window (both partitions in); Son Tra's first window waits
    assert merged == expected and len(merged) == PARTS_PACK


# --- the timer -------------------------------------------------------------------------------


async def test_a_tick_closes_quiet_partitions_and_sets_the_lag_gauges() -> None:
    rig = Rig()
    rig.intake.ingest(minutes(2), now=T0 + 200)
    highwater = {(TOPIC, 0): 10}
    ticker = Ticker(pipeline=rig.pipeline, linker=rig.linker, health=rig.health,
                    metrics=rig.metrics, outbox=rig.outbox, checkpoints=rig.checkpoints,
                    names=rig.names, highwater=lambda t, p: highwater.get((t, p)))
    assert not ticker.caught_up("flooding", 0)  # offset 1 of 10
    await ticker.tick()
    lag = rig.registry.get_sample_value("ioc_worker_consumer_lag", {"topic": TOPIC})
    assert lag == 8
    highwater[(TOPIC, 0)] = 2
    assert ticker.caught_up("flooding", 0) and ticker.caught_up("traffic", 3)
    assert rig.publisher.flushes >= 1  # the first window's summary went out


# --- rebalancing -----------------------------------------------------------------------------


def test_revoke_then_recover_puts_back_series_and_open_alerts_on_their_lanes_partition() -> None:
    rig = Rig()
    rig.intake.ingest(minutes(3, partition=2), now=T0 + 300)
    ev = Evidence(window_start=T0, window_end=T0 + 60, value=34.0, baseline=2.0, threshold=4.0,
                  score=0.95, raw=5.2, detector="robust_z", detector_version="1", params={},
                  recent=[])
    (rec,) = rig.book.observe(group="flooding", district="Hai Chau", source="flood-HC-01",
                              metric="flood_depth", verdicts=[Verdict(True, False, ev)],
                              ts=T0 + 60, silences=rig.pipeline.silences, partition=2)
    tps = {TP(TOPIC, 2), TP("ioc.commands", 2)}
    assert rig.rebalance.revoke(tps) == {2}
    assert rig.pipeline.parts == {} and len(rig.ledger) == 0 and not rig.status.ready
    assert len(list(rig.series)) == 1  # left locally for the restore
    rig.assignment = tps
    restored, assigned = rig.rebalance.recover()
    assert (restored, assigned) == (1, {2})
    assert rig.pipeline.open_alerts[rec.alert_id][3] == 2 == rig.book.partition_of(rec.alert_id)
    assert rig.status.ready and rig.status.recoveries == 1 and list(rig.series) == []


# --- the web pages ---------------------------------------------------------------------------


def test_healthz_is_starting_until_recovered_then_ok_and_metrics_are_exposed() -> None:
    rig = Rig()
    pages = WorkerPages(settings=Settings(app_id="w1"), registry=rig.registry,
                        status=rig.status, health=rig.health, pipeline=rig.pipeline,
                        assigned=lambda: [3, 1])
    body, status = pages.healthz()
    assert (status, body["status"], body["ready"]) == (503, "starting", False)
    rig.status.ready = True
    body, status = pages.healthz(now=rig.status.started + 5)
    assert (status, body["status"], body["partitions"], body["uptime_s"]) == (200, "ok", [1, 3],
                                                                              5.0)
    assert math.isfinite(body["clock"]) and body["app_id"] == "w1"
    text, content_type = pages.metrics()
    assert b"ioc_worker_deadletter_total" in text and "charset" not in content_type


def test_the_worker_serves_only_its_two_pages_on_localhost_by_default() -> None:
    from streams.agents import WorkerApp

    w = WorkerApp(Settings(kafka_bootstrap="127.0.0.1:9", app_id=f"t-{uuid.uuid4().hex[:8]}"))
    assert sorted(w.app.web.views) == ["/healthz", "/metrics"]
    assert w.app.web.blueprints._enabled == []
    assert w.app.conf.web_bind == "127.0.0.1"


@pytest.mark.parametrize("ready", [False, True])
def test_the_worker_app_exposes_its_rooms_state(ready: bool) -> None:
    from streams.agents import WorkerApp

    w = WorkerApp(Settings(kafka_bootstrap="127.0.0.1:9", app_id=f"t-{uuid.uuid4().hex[:8]}"))
    w.ready = ready
    assert w.status.ready is ready and w.pages.healthz()[1] == (200 if ready else 503)
    assert w.pending is w.ledger.pending and w.recoveries == 0


def test_the_intake_closes_a_big_window_in_steps_the_agent_can_yield_between() -> None:
    """A close runs in chunks of the pipeline's ``chunk_rows`` series, each a step of
    :meth:`EventIntake.steps`; the records are those of one go."""
    rig = Rig()
    rig.pipeline.schedule.chunk_rows = 2
    sources = [f"flood-HC-{i:02d}" for i in range(1, 8)]
    batch = [event(encode([reading(m, 5, 4.0, source=src) for src in sources]), m)
             for m in range(3)]
    steps = list(rig.intake.steps(batch, now=T0 + 300))
    # minutes 0 and 1 closed: 7 series each, in chunks of at most two
    assert sum(steps) == 14 and max(steps) == 2 and len(steps) == 8
    summaries = rig.pipeline.take_output().summaries["flooding"]
    assert sorted({s.source for s in summaries}) == sources and len(summaries) == 14


def test_the_changelogs_the_worker_creates_are_those_of_its_tables() -> None:
    """The worker creates every changelog topic before Faust starts (streams.topics
    changelog_specs): the same names, partitions and compaction as Faust's own tables."""
    from streams.topics import changelog_specs

    settings = Settings(kafka_bootstrap="127.0.0.1:9", app_id="t-changelogs", partitions=3)
    app = create_app(settings)
    WorkerTables(app, settings.partitions)
    faust_made = {t.changelog_topic.get_topic_name(): t.changelog_topic
                  for t in app.tables.values()}
    specs = {s.name: s for s in changelog_specs(settings)}
    assert set(specs) == set(faust_made)
    for name, topic in faust_made.items():
        assert specs[name].partitions == topic.partitions == 3
        assert specs[name].configs == {"cleanup.policy": "compact"} and topic.compacting
