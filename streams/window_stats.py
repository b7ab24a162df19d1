"""Statistics of closing windows: (count, mean, min, max, last, std) per series, in one pass.

:func:`segment_stats` reduces consecutive segments of one flat array (every series' values
together, in arrival order). :func:`repeat_stats` gives the same figures, bit for bit, for
the common shape of a gateway's stream: every message of the window carries the same series
once each, so the window is a matrix (one row per message, one column per series) and needs
no sort. It adds up the rows in the order numpy's ``add.reduceat`` adds a segment (the first
value, then the others by numpy's pairwise summation), so both give the same bits.

>>> m = [np.array([1.0, 4.0]), np.array([3.0, 5.0]), np.array([2.0, 9.0])]
>>> present, stats = repeat_stats(np.array([7, 2]), m)
>>> present.tolist(), [c.tolist() for c in stats]
([2, 7], [[3, 3], [6.0, 2.0], [4.0, 1.0], [9.0, 3.0], [9.0, 2.0], [2.6457513110645907, 1.0]])
>>> flat, sizes = np.array([4.0, 5.0, 9.0, 1.0, 3.0, 2.0]), np.array([3, 3])
>>> all(np.array_equal(a, b) for a, b in zip(stats, segment_stats(flat, sizes, False)))
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["repeat_stats", "segment_stats", "stable_order"]

_PW_UNROLL = 8      # numpy's pairwise summation: 8 partial sums ...
_PW_BLOCK = 128     # ... over blocks of at most 128 values, larger ones halved


def segment_stats(flat: np.ndarray, sizes: np.ndarray, counted: bool
                  ) -> tuple[np.ndarray, ...]:
    """(count, mean, min, max, last, std) of consecutive segments of ``flat`` (``sizes``:
    their lengths, none zero). Counted events count one each: mean, min, max and last are 1,
    std 0. The standard deviation is the sample one, in two passes (deviations to the mean).

    >>> [c.tolist() for c in segment_stats(np.array([1.0, 3.0, 2.0, 4.0]), np.array([3, 1]),
    ...                                    False)]
    [[3, 1], [2.0, 4.0], [1.0, 4.0], [3.0, 4.0], [2.0, 4.0], [1.0, 0.0]]
    """
    if counted:
        one = np.ones(len(sizes))
        return sizes, one, one, one, one, np.zeros(len(sizes))
    starts = np.zeros(len(sizes), dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    mean = np.add.reduceat(flat, starts) / sizes
    dev = flat - np.repeat(mean, sizes)
    ss = np.add.reduceat(dev * dev, starts)
    std = np.sqrt(ss / np.maximum(sizes - 1, 1))
    std[sizes == 1] = 0.0
    return (sizes, mean, np.minimum.reduceat(flat, starts), np.maximum.reduceat(flat, starts),
            flat[starts + sizes - 1], std)


def stable_order(ids: np.ndarray, bound: int) -> np.ndarray:
    """The stable sorting order of non-negative ``ids`` below ``bound``: by radix sort (numpy's
    stable sort of 16-bit integers, about 4x faster than of 64-bit ones) when they fit.

    >>> stable_order(np.array([3, 1, 3, 0]), 4).tolist()
    [3, 1, 0, 2]
    """
    if bound <= 1 << 16:
        ids = ids.astype(np.uint16)
    return np.argsort(ids, kind="stable")


def repeat_stats(ids: np.ndarray, rows: Sequence[np.ndarray]
                 ) -> tuple[np.ndarray, tuple[np.ndarray, ...]] | None:
    """The window's ids present (ascending) and their statistics, as :meth:`WindowBuffer.stats
    <streams.window_columns.WindowBuffer.stats>` gives them, when every chunk holds the series
    ``ids`` in this order (``rows``: the chunks' values); None when ``ids`` repeats a series
    (then the chunks are not a matrix)."""
    order = np.argsort(ids)
    present = ids[order]
    if len(present) > 1 and not (present[1:] != present[:-1]).all():
        return None
    m = np.stack(rows)
    k = len(rows)
    with np.errstate(invalid="ignore"):
        mean = _segment_sums(m) / k
        dev = m - mean
        std = np.sqrt(_segment_sums(dev * dev) / max(k - 1, 1)) if k > 1 else \
            np.zeros(len(ids))
    stats = (np.full(len(ids), k, dtype=np.int64), mean, m.min(axis=0), m.max(axis=0), m[-1],
             std)
    return present, tuple(c[order] for c in stats)


def _segment_sums(m: np.ndarray) -> np.ndarray:
    """Column sums of ``m`` in ``np.add.reduceat``'s order: the first row, plus the pairwise
    sum of the others."""
    return m[0] + _pairwise(m[1:]) if len(m) > 1 else m[0].copy()


def _pairwise(a: np.ndarray) -> np.ndarray:
    """numpy's pairwise summation of the rows of ``a`` (not empty), column by column."""
    n = len(a)
    if n < _PW_UNROLL:
        out = a[0].copy()
        for i in range(1, n):
            out += a[i]
        return out
    if n <= _PW_BLOCK:
        r = a[:_PW_UNROLL].copy()
        body = n - n % _PW_UNROLL
        for i in range(_PW_UNROLL, body, _PW_UNROLL):
            r += a[i:i + _PW_UNROLL]
        out = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for i in range(body, n):
            out += a[i]
        return out
    half = n // 2
    half -= half % _PW_UNROLL
    return _pairwise(a[:half]) + _pairwise(a[half:])
