"""The city simulator and its anomaly plans: pure generation, no Kafka."""

from __future__ import annotations

import itertools
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from ioc import catalog
from ioc.errors import UsageError
from ioc.events import Reading, decode_readings, encode
from ioc.tools.anomalies import (
    KINDS,
    SIGMAS,
    WARMUP_S,
    WINDOWS,
    Anomaly,
    AnomalyPlan,
    eligible,
    place,
    read_truth,
    write_truth,
)
from ioc.tools.simulator import (
    PACK_KINDS,
    CitySimulator,
    Pacer,
    offset_factor,
    parse_number,
    parse_start,
    speed_for_rate,
)

# 2026-11-23 is a Monday; 08:00 in Da Nang (UTC+7) is 01:00Z.
MONDAY_0800 = 1795395600.0
MONDAY_0300 = MONDAY_0800 - 5 * 3600


def stream(sim: CitySimulator) -> list[Reading]:
    return list(itertools.chain.from_iterable(sim))


def raw(sim: CitySimulator) -> bytes:
    return b"\n".join(m.payload() for _t, msgs in sim.messages() for m in msgs)


def by_series(readings: list[Reading], source: str, metric: str) -> list[Reading]:
    return [r for r in readings if r.source == source and r.metric == metric]


def sigma(group: str, source: str, metric: str, ts: float) -> float:
    spec = catalog.group(group).metric(metric)
    district = next(s.district for s in catalog.group(group).sources() if s.id == source)
    return spec.expected(ts) * offset_factor(group, district, metric, source) * spec.noise


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_and_start_give_a_byte_identical_stream() -> None:
    plan = AnomalyPlan.random(3, MONDAY_0800, 3 * 3600, count=6)
    a = raw(CitySimulator(3, MONDAY_0800, 1800, anomalies=plan))
    b = raw(CitySimulator(3, MONDAY_0800, 1800, anomalies=plan))
    assert a == b and len(a) > 1_000_000


def test_a_different_seed_or_start_gives_a_different_stream() -> None:
    base = raw(CitySimulator(3, MONDAY_0800, 300))
    assert raw(CitySimulator(4, MONDAY_0800, 300)) != base
    assert raw(CitySimulator(3, MONDAY_0800 + 1, 300)) != base


def test_the_anomaly_plan_is_drawn_from_the_seed() -> None:
    one = AnomalyPlan.random(5, MONDAY_0800, 6 * 3600)
    assert one == AnomalyPlan.random(5, MONDAY_0800, 6 * 3600)
    assert one != AnomalyPlan.random(6, MONDAY_0800, 6 * 3600)


# --- shape of the normal stream --------------------------------------------------------------


def test_every_group_and_every_source_reports() -> None:
    readings = stream(CitySimulator(1, MONDAY_0800, 120))
    assert {r.group for r in readings} == set(catalog.GROUP_SLUGS)
    assert {r.source for r in readings} >= {s.id for s in catalog.all_sources()
                                            if not _only_events(s)}
    # sources that only report events (e.g. citizen feedback channels) appear within an hour
    hour = stream(CitySimulator(1, MONDAY_0800, 3600))
    assert {r.source for r in hour} == {s.id for s in catalog.all_sources()}


def _only_events(src: catalog.Source) -> bool:
    kinds = {k.name: k for k in catalog.group(src.group).source_kinds}
    return all(m.counted for m in kinds[src.kind].metrics)


def test_every_reading_passes_the_event_contract() -> None:
    sim = CitySimulator(2, MONDAY_0800, 600, anomalies=AnomalyPlan.random(
        2, MONDAY_0800, 600, count=3, warmup_s=0))
    seen = 0
    for _t, msgs in sim.messages():
        for m in msgs:
            decoded = decode_readings(m.payload())
            assert decoded == list(m.readings)
            assert all(r.source == m.key for r in decoded)
            assert m.topic == f"ioc.{decoded[0].group}.events"
            seen += len(decoded)
    assert seen > 15_000


def test_values_stay_within_the_physical_range_and_events_carry_a_known_kind() -> None:
    plan = AnomalyPlan.random(9, MONDAY_0800, 4 * 3600, count=12, warmup_s=600)
    for r in stream(CitySimulator(9, MONDAY_0800, 4 * 3600, anomalies=plan)):
        spec = catalog.group(r.group).metric(r.metric)
        if spec.counted:
            assert r.value is None and r.kind in spec.event_kinds
        else:
            assert r.value is not None and spec.physically_possible(r.value), r


def test_readings_come_in_event_time_order_one_batch_per_simulated_second() -> None:
    batches = list(CitySimulator(4, MONDAY_0800, 300))
    assert len(batches) == 300
    last = 0.0
    for k, batch in enumerate(batches):
        for r in batch:
            assert MONDAY_0800 + k <= r.epoch < MONDAY_0800 + k + 1
            assert r.epoch >= last
            last = r.epoch


def test_the_natural_rate_matches_the_stream() -> None:
    sim = CitySimulator(1, MONDAY_0800, 3600)
    n = len(stream(sim))
    assert sim.natural_rate * 3600 * 0.85 < n < sim.natural_rate * 3600 * 1.15


def test_traffic_follows_the_daily_shape() -> None:
    def mean_volume(start: float) -> float:
        sim = CitySimulator(1, start, 600, groups=["traffic"])
        return statistics.fmean(r.value or 0.0 for r in stream(sim) if r.metric == "volume")

    assert mean_volume(MONDAY_0800) > 2 * mean_volume(MONDAY_0300)


def test_weekends_are_quieter_at_the_public_service_offices() -> None:
    def dossiers(start: float) -> int:
        sim = CitySimulator(1, start, 3600, groups=["public_services"])
        return sum(r.metric == "dossiers_submitted" for r in stream(sim))

    saturday = MONDAY_0800 - 2 * 86400
    assert dossiers(MONDAY_0800) > 4 * dossiers(saturday)


def test_districts_differ() -> None:
    readings = stream(CitySimulator(1, MONDAY_0800, 1800, groups=["environment"]))
    by_district: dict[str, list[float]] = defaultdict(list)
    for r in readings:
        if r.metric == "pm25":
            by_district[r.district].append(r.value or 0.0)
    means = sorted(statistics.fmean(v) for v in by_district.values())
    assert len(means) == len(catalog.MAINLAND)
    assert means[-1] / means[0] > 1.04


def test_counted_events_follow_the_poisson_rate() -> None:
    sim = CitySimulator(1, MONDAY_0800, 3600, groups=["cybersecurity"])
    attacks = sum(r.metric == "attacks_blocked" for r in stream(sim))
    spec = catalog.group("cybersecurity").metric("attacks_blocked")
    expected = spec.expected(MONDAY_0800) * 60 * offset_factor(
        "cybersecurity", "Hai Chau", "attacks_blocked", "soc-HC-01")
    assert abs(attacks - expected) < 4 * expected**0.5


def test_moving_sources_report_positions() -> None:
    buses = [r for r in stream(CitySimulator(1, MONDAY_0800, 60, groups=["public_transport"]))]
    assert buses and all(r.lat is not None and r.lon is not None for r in buses)


# --- messages and packs ----------------------------------------------------------------------


def test_buses_vessels_and_the_soc_send_packs_the_rest_single_readings() -> None:
    sim = CitySimulator(1, MONDAY_0800, 600)
    kinds = {s.id: s.kind for s in sim.sources}
    total = 0
    packs = 0
    for _t, msgs in sim.messages():
        for m in msgs:
            assert m.pack == (kinds[m.key] in PACK_KINDS)
            packs += m.pack
            total += len(m.readings)
    assert packs > 100
    assert total == len(stream(sim))


@pytest.mark.parametrize("size", [1, 4, 50])
def test_pack_size_caps_packs_and_keeps_every_reading(size: int) -> None:
    sim = CitySimulator(1, MONDAY_0800, 600, pack_size=size)
    sent: list[Reading] = []
    for t, msgs in sim.messages():
        for m in msgs:
            assert len(m.readings) <= size and (m.pack == (size > 1))
            assert {r.source for r in m.readings} == {m.key}
            assert t - m.readings[0].epoch <= 21  # held at most PACK_WAIT_S
            sent.extend(m.readings)
    assert sorted(sent, key=encode) == sorted(stream(sim), key=encode)


# --- anomalies -------------------------------------------------------------------------------


def _with_and_without(anomaly: Anomaly, seconds: float, seed: int = 11
                      ) -> tuple[list[Reading], list[Reading]]:
    start = anomaly.start - 600
    plan = AnomalyPlan([anomaly])
    hit = stream(CitySimulator(seed, start, seconds, anomalies=plan, groups=[anomaly.group]))
    calm = stream(CitySimulator(seed, start, seconds, groups=[anomaly.group]))
    return hit, calm


def test_an_injection_touches_only_its_source_and_metric_and_span() -> None:
    a = place("traffic", "trf-HC-02", "volume", "level_shift", MONDAY_0800, 480)
    hit, calm = _with_and_without(a, 1800)
    changed = [(x, y) for x, y in zip(hit, calm, strict=True) if x != y]
    assert changed and all(x.source == a.source and x.metric == a.metric and a.active(x.epoch)
                           for x, y in changed)


@pytest.mark.parametrize(("kind", "sigmas"), [("spike", 10.0), ("level_shift", 6.0)])
def test_spike_and_level_shift_move_every_reading_by_their_sigmas(kind: str, sigmas: float
                                                                   ) -> None:
    a = place("environment", "air-HC-01", "pm25", kind, MONDAY_0800, sign=1)
    hit, calm = _with_and_without(a, 1800)
    inside = [(x, y) for x, y in zip(hit, calm, strict=True)
              if x.source == a.source and x.metric == a.metric and a.active(x.epoch)]
    assert len(inside) == (a.end - a.start) / 10  # a reading every 10 s
    for x, y in inside:
        assert (x.value or 0) - (y.value or 0) == pytest.approx(
            sigmas * sigma("environment", a.source, "pm25", x.epoch), abs=2e-3)
    assert SIGMAS[kind] == sigmas


def test_a_spike_fills_one_whole_window_and_stands_out() -> None:
    w = catalog.group("traffic").window_s
    a = place("traffic", "trf-ST-01", "speed", "spike", MONDAY_0800 + 2 * w, sign=1)
    assert a.end - a.start == w and a.start % w == 0
    hit, _calm = _with_and_without(a, 1800)
    values = by_series(hit, a.source, a.metric)
    normal = [r.value or 0 for r in values if not a.active(r.epoch)]
    centre, spread = statistics.median(normal), statistics.pstdev(normal)
    peak = [r.value or 0 for r in values if a.active(r.epoch)]
    assert all(abs(v - centre) > 6 * spread for v in peak)


def test_drift_ramps_up_two_and_a_half_sigma_a_window() -> None:
    a = place("wastewater", "ww-LC-01", "inflow", "drift", MONDAY_0800, 480, sign=1)
    hit, calm = _with_and_without(a, 1800)
    pairs = [(x, y) for x, y in zip(hit, calm, strict=True)
             if x.source == a.source and x.metric == "inflow" and a.active(x.epoch)]
    assert len(pairs) == 48
    gaps = [((x.value or 0) - (y.value or 0)) / sigma("wastewater", a.source, "inflow", x.epoch)
            for x, y in pairs]
    assert gaps == sorted(gaps) and gaps[0] < 0.5 and gaps[-1] > 19.5
    for (x, _y), gap in zip(pairs, gaps, strict=True):
        assert gap == pytest.approx(20 * (x.epoch - a.start) / (a.end - a.start), abs=1e-3)


def test_stuck_repeats_one_value_while_the_other_metrics_go_on() -> None:
    a = place("environment", "wq-CL-01", "cod", "stuck", MONDAY_0800, 6 * 60)
    hit, calm = _with_and_without(a, 1800)
    inside = [r for r in by_series(hit, a.source, "cod") if a.active(r.epoch)]
    assert len(inside) == 18 and len({r.value for r in inside}) == 1
    others = [r for r in hit if r.source == a.source and r.metric != "cod" and a.active(r.epoch)]
    assert len({r.value for r in others if r.metric == "tss"}) > 10
    assert len(hit) == len(calm)


def test_silence_stops_the_whole_source() -> None:
    a = place("public_transport", "bus-TK-02", "", "silence", MONDAY_0800, 5 * 60)
    assert a.metric == "delay"  # the bus's heartbeat metric
    hit, calm = _with_and_without(a, 1800)
    mine = [r for r in hit if r.source == a.source]
    assert mine and not [r for r in mine if a.active(r.epoch)]
    assert any(r.epoch >= a.end for r in mine) and any(r.epoch < a.start for r in mine)
    assert len(calm) - len(hit) == 30 * 3  # 3 metrics every 10 s for 300 s


def test_a_count_surge_raises_counts_well_above_normal() -> None:
    w = catalog.group("traffic").window_s
    a = place("traffic", "trf-CL-03", "signal_faults", "count_surge", MONDAY_0800, 3 * w)
    hit, _calm = _with_and_without(a, 1800)
    per_window = Counter(int(r.epoch // w) for r in by_series(hit, a.source, "signal_faults"))
    inside = [per_window[int(a.start // w) + i] for i in range(3)]
    outside = [n for k, n in per_window.items() if not a.active(k * w)]
    assert min(inside) >= 5 and sum(inside) >= 25
    assert sum(outside) <= 3


def test_silenced_sources_send_no_events_either() -> None:
    a = place("cybersecurity", "soc-HC-01", "", "silence", MONDAY_0800, 5 * 60)
    assert a.metric == "attacks_blocked"
    hit, calm = _with_and_without(a, 1800)
    assert any(a.active(r.epoch) and r.kind for r in calm)
    assert not any(a.active(r.epoch) for r in hit)


def test_a_random_plan_spreads_labelled_anomalies_after_the_warm_up() -> None:
    duration = 12 * 3600
    plan = AnomalyPlan.random(21, MONDAY_0800, duration, count=30)
    assert len(plan) >= 28
    assert {a.kind for a in plan} == set(KINDS)
    assert all(MONDAY_0800 + WARMUP_S <= a.start < a.end <= MONDAY_0800 + duration for a in plan)
    assert len({a.group for a in plan}) >= 8
    for a in plan:
        g = catalog.group(a.group)
        assert a.start % g.window_s == 0
        lo, hi = WINDOWS[a.kind]
        assert lo * g.window_s <= a.end - a.start <= hi * g.window_s
        assert eligible(a.kind, g.metric(a.metric))
        if a.kind == "silence":
            assert a.metric == catalog.source_kind_of(a.group, a.metric).heartbeat.name
    by_source = defaultdict(list)
    for a in plan:
        by_source[a.source].append(a)
    for items in by_source.values():
        for x, y in itertools.pairwise(sorted(items, key=lambda a: a.start)):
            assert x.end <= y.start


def test_the_default_count_is_a_handful_per_hour_and_kinds_can_be_chosen() -> None:
    plan = AnomalyPlan.random(1, MONDAY_0800, 3 * 3600 + WARMUP_S, kinds=("stuck", "silence"))
    assert len(plan) == 12 and {a.kind for a in plan} == {"stuck", "silence"}
    short = AnomalyPlan.random(1, MONDAY_0800, 600)
    assert len(short) == 1 and short[0].start >= MONDAY_0800 + 200 and short[0].end <= (
        MONDAY_0800 + 600)
    assert len(AnomalyPlan.random(1, MONDAY_0800, 600, count=0)) == 0


def test_only_detectable_pairs_are_allowed() -> None:
    with pytest.raises(UsageError, match="does not fit"):
        place("traffic", "trf-HC-01", "signal_faults", "stuck", MONDAY_0800)
    with pytest.raises(UsageError, match="does not fit"):
        place("socioeconomic", "se-HC-01", "cpi", "stuck", MONDAY_0800)
    with pytest.raises(UsageError, match="no metric"):
        place("traffic", "trf-HC-01", "pm25", "spike", MONDAY_0800)
    with pytest.raises(UsageError, match="unknown source"):
        place("traffic", "trf-XX-01", "speed", "spike", MONDAY_0800)


def test_two_anomalies_on_one_source_may_not_overlap() -> None:
    a = place("traffic", "trf-HC-01", "speed", "level_shift", MONDAY_0800, 600)
    b = place("traffic", "trf-HC-01", "volume", "stuck", MONDAY_0800 + 300, 600)
    with pytest.raises(UsageError, match="overlap"):
        AnomalyPlan([a, b])
    AnomalyPlan([a, place("traffic", "trf-HC-01", "volume", "stuck", a.end, 600)])


def test_the_sign_keeps_values_physical() -> None:
    up = place("public_security", "sec-HC-01", "camera_uptime", "level_shift", MONDAY_0800)
    assert up.sign == -1  # 98.5 % + 6 sigma would pass 100 %
    rain = place("flooding", "rain-HC-01", "rainfall", "spike", MONDAY_0800)
    assert rain.sign == 1


def test_ground_truth_round_trips_as_json_lines(tmp_path: Path) -> None:
    plan = AnomalyPlan.random(2, MONDAY_0800, 4 * 3600)
    path = tmp_path / "truth.jsonl"
    assert write_truth(path, plan) == len(plan) > 0
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    assert list(first) == ["group", "source", "metric", "kind", "start", "end", "district"]
    assert [(a.source, a.kind, a.start, a.end) for a in read_truth(path)] == [
        (a.source, a.kind, a.start, a.end) for a in plan]


def test_a_run_cut_short_reports_only_what_it_injected() -> None:
    plan = AnomalyPlan([
        place("traffic", "trf-HC-01", "speed", "level_shift", MONDAY_0800, 600),
        place("traffic", "trf-HC-02", "speed", "level_shift", MONDAY_0800 + 900, 600)])
    done = plan.started_before(MONDAY_0800 + 300)
    assert [(a.source, a.end) for a in done] == [("trf-HC-01", MONDAY_0800 + 300)]


def test_anomalies_must_name_simulated_sources() -> None:
    plan = AnomalyPlan([place("traffic", "trf-HC-01", "speed", "spike", MONDAY_0800)])
    with pytest.raises(UsageError, match="not simulated"):
        CitySimulator(1, MONDAY_0800, 60, anomalies=plan, groups=["flooding"])


# --- pacing and option parsing ---------------------------------------------------------------


def test_rate_maps_to_a_speed() -> None:
    natural = CitySimulator(1, MONDAY_0800).natural_rate
    assert speed_for_rate(None, natural) == 1.0
    assert speed_for_rate(0, natural) is None
    assert speed_for_rate(natural * 50, natural) == pytest.approx(50)


def test_the_pacer_waits_for_simulated_time() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    pacer = Pacer(10.0, clock=lambda: now[0], sleep=sleep)
    pacer.wait(0)
    pacer.wait(20)
    now[0] += 5  # fell behind: no sleep
    pacer.wait(30)
    assert slept == [2.0]
    assert Pacer(None).wait(1e9) == 0.0


def test_options_are_parsed_with_one_line_errors() -> None:
    assert parse_start("2026-11-23T08:00:00+07:00") == MONDAY_0800
    assert parse_start(None, now=lambda: 1795395600.7) == MONDAY_0800
    for bad in ("yesterday", "2026-11-23T08:00:00"):
        with pytest.raises(UsageError, match="--start"):
            parse_start(bad)
    with pytest.raises(UsageError, match="--rate: expected a number"):
        parse_number("--rate", "fast")
    with pytest.raises(UsageError, match="--seed: expected a whole number"):
        parse_number("--seed", "1.5", integer=True)
