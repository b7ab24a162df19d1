"""How severe an alert is: severity ranks and the escalation policy.

Severities go ``info`` < ``warning`` < ``major`` < ``critical`` (:data:`ioc.events.SEVERITIES`);
:func:`rank` orders them, :func:`at_rank` clamps a rank back to a severity.

>>> rank("major") > rank("warning"), at_rank(99), at_rank(-3)
(True, 'critical', 'info')
>>> max("warning", "critical", "major", key=rank)
'critical'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ioc.errors import ConfigError
from ioc.events import SEVERITIES, Evidence, Severity

__all__ = ["EscalationPolicy", "at_rank", "rank"]


def rank(severity: str) -> int:
    """The position of ``severity`` in :data:`~ioc.events.SEVERITIES` (higher: more severe)."""
    return SEVERITIES.index(severity)


def at_rank(i: int) -> Severity:
    """The severity of rank ``i``, clamped to the known ones."""
    return SEVERITIES[max(0, min(i, len(SEVERITIES) - 1))]  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True)
class EscalationPolicy:
    """How severe an alert starts and how it grows while it keeps firing.

    A city alert starts from how far the detector's raw statistic is past the detector's own
    threshold (``|raw| / threshold``: ``major_ratio`` and ``critical_ratio``), or, when the
    evidence has no threshold, from the score in [0, 1] (``major_score``/``critical_score``;
    the house squash gives 0.9 at the threshold, 0.999 at 1.32x, 0.99999 at 1.5x). A sensor-
    health alert starts at ``health_start``. While still ``firing`` (not acknowledged, not
    silenced) it steps up one severity per ``escalate_after_s`` since ``first_seen`` (``inf``
    disables), never above ``city_max``/``health_max``. Severity never goes down while open.

    >>> p = EscalationPolicy(escalate_after_s=600.0)
    >>> ev = Evidence(window_start=0, window_end=60, value=40.0, baseline=2.0, threshold=4.0,
    ...               score=1.0, raw=7.0, detector="robust_z", detector_version="1",
    ...               params={}, recent=[])
    >>> p.initial(ev, health=False), p.initial(ev, health=True)
    ('major', 'warning')
    >>> p.escalated("warning", 1300.0, health=False), p.escalated("warning", 9e9, health=True)
    ('critical', 'major')
    """

    major_ratio: float = 1.5
    critical_ratio: float = 3.0
    major_score: float = 0.999
    critical_score: float = 0.99999
    escalate_after_s: float = 900.0
    city_start: Severity = "warning"
    city_max: Severity = "critical"
    health_start: Severity = "warning"
    health_max: Severity = "major"

    def __post_init__(self) -> None:
        if not 1.0 <= self.major_ratio <= self.critical_ratio:
            raise ConfigError(
                f"escalation: need 1 <= major_ratio <= critical_ratio, got "
                f"{self.major_ratio} and {self.critical_ratio}")
        if not 0.0 < self.major_score <= self.critical_score <= 1.0:
            raise ConfigError(
                f"escalation: need 0 < major_score <= critical_score <= 1, got "
                f"{self.major_score} and {self.critical_score}")
        if not self.escalate_after_s > 0:
            raise ConfigError(
                f"escalation: escalate_after_s must be > 0 (inf disables), got "
                f"{self.escalate_after_s}")
        for name in ("city_start", "city_max", "health_start", "health_max"):
            if getattr(self, name) not in SEVERITIES:
                raise ConfigError(f"escalation: {name} must be one of {', '.join(SEVERITIES)}")
        if rank(self.city_start) > rank(self.city_max) or (
                rank(self.health_start) > rank(self.health_max)):
            raise ConfigError("escalation: a start severity is above its maximum")

    def initial(self, ev: Evidence, *, health: bool) -> Severity:
        """The severity the evidence alone deserves."""
        if health:
            return self.health_start
        level = rank(self.city_start)
        thr = ev.threshold
        if thr is not None and thr > 0 and math.isfinite(ev.raw) and abs(ev.raw) >= thr:
            ratio = abs(ev.raw) / thr
            step = 2 if ratio >= self.critical_ratio else 1 if ratio >= self.major_ratio else 0
        else:
            s = ev.score
            step = 2 if s >= self.critical_score else 1 if s >= self.major_score else 0
        return at_rank(min(max(level, rank("warning") + step), rank(self.city_max)))

    def escalated(self, start: str, duration_s: float, *, health: bool) -> Severity:
        """``start`` stepped up once per ``escalate_after_s`` of ``duration_s``, capped."""
        cap = rank(self.health_max if health else self.city_max)
        steps = 0
        if math.isfinite(self.escalate_after_s) and duration_s > 0:
            steps = int(duration_s // self.escalate_after_s)
        return at_rank(min(rank(start) + steps, max(cap, rank(start))))
