"""NAB's application profiles: the weights a detection earns or costs (:class:`CostMatrix`),
NAB's three profiles, and reading them from its ``config/profiles.json``. Part of the NAB
scoring rules in :mod:`detectors.nab`, which re-exports these names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["LOW_FN", "LOW_FP", "NAB_PROFILES", "STANDARD", "CostMatrix", "profiles_from_json"]


@dataclass(frozen=True, slots=True)
class CostMatrix:
    """The weights of one NAB profile (``tnWeight`` plays no part in the score).

    >>> CostMatrix.from_json({"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11})
    CostMatrix(tp=1.0, fp=0.11, fn=2.0)
    """

    tp: float = 1.0
    fp: float = 0.11
    fn: float = 1.0

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> CostMatrix:
        """Read NAB's ``{"tpWeight": .., "fpWeight": .., "fnWeight": ..}``."""
        vals = []
        for key in ("tpWeight", "fpWeight", "fnWeight"):
            v = obj.get(key)
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
                raise ValueError(f"cost matrix needs a finite number for {key!r}, got {v!r}")
            vals.append(float(v))
        return cls(tp=vals[0], fp=vals[1], fn=vals[2])


STANDARD = CostMatrix(tp=1.0, fp=0.11, fn=1.0)
LOW_FP = CostMatrix(tp=1.0, fp=0.22, fn=1.0)
LOW_FN = CostMatrix(tp=1.0, fp=0.11, fn=2.0)
#: NAB's three application profiles, as in its ``config/profiles.json``
NAB_PROFILES: dict[str, CostMatrix] = {
    "standard": STANDARD,
    "reward_low_FP_rate": LOW_FP,
    "reward_low_FN_rate": LOW_FN,
}


def profiles_from_json(obj: Mapping[str, object]) -> dict[str, CostMatrix]:
    """Profiles from the parsed ``config/profiles.json`` (``{name: {"CostMatrix": {..}}}``).

    >>> profiles_from_json({"standard": {"CostMatrix": {"tpWeight": 1, "fpWeight": 0.11,
    ...                                                 "fnWeight": 1}}})
    {'standard': CostMatrix(tp=1.0, fp=0.11, fn=1.0)}
    """
    out: dict[str, CostMatrix] = {}
    for name, prof in obj.items():
        if not isinstance(prof, Mapping) or not isinstance(prof.get("CostMatrix"), Mapping):
            raise ValueError(f"profile {name!r} has no CostMatrix object")
        try:
            out[name] = CostMatrix.from_json(prof["CostMatrix"])
        except ValueError as exc:
            raise ValueError(f"profile {name!r}: {exc}") from None
    if not out:
        raise ValueError("no profiles defined")
    return out
