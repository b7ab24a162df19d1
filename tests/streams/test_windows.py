"""Tumbling event-time windows per partition: alignment, lateness, drops, due windows."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import WindowStats
from ioc.events import Reading
from streams.windows import JUMP_CONFIRM, PartitionWindows, stats_of, window_start, window_stats

T0 = 1_795_410_000.0  # a multiple of 60 and 300


def reading(ts: float, value: float | None = 1.0, source: str = "rain-HC-01",
            metric: str = "rainfall") -> Reading:
    if value is None:
        return Reading(group="citizen_feedback", source="cf-HC-01", metric="tickets_opened",
                       kind="app", ts=ts, district="Hai Chau")
    return Reading(group="flooding", source=source, metric=metric, value=value, ts=ts,
                   district="Hai Chau")


def windows(lateness: float = 30.0, width: float = 60.0) -> PartitionWindows:
    return PartitionWindows("flooding", 0, width=width, lateness=lateness)


def test_windows_are_aligned_to_multiples_of_their_width() -> None:
    assert window_start(T0 + 59.999, 60.0) == T0
    assert window_start(T0 + 60.0, 60.0) == T0 + 60
    assert window_start(T0 + 299.0, 300.0) == T0


def test_accumulator_matches_the_statistics_of_the_values() -> None:
    pw = windows()
    values = [3.0, 1.0, 4.0, 1.5, 9.0]
    pw.add([reading(T0 + i, v) for i, v in enumerate(values)])
    acc = pw.open[T0][("rain-HC-01", "rainfall")]
    got, want = stats_of(acc, T0, 60.0), WindowStats.of(values, T0, T0 + 60)
    assert (got.count, got.min, got.max, got.last) == (want.count, want.min, want.max, want.last)
    assert got.mean == pytest.approx(want.mean)
    assert got.std == pytest.approx(want.std)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1,
                max_size=40))
def test_accumulator_statistics_property(values: list[float]) -> None:
    """Any values: count/min/max/last exact, mean and std within floating-point error."""
    pw = windows()
    pw.add([reading(T0 + i % 60, v) for i, v in enumerate(values)])
    s = stats_of(pw.open[T0][("rain-HC-01", "rainfall")], T0, 60.0)
    w = WindowStats.of(values, T0, T0 + 60)
    assert (s.count, s.min, s.max, s.last) == (w.count, w.min, w.max, w.last)
    assert s.mean == pytest.approx(w.mean, rel=1e-9, abs=1e-6)
    # two passes (deviations from the mean): no cancellation, whatever the level; squares
    # below ~1e-300 are subnormal and keep fewer digits, hence the absolute floor
    assert s.std == pytest.approx(w.std, rel=1e-6,
                                  abs=max(1e-9 * max(abs(v) for v in values), 1e-150))


def test_std_keeps_its_precision_far_from_zero() -> None:
    pw = windows()
    pw.add([reading(T0, 150700.656), reading(T0 + 1, 150700.658)])
    s = stats_of(pw.open[T0][("rain-HC-01", "rainfall")], T0, 60.0)
    assert s.std == pytest.approx(0.0014142, rel=1e-3)


def test_counted_events_count_one_each() -> None:
    pw = PartitionWindows("citizen_feedback", 0, width=300.0, lateness=30.0)
    assert pw.add([reading(T0 + i, None) for i in range(7)]) == (7, 0, 0)
    w = stats_of(pw.open[T0][("cf-HC-01", "tickets_opened")], T0, 300.0, "count")
    assert w.value == 7.0


def test_a_window_closes_at_its_end_plus_the_allowed_lateness() -> None:
    pw = windows(lateness=30.0)
    pw.add([reading(T0 + 10)])
    pw.add([reading(T0 + 89)])
    assert pw.due() == []
    pw.add([reading(T0 + 90)])
    assert pw.due() == [T0]


def test_late_readings_count_into_their_window_and_are_flagged() -> None:
    pw = windows(lateness=30.0)
    pw.add([reading(T0 + 10, 1.0), reading(T0 + 70, 1.0)])
    accepted, late, dropped = pw.add([reading(T0 + 20, 5.0)])  # clock 70: window ended at 60
    assert (accepted, late, dropped) == (1, 1, 0)
    values, late = pw.pop(T0)
    assert values[("rain-HC-01", "rainfall")] == [1.0, 5.0]
    assert late == {("rain-HC-01", "rainfall"): 1}
    assert pw.late == {}


def test_readings_after_their_window_closed_are_dropped_and_reported_per_key() -> None:
    pw = windows(lateness=0.0)
    pw.add([reading(T0 + 10), reading(T0 + 61)])
    assert pw.due() == [T0]
    pw.pop(T0)
    assert pw.add([reading(T0 + 5), reading(T0 + 62)]) == (1, 0, 1)
    assert pw.dropped == {("rain-HC-01", "rainfall"): 1}


def test_a_clock_jump_makes_every_window_in_between_due() -> None:
    pw = windows(lateness=0.0)
    pw.add([reading(T0 + 1)])
    pw.advance_to(T0 + 60 * 5 + 1)
    assert pw.due() == [T0 + 60 * i for i in range(5)]


def test_after_a_long_gap_only_the_last_windows_are_due() -> None:
    pw = windows(lateness=0.0)
    pw.add([reading(T0 + 1)])
    pw.advance_to(T0 + 60 * 1000)
    due = pw.due(limit=10)
    assert due == [T0 + 60 * i for i in range(990, 1000)]
    assert T0 not in pw.open


def test_the_clock_never_goes_back() -> None:
    pw = windows()
    pw.add([reading(T0 + 100)])
    pw.advance_to(T0)
    assert pw.clock == T0 + 100


def test_new_keys_are_reported_with_their_district() -> None:
    pw = windows()
    pw.known = {("rain-HC-01", "rainfall"): ("rain-HC-01", "rainfall")}
    pw.add([reading(T0), reading(T0, source="rain-TK-01")])
    assert pw.fresh == {("rain-TK-01", "rainfall"): "Hai Chau"}


def test_a_tracked_key_s_windows_share_its_key_object() -> None:
    tracked = ("rain-HC-01", "rainfall")
    pw = windows()
    pw.known = {tracked: tracked}
    pw.add([reading(T0), reading(T0 + 61)])
    assert all(next(iter(w)) is tracked for w in pw.open.values())


def test_empty_window_stats() -> None:
    w = stats_of(None, T0, 60.0)
    assert w.count == 0 and math.isnan(w.mean) and w.end == T0 + 60


def test_bad_window_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="width"):
        PartitionWindows("flooding", 0, width=0.0, lateness=1.0)
    with pytest.raises(ValueError, match="lateness"):
        PartitionWindows("flooding", 0, width=60.0, lateness=-1.0)


def test_a_reading_far_ahead_of_the_clock_is_refused_and_moves_nothing() -> None:
    pw = PartitionWindows("flooding", 0, width=60.0, lateness=30.0, max_jump=3600.0)
    pw.add([reading(T0 + 10)])
    assert pw.add([reading(T0 + 20), reading(T0 + 3 * 365 * 86400.0)]) == (1, 0, 0)
    assert pw.clock == T0 + 20 and list(pw.open) == [T0]
    ((cls, where, reason, r),) = pw.take_refused()
    assert (cls, where, r.epoch) == ("clock_jump", "$.ts", T0 + 3 * 365 * 86400.0)
    assert "IOC_MAX_CLOCK_JUMP_S=3600" in reason and "2029-" in reason
    assert pw.add([reading(T0 + 30)]) == (1, 0, 0)  # live readings go on


def test_a_jump_confirmed_by_many_readings_in_a_row_is_a_real_gap() -> None:
    pw = PartitionWindows("flooding", 0, width=60.0, lateness=0.0, max_jump=3600.0)
    pw.add([reading(T0)])
    later = T0 + 2 * 86400.0
    pw.add([reading(later + i) for i in range(JUMP_CONFIRM - 1)])
    assert pw.clock == T0 and len(pw.take_refused()) == JUMP_CONFIRM - 1
    assert pw.add([reading(later + 100)]) == (1, 0, 0)
    assert pw.clock == later + 100 and pw.take_refused() == []


def test_one_bad_reading_between_good_ones_never_confirms_a_jump() -> None:
    pw = PartitionWindows("flooding", 0, width=60.0, lateness=0.0, max_jump=3600.0)
    pw.add([reading(T0)])
    for i in range(3 * JUMP_CONFIRM):
        pw.add([reading(T0 + 1e6), reading(T0 + i * 0.1)])
    assert pw.clock < T0 + 60


def test_the_clock_never_passes_the_cap_but_the_reading_counts() -> None:
    pw = windows(lateness=0.0)
    pw.add([reading(T0 + 5)], cap=T0 + 10)
    # a sensor whose clock runs four minutes fast
    assert pw.add([reading(T0 + 250, source="rain-HC-02")], cap=T0 + 12) == (1, 0, 0)
    assert pw.clock == T0 + 12 and pw.newest == T0 + 250 and T0 + 240 in pw.open
    # the others' readings are not late: their window is still open
    assert pw.add([reading(T0 + 14)], cap=T0 + 15) == (1, 0, 0)
    assert pw.due() == []


def test_a_fresh_partition_whose_first_reading_is_ahead_starts_at_the_cap() -> None:
    pw = windows(lateness=0.0)
    pw.add([reading(T0 + 250)], cap=T0 + 10)
    assert pw.closed_upto == T0 and pw.clock == T0 + 10
    assert pw.add([reading(T0 + 11)], cap=T0 + 12) == (1, 0, 0)


def test_dropped_readings_are_handed_back_as_late_with_the_window_and_clock() -> None:
    pw = windows(lateness=0.0)
    pw.add([reading(T0 + 10), reading(T0 + 61)])
    pw.pop(T0)
    pw.add([reading(T0 + 5, 7.0)])
    ((cls, where, reason, r),) = pw.take_refused()
    assert (cls, where, r.value) == ("late", "$.ts", 7.0)
    assert reason.startswith("late: the window 2026-11-23T05:00:00Z..2026-11-23T05:01:00Z")
    assert "clock 2026-11-23T05:01:01Z" in reason
    assert pw.dropped == {("rain-HC-01", "rainfall"): 1}  # the summary still reports it


def test_readings_read_again_after_a_restore_are_dropped_but_not_refused() -> None:
    pw = windows(lateness=0.0)
    pw.closed_upto = pw.replayed_upto = T0 + 120
    pw.advance_to(T0 + 120)
    assert pw.add([reading(T0 + 5), reading(T0 + 65)]) == (0, 0, 2)
    assert pw.take_refused() == []
    pw.add([reading(T0 + 200)])
    pw.pop(T0 + 120)
    pw.add([reading(T0 + 130)])
    assert [x[0] for x in pw.take_refused()] == ["late"]


class Budget:
    def __init__(self, room: int) -> None:
        self.room = room
        self.reason = ""

    def admit(self, group: str, source: str, opened_in_message: int) -> bool:
        if self.room <= 0:
            self.reason = "full"
            return False
        self.room -= 1
        return True


def test_the_budget_decides_which_new_keys_open_series() -> None:
    pw = windows()
    pw.budget = Budget(2)
    got = pw.add([reading(T0, source=f"x-{i}") for i in range(4)] + [reading(T0 + 1,
                                                                           source="x-0")])
    assert got == (3, 0, 0)
    assert sorted(pw.fresh) == [("x-0", "rainfall"), ("x-1", "rainfall")]
    assert [(c, f, r.source) for c, f, _, r in pw.take_refused()] == [
        ("series_limit", "$.source", "x-2"), ("series_limit", "$.source", "x-3")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
                         min_size=1, max_size=40), min_size=1, max_size=8))
def test_a_block_s_window_statistics_match_each_series_alone(series: list[list[float]]) -> None:
    """The close's one numpy pass over many series' values gives each series' count, min,
    max and last exactly, its mean and (two-pass) std within floating-point error."""
    count, mean, lo, hi, last, std = window_stats(series, False)
    for j, values in enumerate(series):
        w = WindowStats.of(values, T0, T0 + 60)
        assert (count[j], lo[j], hi[j], last[j]) == (w.count, w.min, w.max, w.last)
        assert mean[j] == pytest.approx(w.mean, rel=1e-9, abs=1e-6)
        assert std[j] == pytest.approx(w.std, rel=1e-6,
                                       abs=max(1e-9 * max(abs(v) for v in values), 1e-150))
