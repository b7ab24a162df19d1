"""The worker's heap: blocks from the pinned threshold up are mapped on their own."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from streams.heap import MMAP_THRESHOLD, pin_mmap_threshold, trim_heap


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _mallinfo2() -> _Mallinfo2:
    try:
        fn = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        pytest.skip("needs glibc 2.33 or later (mallinfo2)")
    fn.restype = _Mallinfo2
    return fn()


def test_a_column_past_the_threshold_is_mapped_even_after_a_larger_one_was_freed() -> None:
    """Unpinned, glibc would serve it from the heap: freeing the 16 MiB block raises its
    threshold to 16 MiB."""
    assert pin_mmap_threshold()
    big = np.ones(16 << 20, dtype=np.uint8)
    del big
    before = _mallinfo2()
    column = np.ones(2 * MMAP_THRESHOLD, dtype=np.uint8)
    after = _mallinfo2()
    assert after.hblks == before.hblks + 1
    assert after.hblkhd - before.hblkhd >= column.nbytes
    trim_heap()  # and trimming still works beside it
