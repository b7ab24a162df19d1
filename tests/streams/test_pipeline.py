"""The pure pipeline: windows close into detectors, verdicts into alerts, state into
checkpoints that restore exactly."""

from __future__ import annotations

import math
import random
from typing import Any

import msgspec
import pytest

from detectors.base import Detector, WindowStats
from ioc.events import Command, GroupIndicator, Reading
from streams.indicators import IndicatorMerger
from streams.lifecycle import AlertBook
from streams.pipeline import Pipeline, series_key
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook

T0 = 1_795_410_000.0
RUNTIME = DetectorRuntime.build()
TOWERS = ("flood-HC-01", "flood-HC-02", "flood-TK-01")


def pipeline(lateness: float = 0.0, runtime: DetectorRuntime = RUNTIME,
             **options: Any) -> Pipeline:
    return Pipeline(runtime, AlertBook({}, resolve_after=2), SilenceBook({}),
                    lateness=lateness, **options)


def tower(source: str, minute: int, value: float, second: int = 5) -> Reading:
    return Reading(group="flooding", source=source, metric="flood_depth", value=value,
                   ts=T0 + 60 * minute + second, district="Hai Chau")


def normal(rng: random.Random) -> float:
    return round(4.0 + rng.gauss(0, 0.3), 2)


def feed(p: Pipeline, minutes: range, *, spike: dict[str, int] | None = None,
         silent: dict[str, range] | None = None, seed: int = 1) -> None:
    """Six readings a minute from each tower (a spike of 40 cm where asked)."""
    rng = random.Random(seed)
    for m in minutes:
        for s in (5, 15, 25, 35, 45, 55):
            pack = []
            for src in TOWERS:
                if silent and src in silent and m in silent[src]:
                    continue
                v = 40.0 + rng.random() if spike and spike.get(src) == m else normal(rng)
                pack.append(tower(src, m, v, s))
            if pack:
                p.ingest("flooding", 0, pack)


def opened(p: Pipeline) -> list[tuple[str, str, str]]:
    return [(a.alert_id, a.change, a.status) for a in p.take_output().alerts
            if getattr(a, "change", None) == "opened"]


def test_a_spike_opens_exactly_one_alert_for_its_key() -> None:
    p = pipeline()
    feed(p, range(30))
    assert opened(p) == []
    feed(p, range(30, 33), spike={"flood-HC-02": 30})
    out = opened(p)
    assert len(out) == 1
    aid, _, status = out[0]
    assert aid.split(":")[1:] == ["flooding", "flood-HC-02", "flood_depth"]
    assert status == "firing"


def test_every_tracked_series_gets_a_summary_per_window_even_when_silent() -> None:
    p = pipeline()
    feed(p, range(12), silent={"flood-TK-01": range(5, 12)})
    out = p.take_output()
    summaries = out.summaries["flooding"]
    tk = [s for s in summaries if s.source == "flood-TK-01"]
    assert len(tk) == 11  # windows 0..10 closed (11 is open): 5 with data, 6 empty
    assert [s.count for s in tk] == [6] * 5 + [0] * 6
    assert list(out.summaries) == ["flooding"]  # the key of every summary is its group
    s = summaries[0]
    assert (s.end - s.start, s.counted, s.district) == (60.0, False, "Hai Chau")


def test_a_silent_source_raises_one_silence_alert() -> None:
    p = pipeline()
    feed(p, range(30))
    p.take_output()
    feed(p, range(30, 40), silent={"flood-TK-01": range(30, 40)})
    alerts = [a for a in p.take_output().alerts
              if a.change == "opened" and a.category == "sensor_health"]
    assert [(a.detector, a.source) for a in alerts] == [("silence", "flood-TK-01")]


def test_the_idle_rule_closes_windows_of_a_partition_that_went_quiet() -> None:
    p = pipeline(lateness=30.0)
    p.schedule.idle_s = 0.0
    feed(p, range(3))
    p.take_output()
    st = p.state("flooding", 0)
    assert st.windows.closed_upto == T0 + 120  # the last minute is still open
    assert p.idle(lambda g, part: False) == 0  # the consumer is behind: wait
    st.windows.advance_to(T0 + 3 * 60 + 30)  # as if the wall clock had moved on
    assert p.idle(lambda g, part: True) == 1
    assert st.windows.closed_upto == T0 + 180


def packs(minutes: range, *, spike: dict[str, int] | None = None, seed: int = 1
          ) -> list[list[Reading]]:
    """The packs :func:`feed` would send, as a list."""
    rec = pipeline()
    got: list[list[Reading]] = []
    rec.ingest = lambda group, partition, readings, offset=-1: got.append(  # type: ignore
        list(readings)) or (0, 0, 0)
    feed(rec, minutes, spike=spike, seed=seed)
    return got


def test_a_restored_pipeline_scores_exactly_like_the_original() -> None:
    stream = packs(range(50), spike={"flood-HC-01": 45})
    a = pipeline()
    for pack in stream[:240]:  # 40 minutes
        a.ingest("flooding", 0, pack)
    a.take_output()
    blobs = a.checkpoint()
    assert {k for k, _, _ in blobs} == {series_key("flooding", t, "flood_depth")
                                        for t in TOWERS}
    b = pipeline()
    b.book = AlertBook(dict(a.book.store), resolve_after=2)
    for _, _, blob in blobs:
        assert blob is not None and b.restore(blob) == ("flooding", 0)
    # b reads again what the worker had not acknowledged: everything after the last closed
    # window; a goes on where it was
    closed = b.closed_upto("flooding", 0)
    for pack in [x for x in stream if x[0].epoch >= closed]:
        b.ingest("flooding", 0, pack)
    for pack in stream[240:]:
        a.ingest("flooding", 0, pack)
    out_a, out_b = a.take_output(), b.take_output()
    assert sorted(map(msgspec.json.encode, out_a.summaries["flooding"])) == sorted(
        map(msgspec.json.encode, out_b.summaries["flooding"]))
    assert sorted((x.alert_id, x.version) for x in out_a.alerts) == sorted(
        (x.alert_id, x.version) for x in out_b.alerts)
    assert "flood-HC-01" in {x.source for x in out_b.alerts if x.change == "opened"}


def test_restoring_skips_readings_of_windows_already_closed() -> None:
    a = pipeline()
    feed(a, range(10))
    blobs = a.checkpoint()
    b = pipeline()
    for _, _, blob in blobs:
        b.restore(blob)
    assert b.closed_upto("flooding", 0) == T0 + 9 * 60
    accepted, _, dropped = b.ingest("flooding", 0, [tower("flood-HC-01", 3, 4.0)])
    assert (accepted, dropped) == (0, 1)


def test_restore_refuses_foreign_states_and_other_partitions() -> None:
    p = pipeline()
    assert p.restore(b"junk") is None
    assert p.restore(msgspec.msgpack.encode([99, "flooding"])) is None
    a = pipeline()
    feed(a, range(3))
    (_, part, blob), *_ = a.checkpoint()
    assert blob is not None and p.restore(blob, partitions={part + 1}) is None
    assert p.restore(blob, partitions={part}) == ("flooding", part)
    assert p.restore(blob) is None  # already tracked


def test_revoking_a_partition_forgets_its_state() -> None:
    p = pipeline()
    feed(p, range(3))
    p.revoke({0})
    assert p.parts == {}
    assert p.closed_upto("flooding", 0) == -math.inf


def test_indicator_parts_merge_into_group_indicators() -> None:
    p = pipeline()
    feed(p, range(4), spike={"flood-HC-01": 1})
    parts = p.take_output().parts
    assert {(x.district, x.start) for x in parts} == {("Hai Chau", T0 + 60 * i)
                                                       for i in range(3)}
    merger = IndicatorMerger({})
    got: list[GroupIndicator] = []
    for part in parts:
        got += merger.add(part)
    # the first window waits for a newer one (which partitions take part is not known yet),
    # later ones are complete as soon as the same partitions reported
    assert [g.start for g in got] == [T0, T0 + 60, T0 + 120]
    spiked = got[1]
    assert (spiked.sources_reporting, spiked.sources_in_breach) == (3, 1)
    assert spiked.kpis["flooded_points"] == 1.0 and spiked.kpis["max_depth"] > 40
    assert spiked.sources_expected == 3  # the catalog's Hai Chau: 2 towers and 1 rain gauge


def test_acknowledging_through_the_pipeline() -> None:
    p = pipeline()
    feed(p, range(30))
    feed(p, range(30, 32), spike={"flood-HC-02": 30})
    (aid, _, _), = opened(p)
    assert p.open_alert_counts() == {("flooding", "warning"): 1} or \
        sum(p.open_alert_counts().values()) == 1
    cmd = Command(command_id="c1", action="ack", user="lan", ts=T0 + 1900, alert_id=aid)
    (rec,) = p.command(cmd, partition=0)
    assert (rec.status, rec.change, rec.user) == ("acknowledged", "acknowledged", "lan")


def test_per_reading_detectors_score_every_reading() -> None:
    rt = DetectorRuntime.build(config_text="""
        [groups.flooding.flood_depth]
        detectors = ["physical_range"]
        readings = ["physical_range"]
    """)
    p = pipeline(runtime=rt)
    feed(p, range(2))
    p.take_output()
    # one impossible reading in the middle of a window of good ones
    p.ingest("flooding", 0, [tower("flood-HC-01", 2, 999.0, second=10)])
    feed(p, range(2, 4))
    alerts = p.take_output().alerts
    assert [(a.detector, a.source, a.change) for a in alerts][:1] == [
        ("physical_range", "flood-HC-01", "opened")]


def test_series_silent_for_a_week_are_evicted() -> None:
    p = pipeline(evict_after_s=600.0)
    feed(p, range(3))
    feed(p, range(3, 20), silent={"flood-TK-01": range(3, 20)})
    st = p.state("flooding", 0)
    assert ("flood-TK-01", "flood_depth") not in st.series
    evicted = [k for k, _, blob in p.checkpoint() if blob is None]
    assert evicted == [series_key("flooding", "flood-TK-01", "flood_depth")]


@pytest.mark.parametrize("lateness", [0.0, 30.0])
def test_metrics_count_windows(lateness: float) -> None:
    from prometheus_client import CollectorRegistry

    from streams.metrics import WorkerMetrics

    reg = CollectorRegistry()
    p = pipeline(lateness=lateness, metrics=WorkerMetrics(reg))
    feed(p, range(5))
    closed = reg.get_sample_value("ioc_worker_windows_closed_total", {"group": "flooding"})
    assert closed == 3 * 4  # windows 0-3 closed, minute 4 still open either way
    assert reg.get_sample_value("ioc_worker_readings_total", {"group": "flooding"}) == 90
    # one timing per detector and batch: the three towers of a window are scored at once
    assert reg.get_sample_value("ioc_worker_detector_seconds_count",
                                {"detector": "robust_z"}) == 4


def test_an_idle_partition_follows_its_own_clock_and_the_wall_not_another_partition() -> None:
    p = pipeline(lateness=0.0)
    p.schedule.idle_s = 0.0
    p.ingest("flooding", 0, [tower("flood-HC-01", 0, 4.0)], now=T0 + 10)
    # another partition (its sources on another key) jumps a year ahead of it
    p.ingest("flooding", 1, [tower("flood-TK-01", 525_600, 4.0)], now=T0 + 86400 * 366)
    st = p.state("flooding", 0)
    mono = st.last_event_wall + 100.0  # 100 s of wall time later
    p.idle(lambda g, part: True, now=mono, wall=T0 + 110)
    assert st.windows.clock == pytest.approx(T0 + 5 + 100.0)  # not the other's clock
    # and never beyond the wall clock
    p.idle(lambda g, part: True, now=mono + 1000.0, wall=T0 + 200)
    assert st.windows.clock == T0 + 200


def test_an_idle_partition_keeps_up_with_the_median_of_the_others() -> None:
    """Compressed time: a partition whose sources went silent follows the worker's clock
    (the lower median), so its windows keep closing; one partition far ahead moves none."""
    p = pipeline(lateness=0.0)
    p.schedule.idle_s = 0.0
    far = T0 + 86400 * 300
    for part, minute in enumerate([0, 30, 31]):
        p.ingest("flooding", part, [tower("flood-HC-01", minute, 4.0)], now=far)
    p.ingest("flooding", 3, [tower("flood-HC-01", 60 * 24 * 299, 4.0)], now=far)
    st = p.state("flooding", 0)
    p.idle(lambda g, part: True, now=st.last_event_wall + 1.0, wall=far)
    assert st.windows.clock == T0 + 30 * 60 + 5  # the median, not partition 3's clock
    assert st.windows.closed_upto == T0 + 30 * 60


def test_the_worker_clock_is_not_pushed_by_one_partition() -> None:
    p = pipeline()
    for part, minute in enumerate([10, 11, 12]):
        p.ingest("flooding", part, [tower("flood-HC-01", minute, 4.0)], now=math.inf)
    p.ingest("traffic", 0, [Reading(group="traffic", source="trf-HC-01", metric="speed",
                                     value=40.0, ts=T0 + 86400 * 300, district="Hai Chau")],
             now=math.inf)
    assert p.clock() == T0 + 60 * 11 + 5


def test_readings_the_windows_refuse_wait_for_the_worker_with_their_partition() -> None:
    p = pipeline()
    feed(p, range(3))
    p.ingest("flooding", 0, [tower("flood-HC-01", 0, 4.0)])
    ((group, part, (cls, where, _reason, r)),) = p.take_refused()
    assert (group, part, cls, where, r.source) == ("flooding", 0, "late", "$.ts", "flood-HC-01")
    assert p.take_refused() == []


def test_a_million_random_source_ids_leave_a_bounded_number_of_series() -> None:
    """A flood of random ids (packs of 1,000 readings, each a new id) opens at most the
    budget's series; the rest are refused as series_limit and counted, and the tracked
    structures stay bounded."""
    from prometheus_client import CollectorRegistry

    from streams.budget import SeriesBudget
    from streams.metrics import WorkerMetrics

    budget = SeriesBudget(total=5_000, per_prefix=2_000, per_message=500)
    p = Pipeline(RUNTIME, AlertBook({}), SilenceBook({}), lateness=0.0, budget=budget,
                 metrics=WorkerMetrics(CollectorRegistry()))
    rng = random.Random(3)
    prefixes = ["flood", "x", "zz-top", ""]
    refused = 0
    n = 0
    for k in range(1000):
        pack = []
        for _ in range(1000):
            src = f"{rng.choice(prefixes)}-{rng.getrandbits(40):x}{rng.randrange(100)}"
            pack.append(Reading(group="flooding", source=src.lstrip("-") or "a",
                                metric="flood_depth", value=4.0, ts=T0 + 0.06 * k,
                                district="Hai Chau"))
        n += len(pack)
        p.ingest("flooding", k % 4, pack, now=math.inf)
        refused += sum(1 for x in p.take_refused() if x[2][0] == "series_limit")
    assert n == 1_000_000
    # windows close: the fresh keys become series
    for part in range(4):
        p.ingest("flooding", part, [tower("flood-HC-01", 5, 4.0)], now=math.inf)
    tracked = sum(len(st.series) for st in p.parts.values())
    fresh = sum(len(st.windows.fresh) for st in p.parts.values())
    opened = sum(len(k) for st in p.parts.values() for k in st.windows.open.values())
    assert budget.used <= 5_000 and tracked + fresh <= 5_000 + 4  # + flood-HC-01 x 4
    assert opened <= 5_000 + 4
    assert refused == 1_000_000 - budget.used
    assert max(budget.by_prefix.values()) <= 2_000 and len(budget.by_prefix) <= 5_000
    assert budget.counts() == {"flooding": budget.used}
    assert p.metrics is not None
    assert p.metrics.registry.get_sample_value(
        "ioc_worker_readings_total", {"group": "flooding"}) == budget.used + 4


def test_the_budget_gives_back_what_is_evicted_or_revoked() -> None:
    from streams.budget import SeriesBudget

    budget = SeriesBudget(total=10, per_prefix=10, per_message=10)
    p = Pipeline(RUNTIME, AlertBook({}), SilenceBook({}), lateness=0.0, budget=budget)
    p.ingest("flooding", 0, [tower("new-01", 0, 4.0), tower("new-02", 0, 4.0),
                             tower("flood-HC-01", 0, 4.0)])
    assert budget.counts() == {"flooding": 2}  # catalog sources do not count
    p.ingest("flooding", 0, [tower("flood-HC-01", 2, 4.0)])
    assert len(p.state("flooding", 0).series) == 3
    p.revoke({0})
    assert budget.counts() == {} and budget.used == 0


def test_input_from_the_past_gains_no_time_from_the_wall_while_its_sender_pauses() -> None:
    """A replay or backfill (days behind the wall clock) that pauses between two sends loses
    nothing: the idle rule does not turn the pause into event time."""
    p = pipeline(lateness=0.0)
    p.schedule.idle_s = 0.0
    for m in range(3):
        p.ingest("flooding", 0, [tower("flood-HC-01", m, 4.0)], now=T0 + 86400 * 30)
    st = p.state("flooding", 0)
    before = st.windows.clock
    # ten minutes of wall time pass before the next send
    p.idle(lambda g, part: True, now=st.last_event_wall + 600.0, wall=T0 + 86400 * 30 + 600)
    assert st.windows.clock == before
    accepted, late, dropped = p.ingest("flooding", 0, [tower("flood-HC-01", 3, 4.0)],
                                       now=T0 + 86400 * 30 + 600)
    assert (accepted, late, dropped) == (1, 0, 0) and not p.take_refused()


def test_after_a_restore_only_input_read_again_is_skipped_quietly_new_input_is_late() -> None:
    """A checkpoint remembers the input offset it had folded in: after a takeover, readings
    of closed windows from offsets up to it are input read again (skipped, counted); from
    later offsets they are new and late, so they are refused with a reason, never lost
    silently."""
    a = pipeline()
    for m in range(5):
        a.ingest("flooding", 0, [tower("flood-HC-01", m, 4.0)], offset=m)
    blobs = a.checkpoint()
    b = pipeline()
    for _key, _part, blob in blobs:
        assert blob is not None and b.restore(blob) == ("flooding", 0)
    # offset 2 again (a re-read after the restart): its window closed before; quiet
    assert b.ingest("flooding", 0, [tower("flood-HC-01", 2, 4.0)], offset=2) == (0, 0, 1)
    assert b.take_refused() == []
    # a new message (offset 9) for a window the checkpoint had closed: late, refused
    assert b.ingest("flooding", 0, [tower("flood-HC-01", 1, 4.0)], offset=9) == (0, 0, 1)
    (group, partition, (cls, _field, reason, _reading)), = b.take_refused()
    assert (group, partition, cls) == ("flooding", 0, "late") and "closed before" in reason


def test_a_close_runs_in_chunks_that_give_the_same_records_as_one_go() -> None:
    """fold() + closing() (what the agent runs, letting its event loop breathe between
    chunks) gives exactly what ingest() gives in one go."""
    one, chunked = pipeline(), pipeline(chunk_rows=1)
    rng = random.Random(5)
    steps: list[int] = []
    for m in range(30):
        pack = [tower(src, m, 40.0 if (m, src) == (25, "flood-HC-02") else normal(rng), 5)
                for src in TOWERS]
        one.ingest("flooding", 0, pack)
        chunked.fold("flooding", 0, pack)
        steps += chunked.closing("flooding", 0)
    a, b = one.take_output(), chunked.take_output()
    assert steps and set(steps) == {1}  # one series per step: the loop could run between
    assert len(steps) == 3 * 29
    assert a.summaries == b.summaries and a.alerts == b.alerts and a.parts == b.parts
    assert any(x.change == "opened" for x in b.alerts)
    assert one.checkpoint() == chunked.checkpoint()



def test_a_restore_of_states_from_different_windows_rewinds_to_the_earliest() -> None:
    """After a rebalance some series come back from the worker's own live state and others
    from the changelog's older checkpoint: the partition restarts at the earliest, so each
    series gets exactly the windows it had not closed (no gap that a silence detector would
    take for an outage), and ends in the very state of a worker that never stopped."""
    def pack(m: int, s: int) -> list[Reading]:
        return [tower(src, m, 4.0 + 0.1 * ((m * 7 + s + i) % 5), s)
                for i, src in enumerate(TOWERS)]

    steady = pipeline()
    messages = [(m * 6 + k, pack(m, s)) for m in range(40) for k, s in enumerate(range(5, 60, 10))]
    for offset, readings in messages[: 30 * 6]:
        steady.ingest("flooding", 0, readings, offset=offset)
    older = {k: blob for k, _, blob in steady.checkpoint()}  # the changelog: minute 29
    for offset, readings in messages[30 * 6: 34 * 6]:
        steady.ingest("flooding", 0, readings, offset=offset)
    live = {k: blob for k, _, blob in steady.snapshot({0})}  # the worker's own: minute 33
    mixed = [live[series_key("flooding", "flood-HC-01", "flood_depth")],
             older[series_key("flooding", "flood-HC-02", "flood_depth")],
             older[series_key("flooding", "flood-TK-01", "flood_depth")]]
    back = pipeline()
    for blob in mixed:
        assert blob is not None and back.restore(blob, {0}) == ("flooding", 0)
    steady.take_output()
    for offset, readings in messages[29 * 6:]:  # read again from the older checkpoint on
        back.ingest("flooding", 0, readings, offset=offset)
    for offset, readings in messages[34 * 6:]:
        steady.ingest("flooding", 0, readings, offset=offset)
    got = back.take_output()
    starts = {src: sorted(int((s.start - T0) // 60) for s in got.summaries["flooding"]
                          if s.source == src) for src in TOWERS}
    assert starts["flood-HC-02"] == starts["flood-TK-01"] == list(range(29, 39))
    assert starts["flood-HC-01"] == list(range(33, 39))
    assert not [a for a in got.alerts if a.detector == "silence"]
    assert dict((k, b) for k, _, b in back.snapshot({0})) == \
        dict((k, b) for k, _, b in steady.snapshot({0}))


def with_plugin(cls: type[Detector], config: str) -> tuple[Pipeline, Any]:
    """A pipeline whose runtime also knows the plugin ``cls``, configured by ``config``, and
    the registry of its worker metrics."""
    from prometheus_client import CollectorRegistry

    from detectors.registry import Plugin, load_all
    from streams.metrics import WorkerMetrics

    registry = load_all()
    registry.plugins[cls.name] = Plugin(cls.name, cls, "tests", "0", f"tests:{cls.__name__}")
    reg = CollectorRegistry()
    p = pipeline(runtime=DetectorRuntime.build(registry, config_text=config),
                 metrics=WorkerMetrics(reg))
    return p, reg


class Brittle(Detector):
    """A plugin with a bug on data its checks never met: it raises on a window above 30."""

    name = "brittle"
    version = "1"
    input = "window"

    def score_one(self, x: float, ts: float) -> float:
        return 0.0

    def learn_one(self, x: float, ts: float) -> None:
        pass

    def score_window(self, w: WindowStats) -> float:
        if w.max > 30:
            raise ZeroDivisionError("a plugin bug")
        return self._scored(1.0 if w.count and w.max > 20 else 0.0, raw=w.max, baseline=20.0)


def test_a_detector_that_raises_is_left_out_of_that_close_and_the_others_alert() -> None:
    p, reg = with_plugin(Brittle, """
        [groups.flooding.flood_depth]
        detectors = ["robust_z", "brittle"]
    """)
    feed(p, range(30))
    assert opened(p) == []
    feed(p, range(30, 33), spike={"flood-HC-02": 30})  # brittle raises on that window
    out = p.take_output()
    alerts = [(a.detector, a.source, a.change) for a in out.alerts]
    assert ("robust_z", "flood-HC-02", "opened") in alerts
    assert not [a for a in alerts if a[0] == "brittle"]
    # every series still closed its windows and summarised them
    assert {s.source for s in out.summaries["flooding"] if s.end == T0 + 31 * 60} \
        == set(TOWERS)
    assert reg.get_sample_value("ioc_worker_detector_errors_total",
                                {"detector": "brittle"}) == 1.0


class BrittleReader(Detector):
    """A per-reading plugin with the same bug: it raises on a reading above 30."""

    name = "brittle_reader"
    version = "1"

    def score_one(self, x: float, ts: float) -> float:
        if x > 30:
            raise ZeroDivisionError("a plugin bug")
        return self._scored(0.0, raw=x, baseline=4.0)

    def learn_one(self, x: float, ts: float) -> None:
        pass


def test_a_per_reading_detector_that_raises_skips_the_reading_and_the_others_see_it() -> None:
    p, reg = with_plugin(BrittleReader, """
        [groups.flooding.flood_depth]
        detectors = ["physical_range", "brittle_reader"]
        readings = ["physical_range", "brittle_reader"]
    """)
    feed(p, range(2))
    p.take_output()
    p.ingest("flooding", 0, [tower("flood-HC-01", 2, 999.0, second=10)])  # both see it
    feed(p, range(2, 4))
    alerts = p.take_output().alerts
    assert [(a.detector, a.source, a.change) for a in alerts][:1] == [
        ("physical_range", "flood-HC-01", "opened")]
    assert reg.get_sample_value("ioc_worker_readings_total", {"group": "flooding"}) \
        == 3 * 6 * 4 + 1  # every reading folded, the brittle one too
    assert reg.get_sample_value("ioc_worker_detector_errors_total",
                                {"detector": "brittle_reader"}) == 1.0
