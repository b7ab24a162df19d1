"""The detector contract in detectors/base.py: window stats, score mappings, state helpers."""

from __future__ import annotations

import array
import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.base import (
    Detector,
    Explanation,
    WindowStats,
    clamp01,
    dump_attrs,
    is_finite,
    load_attrs,
    squash_at,
    squash_ratio,
)
from detectors.statistical import RobustZScore


class Last(Detector):
    """Scores 1 when the value differs from the previous one (a minimal detector)."""

    name = "last"
    version = "2"
    state_attrs = ("_prev", "_ring")
    __slots__ = ("_prev", "_ring", "size")

    def __init__(self, *, size: int = 4) -> None:
        super().__init__()
        self.size = size
        self._prev = math.nan
        self._ring = array.array("d")

    def score_one(self, x: float, ts: float) -> float:
        s = 1.0 if is_finite(x) and is_finite(self._prev) and x != self._prev else 0.0
        return self._scored(s, raw=s, baseline=self._prev)

    def learn_one(self, x: float, ts: float) -> None:
        if is_finite(x):
            self._prev = x
            self._ring.append(x)
            del self._ring[: -self.size]

    def recent(self) -> tuple[float, ...]:
        return tuple(self._ring)


def test_window_value_is_mean_for_measures_and_count_for_counted_events() -> None:
    m = WindowStats.of([1.0, 2.0, 6.0], 0.0, 60.0)
    c = WindowStats.of([1.0, 2.0, 6.0], 0.0, 60.0, kind="count")
    assert (m.value, c.value) == (3.0, 3.0)
    c2 = WindowStats(0.0, 60.0, 7, math.nan, math.nan, math.nan, math.nan, math.nan, "count")
    assert c2.value == 7.0 and c2.is_count


def test_window_stats_of_skips_non_finite_and_empty_gives_nans() -> None:
    w = WindowStats.of([1.0, math.nan, 3.0, math.inf], 0.0, 60.0)
    assert (w.count, w.mean, w.min, w.max, w.last) == (2, 2.0, 1.0, 3.0, 3.0)
    e = WindowStats.of([], 0.0, 60.0)
    assert e.is_empty and math.isnan(e.mean) and math.isnan(e.value)


def test_window_stats_are_frozen_and_slotted() -> None:
    w = WindowStats.empty(0.0, 60.0)
    with pytest.raises(AttributeError):
        w.count = 3  # type: ignore[misc]
    assert not hasattr(w, "__dict__")


def test_empty_measure_windows_are_neither_scored_nor_learned_by_default() -> None:
    d = Last()
    d.update(5.0, 0.0)
    assert d.update_window(WindowStats.empty(0.0, 60.0)) == 0.0
    assert d.recent() == (5.0,)


def test_update_scores_before_learning() -> None:
    d = Last()
    assert d.update(1.0, 0.0) == 0.0  # nothing to compare with yet
    assert d.update(2.0, 1.0) == 1.0  # judged against 1.0, then learned
    assert d.update(2.0, 2.0) == 0.0


def test_explain_describes_the_last_score() -> None:
    d = Last()
    for x in (1.0, 2.0, 3.0):
        d.update(x, 0.0)
    d.score_one(9.0, 0.0)
    e = d.explain()
    assert isinstance(e, Explanation)
    assert (e.score, e.raw, e.baseline, e.contributing) == (1.0, 1.0, 3.0, (1.0, 2.0, 3.0))


def test_params_clone_and_defaults() -> None:
    d = Last(size=7)
    d.update(1.0, 0.0)
    assert d.params() == {"size": 7}
    assert Last.defaults() == {"size": 4}
    c = d.clone()
    assert type(c) is Last and c.params() == {"size": 7} and c.recent() == ()
    assert repr(d) == "Last(size=7)"


def test_state_round_trip_restores_arrays_and_floats() -> None:
    d = Last()
    for x in (1.0, 2.0, 3.0):
        d.update(x, 0.0)
    twin = Last()
    twin.set_state(d.get_state())
    assert twin.recent() == (1.0, 2.0, 3.0) and twin.score_one(3.0, 0.0) == 0.0
    assert isinstance(twin._ring, array.array)


def test_set_state_rejects_garbage_other_versions_and_layouts() -> None:
    d = Last()
    with pytest.raises(ValueError, match="not msgpack"):
        d.set_state(b"\xc1")
    with pytest.raises(ValueError, match="version '1', this is '2'"):
        d.set_state(msgspec.msgpack.encode(["1", 1.0, b""]))
    with pytest.raises(ValueError, match="layout"):
        d.set_state(msgspec.msgpack.encode(["2", 1.0]))
    with pytest.raises(ValueError, match="array"):
        d.set_state(msgspec.msgpack.encode(["2", 1.0, b"abc"]))


def test_state_of_another_detector_is_rejected() -> None:
    with pytest.raises(ValueError):
        Last().set_state(RobustZScore().get_state())


def test_dump_and_load_attrs_keep_ints_tuples_and_coerce_int_to_float() -> None:
    class Box:
        def __init__(self) -> None:
            self.f, self.t, self.n = 0.5, (1, 2), 3

    src, dst = Box(), Box()
    src.f, src.t, src.n = 2.0, (3, 4), 9
    data = msgspec.msgpack.encode(["v", 2, [3, 4], 9])  # an int where a float lives
    load_attrs(dst, ("f", "t", "n"), "v", data)
    assert (dst.f, dst.t, dst.n) == (2.0, (3, 4), 9) and isinstance(dst.f, float)
    load_attrs(dst, ("f", "t", "n"), "v", dump_attrs(src, ("f", "t", "n"), "v"))
    assert (dst.f, dst.t, dst.n) == (2.0, (3, 4), 9)


@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(0.01, 100.0))
def test_squash_at_is_a_score(raw: float, threshold: float) -> None:
    s = squash_at(raw, threshold)
    assert 0.0 <= s <= 1.0


@given(st.floats(0.0, 50.0), st.floats(0.0, 50.0), st.floats(0.1, 10.0))
def test_squash_at_is_monotone(a: float, b: float, threshold: float) -> None:
    lo, hi = sorted((a, b))
    assert squash_at(lo, threshold) <= squash_at(hi, threshold)


def test_squash_at_gives_point_nine_at_the_threshold() -> None:
    for t in (0.15, 1.0, 4.0, 5.0, 20.0):
        assert squash_at(t, t) == pytest.approx(0.9)
        assert squash_at(t * 2 ** 0.25, t) == pytest.approx(0.99)


def test_squash_ratio_and_clamp() -> None:
    assert squash_ratio(math.inf, 1.0) == 1.0 and squash_ratio(math.nan, 1.0) == 0.0
    assert clamp01(math.inf) == 1.0 and clamp01(-math.inf) == 0.0


def test_is_finite_accepts_numpy_floats_but_not_bools_or_strings() -> None:
    np = pytest.importorskip("numpy")
    assert is_finite(np.float64(1.5)) and is_finite(3)
    assert not is_finite(True) and not is_finite("1.0") and not is_finite(np.float64("nan"))


def test_detectors_use_slots_so_instances_have_no_dict() -> None:
    assert not hasattr(RobustZScore(), "__dict__")


def test_a_rejected_state_leaves_the_detector_unchanged() -> None:
    d = Last()
    d.update(4.0, 0.0)
    before = d.get_state()
    with pytest.raises(ValueError):
        d.set_state(msgspec.msgpack.encode(["2", 9.0, b"abc"]))
    assert d.get_state() == before
