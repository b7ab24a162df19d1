"""SeriesIds.lookup: a remembered (sources, metrics) sequence gives the same ids as a fresh
look-up, never the ids of another sequence with the same length and ends, and a dropped
series is not admitted through the memory."""

from __future__ import annotations

import pytest

from streams.window_columns import SeriesIds


def ids_of(*keys: tuple[str, str]) -> SeriesIds:
    s = SeriesIds()
    for k in keys:
        s.admit(k)
    return s


def test_a_repeated_sequence_gives_the_same_ids() -> None:
    s = ids_of(("a", "speed"), ("b", "speed"), ("a", "volume"))
    first = s.lookup(["a", "b", "a"], ["speed", "speed", "volume"])
    again = s.lookup(["a", "b", "a"], ["speed", "speed", "volume"])
    assert first is not None and again is not None
    assert first.tolist() == again.tolist() == [0, 1, 2]


def test_the_same_length_and_ends_with_another_middle_is_looked_up_again() -> None:
    s = ids_of(("a", "speed"), ("b", "speed"), ("c", "speed"), ("a", "volume"))
    got = s.lookup(["a", "b", "a"], ["speed", "speed", "volume"])
    other = s.lookup(["a", "c", "a"], ["speed", "speed", "volume"])
    metrics = s.lookup(["a", "b", "a"], ["speed", "volume", "volume"])
    assert got is not None and got.tolist() == [0, 1, 3]
    assert other is not None and other.tolist() == [0, 2, 3]
    assert metrics is None  # ("b", "volume") has no id


def test_a_dropped_series_is_not_admitted_through_the_memory() -> None:
    s = ids_of(("a", "speed"), ("b", "speed"))
    assert s.lookup(["a", "b"], ["speed", "speed"]) is not None
    s.drop(("b", "speed"))
    assert s.lookup(["a", "b"], ["speed", "speed"]) is None
    s.admit(("b", "speed"))
    got = s.lookup(["a", "b"], ["speed", "speed"])
    assert got is not None and got.tolist() == [0, 1]


def test_remembered_ids_are_read_only() -> None:
    s = ids_of(("a", "speed"))
    got = s.lookup(["a"], ["speed"])
    assert got is not None
    with pytest.raises(ValueError):
        got[0] = 5
