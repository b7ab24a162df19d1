"""What a detector says about one closed window: a :class:`Verdict` and its evidence.

:func:`evidence_from` turns a detector's :class:`~detectors.base.Explanation` into the
:class:`~ioc.events.Evidence` an alert carries; :func:`clean_evidence` makes evidence survive
JSON unchanged (no NaN or infinity anywhere). Pure: no Faust, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from msgspec.structs import replace

from detectors.direction import side_of
from ioc.events import Evidence

if TYPE_CHECKING:
    from detectors.base import Explanation

__all__ = ["Verdict", "clean_evidence", "evidence_from", "finite"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One detector's decision on one closed window: did its policy fire, and why.

    ``health`` is the detector class's ``health`` flag; ``evidence`` names the detector, its
    version and params, the window, score, baseline, threshold and recent values (build it
    with :func:`evidence_from`). ``shadow``: the detector runs in shadow mode (its firing
    is recorded on the shadow topic, never shown to operators: :mod:`streams.shadow`).
    """

    firing: bool
    health: bool
    evidence: Evidence
    shadow: bool = False

    @property
    def detector(self) -> str:
        return self.evidence.detector


def finite(x: object) -> bool:
    """A real, finite number (not NaN, not infinite, not some other type).

    >>> finite(1), finite(2.5), finite(float("nan")), finite(float("-inf")), finite("3")
    (True, True, False, False, False)
    """
    return isinstance(x, int | float) and math.isfinite(x)


def _jsonable(x: Any) -> Any:
    """``x`` with non-finite floats (which JSON writes as null) replaced by None."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


def _plain(x: Any) -> bool:
    """Whether ``x`` goes through JSON unchanged (finite floats, lists, no tuples)."""
    if isinstance(x, float):
        return math.isfinite(x)
    if isinstance(x, dict):
        return all(_plain(v) for v in x.values())
    if isinstance(x, list):
        return all(_plain(v) for v in x)
    return not isinstance(x, tuple)


def clean_evidence(ev: Evidence) -> Evidence:
    """Evidence that survives JSON unchanged: non-finite numbers (NaN baseline of an empty
    window, inf raw) become 0.0 and are listed in ``detail["missing"]``; non-finite recent
    values are dropped; in ``params`` and ``detail`` they become None (tuples become lists).
    Finite evidence is returned as is.

    >>> ev = Evidence(window_start=0, window_end=60, value=float("nan"), baseline=float("nan"),
    ...               threshold=None, score=1.0, raw=3.0, detector="silence",
    ...               detector_version="1", params={}, recent=[1.0, float("nan")])
    >>> c = clean_evidence(ev); c.baseline, c.recent, c.detail["missing"]
    (0.0, [1.0], ['value', 'baseline'])
    """
    nums = {"value": ev.value, "baseline": ev.baseline, "score": ev.score, "raw": ev.raw}
    bad = [k for k, v in nums.items() if not finite(v)]
    thr_bad = ev.threshold is not None and not finite(ev.threshold)
    rec_bad = not all(finite(v) for v in ev.recent)
    params_bad, detail_bad = not _plain(ev.params), not _plain(ev.detail)
    if not (bad or thr_bad or rec_bad or params_bad or detail_bad):
        return ev
    changes: dict[str, Any] = {k: 0.0 for k in bad}
    if params_bad:
        changes["params"] = _jsonable(ev.params)
    if detail_bad:
        changes["detail"] = _jsonable(ev.detail)
    if thr_bad:
        changes["threshold"] = None
        bad.append("threshold")
    if rec_bad:
        changes["recent"] = [float(v) for v in ev.recent if finite(v)]
    if bad:
        changes["detail"] = {**changes.get("detail", ev.detail), "missing": bad}
    return replace(ev, **changes)


def evidence_from(expl: Explanation, *, detector: str, version: str, params: Mapping[str, Any],
                  window_start: float, window_end: float, value: float) -> Evidence:
    """The :class:`~ioc.events.Evidence` of a detector's :class:`~detectors.base.Explanation`
    for one closed window (``value``: the window's mean, or its count for counted metrics).

    >>> from detectors.base import Explanation
    >>> ev = evidence_from(Explanation(score=0.97, raw=5.2, baseline=2.0, threshold=4.0,
    ...                                contributing=(2.0, 34.0)), detector="robust_z",
    ...                    version="1", params={"threshold": 4.0}, window_start=0.0,
    ...                    window_end=60.0, value=34.0)
    >>> ev.recent, ev.threshold, ev.side
    ([2.0, 34.0], 4.0, 'high')
    """
    return clean_evidence(Evidence(
        side=side_of(float(value), float(expl.baseline), expl.detail),
        window_start=float(window_start), window_end=float(window_end), value=float(value),
        baseline=float(expl.baseline), threshold=expl.threshold, score=float(expl.score),
        raw=float(expl.raw), detector=detector, detector_version=version, params=dict(params),
        recent=[float(v) for v in expl.contributing], detail=dict(expl.detail)))
