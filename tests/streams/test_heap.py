"""The worker's heap: blocks from the pinned threshold up are mapped on their own."""

from __future__ import annotations

import subprocess
import sys

import pytest

# in a fresh interpreter (a long-lived heap may hold a free chunk that fits, which glibc
# hands out before it maps anything): free a 16 MiB block, which raises glibc's own
# threshold to 16 MiB unless pinned, then take a 2 MiB one; print the mappings it added
PROBE = """
import ctypes, sys
import numpy as np
from streams.heap import MMAP_THRESHOLD, pin_mmap_threshold

class Mallinfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

try:
    mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
except (OSError, AttributeError):
    print("skip")
    sys.exit()
mallinfo2.restype = Mallinfo2
if sys.argv[1] == "pinned":
    assert pin_mmap_threshold()
big = np.ones(16 << 20, dtype=np.uint8)
del big
before = mallinfo2().hblks
column = np.ones(2 * MMAP_THRESHOLD, dtype=np.uint8)
print(mallinfo2().hblks - before)
"""


def mappings_added(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    if out == "skip":
        pytest.skip("needs glibc 2.33 or later (mallinfo2)")
    return int(out)


def test_a_column_past_the_threshold_is_mapped_even_after_a_larger_one_was_freed() -> None:
    assert mappings_added("unpinned") == 0  # glibc's raised threshold: from the heap
    assert mappings_added("pinned") == 1


def test_trimming_the_heap_is_harmless() -> None:
    from streams.heap import trim_heap
    trim_heap()
