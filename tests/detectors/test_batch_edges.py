"""Batch forms against one-series detectors on the edges their fast paths branch on: rings
of different lengths in one block, rings holding values that overflow single precision,
blocks where every row is live and blocks with empty rows, calls that score without
learning."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors import squash
from detectors.base import Detector, WindowStats, squash_at
from detectors.changepoint import CUSUM, EWMAShift
from detectors.columns import WindowColumns, squash_at_many
from detectors.health import Silence, StuckValue
from detectors.libm import POWER_IS_LIBM
from detectors.rules import PhysicalRange, StaticThreshold
from detectors.statistical import RobustZScore


def _windows(values: list[list[float]], rhythm: float = 1.0) -> list[WindowColumns]:
    """One window per step, row ``i`` holding ``values[step][i]`` (NaN: an empty window)."""
    out = []
    for k, vals in enumerate(values):
        stats = [WindowStats.empty(60.0 * k, 60.0 * k + 60, rhythm=rhythm) if math.isnan(v)
                 else WindowStats(60.0 * k, 60.0 * k + 60, 3, v, v - 0.5, v + 0.5, v, 0.4,
                                  rhythm=rhythm)
                 for v in vals]
        out.append(WindowColumns.of(stats))
    return out


def _agree(proto: Detector, wins: list[WindowColumns], *, score_only_every: int = 0) -> None:
    """Batch and one-series scores, states and explanations agree after every step (every
    ``score_only_every``-th step scores twice before learning)."""
    n = len(wins[0])
    cols = proto.columns()
    cols.add(n)
    ones = [proto.clone() for _ in range(n)]
    rows = np.arange(n)
    for k, w in enumerate(wins):
        if score_only_every and k % score_only_every == 0:
            cols.score_many(rows, w)
        got = cols.score_many(rows, w).tolist()
        cols.learn_many(rows, w)
        want = [d.update_window(w.row(i)) for i, d in enumerate(ones)]
        assert got == want, f"step {k}"
        for i, d in enumerate(ones):
            assert cols.get_state(i) == d.get_state(), f"step {k} row {i}"
            assert repr(cols.explain(i)) == repr(d.explain()), f"step {k} row {i}"


def test_robust_z_rows_with_rings_of_different_lengths_and_overflowing_values() -> None:
    """Rows fill their rings at different speeds (empty windows), one learns a value beyond
    single precision (its ring holds inf and takes the one-series path)."""
    rng = np.random.default_rng(3)
    steps = []
    for k in range(40):
        vals = (10.0 + rng.normal(0.0, 1.0, 6)).tolist()
        vals[1] = math.nan if k % 3 == 0 else vals[1]
        vals[2] = math.nan if k % 2 == 0 else vals[2]
        vals[3] = 1e39 if k == 5 else vals[3]
        vals[4] = 7.0  # flat: the mean-deviation fallback
        steps.append(vals)
    _agree(RobustZScore(window=9, min_samples=4), _windows(steps))
    _agree(RobustZScore(window=8, min_samples=3), _windows(steps, rhythm=1.3))


@pytest.mark.parametrize("make", [
    lambda: StuckValue(threshold=4), lambda: CUSUM(min_samples=4), lambda: Silence(min_samples=2),
    lambda: EWMAShift(min_samples=4), lambda: PhysicalRange(low=0.0, high=12.0),
    lambda: StaticThreshold(below=9.0), lambda: RobustZScore(window=8, min_samples=3)])
def test_scoring_twice_before_learning_changes_nothing(make) -> None:  # type: ignore[no-untyped-def]
    """A score without a learn (or twice before one) leaves the batch form as the one-series
    form: whatever it keeps between the two verbs belongs to that one call."""
    rng = np.random.default_rng(5)
    steps = []
    for k in range(30):
        vals = (10.0 + rng.normal(0.0, 1.0, 5)).tolist()
        vals[0] = 10.0 if k > 10 else vals[0]  # stuck
        vals[1] = math.nan if 12 <= k < 16 else vals[1]  # silent, then back
        vals[2] = 15.0 if k == 20 else vals[2]
        steps.append(vals)
    _agree(make(), _windows(steps), score_only_every=3)
    _agree(make(), _windows(steps, rhythm=0.7))


@pytest.mark.parametrize("make", [lambda: StuckValue(threshold=4), lambda: CUSUM(min_samples=4)])
def test_what_score_hands_to_learn_is_dropped_when_rows_or_state_change(make) -> None:  # type: ignore[no-untyped-def]
    """Between a score and a learn, a restored row, reordered rows, other rows or a rows
    array changed in place make the learn work from the state, as one series would."""
    rng = np.random.default_rng(9)
    wins = _windows([[10.0, 10.0, 10.0 + rng.normal(), 11.0] for _ in range(24)])
    proto = make()
    cols = proto.columns()
    cols.add(4)
    ones = [proto.clone() for _ in range(4)]
    rows = np.arange(4)
    for w in wins[:20]:
        cols.update_many(rows, w)
        for i, d in enumerate(ones):
            d.update_window(w.row(i))
    w = wins[20]
    cols.score_many(rows, w)  # restored row
    cols.set_state(1, ones[3].get_state())
    ones[1].set_state(ones[3].get_state())
    cols.learn_many(rows, w)
    for i, d in enumerate(ones):
        d.learn_window(w.row(i))
    w = wins[21]
    cols.score_many(rows, w)  # reordered rows
    cols.keep(np.array([3, 2, 1, 0]))
    ones.reverse()
    cols.learn_many(rows, w)
    for i, d in enumerate(ones):
        d.learn_window(w.row(i))
    w = wins[22]
    cols.score_many(rows, w)  # the same rows in another order, then changed in place
    back = rows[::-1].copy()
    cols.learn_many(back, w)
    for j, i in enumerate(back.tolist()):
        ones[i].learn_window(w.row(j))
    w = wins[23]
    mine = rows.copy()
    cols.score_many(mine, w)
    mine[:] = mine[::-1].copy()
    cols.learn_many(mine, w)
    for j, i in enumerate(mine.tolist()):
        ones[i].learn_window(w.row(j))
    for i, d in enumerate(ones):
        assert cols.get_state(i) == d.get_state(), f"row {i}"


@pytest.mark.parametrize("numpy_power", [True, False], ids=["numpy-power", "per-element"])
def test_squash_at_many_is_squash_at_bit_for_bit(numpy_power: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every element as the one-series mapping: 0, 1, NaN, inf, negatives, tiny and huge
    statistics, blocks where every element lies strictly between and blocks where none does;
    with numpy's power (where it is the C library's, as on this machine or not) and without."""
    if numpy_power and not POWER_IS_LIBM:
        pytest.skip("numpy's float64 power is not the C library's pow on this machine")
    monkeypatch.setattr(squash, "POWER_IS_LIBM", numpy_power)
    rng = np.random.default_rng(11)
    special = [0.0, -1.0, math.nan, math.inf, -math.inf, 1e308, 3e-5, 4.0, 12.0, 1e-320]
    for _ in range(100):
        raw = np.concatenate([rng.choice(special, size=rng.integers(0, 6)),
                              np.abs(rng.normal(0.0, 5.0, rng.integers(0, 40)))])
        for threshold in (4.0, 6.0, 1e-3, 10.0):
            got = squash_at_many(raw, threshold)
            assert got.dtype == np.float64
            assert got.tolist() == [squash_at(v, threshold) for v in raw.tolist()]


def test_physical_range_reads_the_value_where_min_or_max_is_missing() -> None:
    """A live window without a finite min or max is judged on its value, in the batch form
    as alone (and a block with none outside the range scores 0 everywhere)."""
    proto = PhysicalRange(low=0.0, high=12.0)
    for mean, lo, hi in (([5.0, -3.0, 20.0], [math.nan, math.nan, 4.0], [6.0, 1.0, math.nan]),
                         ([5.0, 6.0, 7.0], [math.nan, 5.0, -math.inf], [6.0, math.inf, 8.0]),
                         ([5.0, 6.0, 7.0], [4.0, 5.0, 6.0], [6.0, 7.0, 8.0])):
        w = WindowColumns(start=0.0, end=60.0, count=[3, 3, 3], mean=mean, min=lo, max=hi)
        cols = proto.columns()
        cols.add(3)
        got = cols.update_many(np.arange(3), w).tolist()
        ones = [proto.clone() for _ in range(3)]
        assert got == [d.update_window(w.row(i)) for i, d in enumerate(ones)]
        for i, d in enumerate(ones):
            assert repr(cols.explain(i)) == repr(d.explain())


def test_robust_z_blocks_larger_than_a_sorting_chunk() -> None:
    """More rows than the batch form sorts together (``_CHUNK``), rings of several lengths:
    every row's score and state as alone."""
    from detectors.statistical import _CHUNK

    n = _CHUNK + 37
    rng = np.random.default_rng(13)
    level = rng.choice([0.0, 5.0, 300.0], size=n)
    steps = []
    for _ in range(12):
        vals = level + rng.normal(0.0, 1.0, n) * (level > 1.0)
        vals[rng.random(n) < 0.2] = math.nan
        steps.append(vals.tolist())
    proto = RobustZScore(window=6, min_samples=3)
    cols = proto.columns()
    cols.add(n)
    ones = [proto.clone() for _ in range(n)]
    rows = np.arange(n)
    for w in _windows(steps):
        got = cols.update_many(rows, w).tolist()
        assert got == [d.update_window(w.row(i)) for i, d in enumerate(ones)]
    assert [cols.get_state(i) for i in range(n)] == [d.get_state() for d in ones]
