"""Questions about a block's boolean masks, at the cost of a block of a few hundred rows.

A window close asks dozens of them per block ("does every row count?", "which rows
fired?"). numpy's reductions (``mask.all()``, ``mask.any()``) and ``np.flatnonzero`` cost a
few microseconds a call whatever the length, several times the work on 250 rows;
``np.count_nonzero`` and ``ndarray.nonzero`` answer the same in under one.

>>> m = np.array([True, False, True])
>>> every(m), some(m), where(m).tolist(), every(m[:0])
(False, True, [0, 2], True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["every", "some", "where"]


def every(mask: NDArray[np.bool_]) -> bool:
    """``mask.all()`` of a one-dimensional mask (true when empty)."""
    return bool(np.count_nonzero(mask) == len(mask))


def some(mask: NDArray[np.bool_]) -> bool:
    """``mask.any()`` of a one-dimensional mask."""
    return bool(np.count_nonzero(mask) > 0)


def where(mask: NDArray[Any]) -> NDArray[np.intp]:
    """``np.flatnonzero(mask)`` of a one-dimensional array: the indices of its nonzero
    (true) elements."""
    return mask.nonzero()[0]
