"""The one status rule of a service group or a district, shipped to the wall and the summary
(in the ``summary`` body), which only display it. Pure: no state, no I/O.

Statuses, worst first: ``critical``, ``major`` and ``warning`` (from the worst open city alert
that is not silenced, or from the sources), ``starting`` (sources still arriving after
start-up: not a fault), ``ok``, ``no_data``. The rule, in order:

1. a critical or major open alert: that severity;
2. a warning alert: ``warning``;
3. fewer sources reporting than expected while the data is younger than the start-up grace:
   ``starting``;
4. under half the expected sources reporting: ``major``; under 90 %: ``warning``;
5. a source in breach of its limits: ``warning``;
6. any data: ``ok``; none: ``no_data``.

Each status comes with its reason, a message key and parameters of the catalogs
(:mod:`ioc.i18n`), so the pages say why in the reader's language.

>>> judge(Facts(worst="major", reporting=10, expected=21)).status
'major'
>>> judge(Facts(reporting=10, expected=21, age_s=120.0, grace_s=600.0)).status
'starting'
>>> v = judge(Facts(reporting=10, expected=21, age_s=3600.0, grace_s=600.0))
>>> v.status, v.reason, v.params
('major', 'status.why.reporting', {'reporting': 10, 'expected': 21})
>>> judge(Facts(reporting=21, expected=21, age_s=3600.0)).status, judge(Facts()).status
('ok', 'no_data')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["STATUSES", "Facts", "Status", "Verdict", "grace_for", "judge", "worst_of"]

Status = Literal["critical", "major", "warning", "starting", "ok", "no_data"]
STATUSES: tuple[Status, ...] = ("critical", "major", "warning", "starting", "ok", "no_data")
_ALERT_RANK = {"info": 0, "warning": 1, "major": 2, "critical": 3}
GRACE_MIN_S = 600.0   # start-up grace: at least ten minutes ...
GRACE_WINDOWS = 3     # ... or three of the group's windows


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rule looks at for one group or district.

    ``worst``: the worst severity of its open city alerts that are not silenced (None: none);
    ``reporting``/``expected``/``in_breach``: sources in its latest windows; ``age_s``: how
    long its data has been arriving (None: no data yet); ``grace_s``: the start-up grace;
    ``alerts``: open alerts of any kind (data even without indicators).
    """

    worst: str | None = None
    reporting: int = 0
    expected: int = 0
    in_breach: int = 0
    age_s: float | None = None
    grace_s: float = GRACE_MIN_S
    alerts: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """A status, and why: a message key of the catalogs and its parameters."""

    status: Status
    reason: str
    params: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The verdict as the summary ships it."""
        return {"status": self.status, "reason": {"key": self.reason, "params": self.params}}


def grace_for(window_s: float) -> float:
    """The start-up grace of a group whose windows last ``window_s`` seconds.

    >>> grace_for(60), grace_for(900)
    (600.0, 2700.0)
    """
    return max(GRACE_MIN_S, GRACE_WINDOWS * float(window_s))


def worst_of(severities: list[str]) -> str | None:
    """The worst of alert severities (None for none).

    >>> worst_of(["warning", "critical", "info"]), worst_of([])
    ('critical', None)
    """
    return max(severities, key=_ALERT_RANK.__getitem__) if severities else None


def judge(f: Facts) -> Verdict:
    """The status of one group or district (the rule in the module docstring)."""
    if f.worst in ("critical", "major"):
        return Verdict(f.worst, f"status.why.{f.worst}")  # type: ignore[arg-type]
    if f.worst == "warning":
        return Verdict("warning", "status.why.warning")
    short = f.expected > 0 and f.reporting < f.expected
    counts = {"reporting": f.reporting, "expected": f.expected}
    if short and f.age_s is not None and f.age_s < f.grace_s:
        return Verdict("starting", "status.why.starting", counts)
    if short and f.reporting < 0.5 * f.expected:
        return Verdict("major", "status.why.reporting", counts)
    if short and f.reporting < 0.9 * f.expected:
        return Verdict("warning", "status.why.reporting", counts)
    if f.in_breach > 0:
        return Verdict("warning", "status.why.breach", {"in_breach": f.in_breach})
    if f.expected > 0 or f.age_s is not None or f.alerts > 0:
        return Verdict("ok", "status.why.ok", counts if f.expected else {})
    return Verdict("no_data", "status.why.no_data")
