"""Whether numpy's double-precision ``power`` is the C library's ``pow``, bit for bit.

The batch forms must score exactly as the one-series forms, which raise Python floats to
powers (``x ** y`` calls the C library's ``pow``). numpy runs the same ``pow`` per element
unless it dispatches a SIMD loop of its own for the machine (an AVX-512 build of ``power``
rounds a few elements differently). :data:`POWER_IS_LIBM` is true when numpy runs its
baseline loop for ``float64`` and a probe of awkward values agrees with Python's ``**``
everywhere; the batch forms then take ``np.power``, otherwise a per-element loop.

>>> isinstance(POWER_IS_LIBM, bool)
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["POWER_IS_LIBM", "power_is_libm"]

_PROBE_SIZE = 4096


def _baseline_loop() -> bool:
    """True when numpy's ``float64`` power loop is its baseline (scalar ``pow``) loop."""
    try:
        from numpy.lib.introspect import opt_func_info
    except ImportError:  # numpy < 2.0 cannot tell: take the loop
        return False
    loops = opt_func_info(func_name="^power$").get("power", {})
    current = [str(info.get("current", "")) for sig, info in loops.items() if sig == "ddd"]
    return bool(current) and all(c.startswith("baseline") for c in current)


def power_is_libm(probe_size: int = _PROBE_SIZE) -> bool:
    """True when ``np.power`` on doubles equals Python's ``**`` on every probed element.

    >>> power_is_libm(64) == POWER_IS_LIBM
    True
    """
    if not _baseline_loop():
        return False
    rng = np.random.default_rng(0)
    base = np.concatenate([rng.random(probe_size) * 3.0, rng.random(probe_size) * 1e-3])
    powered = np.power(base, 4.0)
    tens = np.power(10.0, -powered)
    return (powered.tolist() == [v ** 4.0 for v in base.tolist()]
            and tens.tolist() == [10.0 ** -v for v in powered.tolist()])


POWER_IS_LIBM = power_is_libm()
