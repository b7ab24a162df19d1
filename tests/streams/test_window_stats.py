"""The window statistics: the matrix form of a gateway's repeated packs gives the sort form's
bits (numpy's add.reduceat order, pairwise summation included) for every window length."""

from __future__ import annotations

import numpy as np
import pytest

from streams.window_columns import SeriesIds, WindowBuffer
from streams.window_stats import repeat_stats, segment_stats


def _by_sort(ids: np.ndarray, rows: list[np.ndarray]) -> tuple[np.ndarray, tuple]:
    flat_ids = np.concatenate([ids] * len(rows))
    flat = np.concatenate(rows)
    order = np.argsort(flat_ids, kind="stable")
    sizes = np.full(len(ids), len(rows))
    return np.sort(ids), segment_stats(flat[order], sizes, False)


@pytest.mark.parametrize("k", [*range(1, 20), 60, 127, 128, 129, 130, 255, 256, 257, 600])
def test_repeat_stats_has_the_bits_of_the_sort_form(k: int) -> None:
    rng = np.random.default_rng(k)
    n = 37
    ids = rng.permutation(200)[:n]
    scale = rng.choice([1e-6, 1.0, 1e9], n)
    rows = [rng.normal(5.0, 3.0, n) * scale for _ in range(k)]
    rows[0][3] = np.nan  # a counted event's value
    present, stats = repeat_stats(ids, rows)
    want_present, want = _by_sort(ids, rows)
    assert present.tolist() == want_present.tolist()
    for got, expected in zip(stats, want, strict=True):
        assert np.array_equal(got, expected, equal_nan=True)


def test_repeated_series_are_not_a_matrix() -> None:
    assert repeat_stats(np.array([1, 2, 1]), [np.zeros(3)]) is None


def test_window_buffer_takes_either_form() -> None:
    ids = SeriesIds()
    a, b, c = (ids.admit((s, "rainfall")) for s in ("x", "y", "z"))
    same = np.array([c, a, b])
    rng = np.random.default_rng(3)
    stacked, mixed = WindowBuffer(ids), WindowBuffer(ids)
    for _ in range(9):
        values = rng.random(3)
        stacked.append(same, values)
        mixed.append(same.copy(), values)  # not one array object: the sort form
    for (p1, s1), (p2, s2) in [(stacked.stats(), mixed.stats())]:
        assert p1.tolist() == p2.tolist() == [a, b, c]
        assert all(np.array_equal(x, y) for x, y in zip(s1, s2, strict=True))


def test_block_names_follow_the_rows_and_are_never_changed_in_place() -> None:
    from streams.runtime import DetectorRuntime
    from streams.series import DISTRICT_NAMES, SeriesBlock

    block = SeriesBlock(DetectorRuntime.build().plan("flooding", "rainfall"))
    block.add_many([("a", "rainfall"), ("b", "rainfall")], ["Son Tra", "Hai Chau"])
    first = block.names()
    assert block.names() is first  # listed once
    held = list(first.sources)
    block.add_many([("c", "rainfall")], ["Son Tra"])
    second = block.names()
    assert second.sources == ["a", "b", "c"] and first.sources == held  # not extended
    g = second.groups
    runs = {DISTRICT_NAMES[c]: g.sources[lo:hi] for c, (lo, hi) in zip(g.codes, g.spans,
                                                                          strict=True)}
    assert runs == {"Son Tra": ["a", "c"], "Hai Chau": ["b"]}
    block.keep([2, 0])
    assert block.names().sources == ["c", "a"] and second.sources == ["a", "b", "c"]
