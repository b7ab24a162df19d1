"""Alert and incident records as one routable :class:`Item`, and the small parsers the
notifier's config shares (durations, times of day).

>>> parse_duration("90s"), parse_duration("5m"), parse_duration("1h30m"), parse_duration(2)
(90.0, 300.0, 5400.0, 2.0)
>>> parse_duration("soon")
Traceback (most recent call last):
...
ValueError: expected a duration like 30s, 5m, 4h or 1d, got 'soon'
>>> q = parse_hours("22:00-06:00")
>>> q.contains(23 * 60), q.contains(5 * 60 + 59), q.contains(6 * 60), q.contains(12 * 60)
(True, True, False, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from ioc.events import SEVERITIES, Alert, Incident

__all__ = ["DA_NANG", "Hours", "Item", "item_of", "minute_of_day", "parse_duration",
           "parse_hours", "severity_rank"]

DA_NANG = timezone(timedelta(hours=7), "ICT")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """0 for info up to 3 for critical.

    >>> severity_rank("critical") > severity_rank("warning")
    True
    """
    return _RANK[severity]


def parse_duration(raw: Any) -> float:
    """Seconds of ``30s``, ``5m``, ``4h``, ``1d``, ``1h30m`` or a plain number of seconds."""
    if isinstance(raw, bool):
        raise ValueError(f"expected a duration like 30s, 5m, 4h or 1d, got {raw!r}")
    if isinstance(raw, int | float):
        if raw < 0:
            raise ValueError(f"a duration cannot be negative, got {raw!r}")
        return float(raw)
    text = str(raw).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"expected a duration like 30s, 5m, 4h or 1d, got {raw!r}")
    return sum(float(n) * _UNIT[u] for n, u in parts)


@dataclass(frozen=True)
class Hours:
    """A daily span of minutes ``start`` <= m < ``end`` (Da Nang time); wraps past midnight
    when ``end`` <= ``start``."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:" \
               f"{self.end % 60:02d}"


def parse_hours(raw: str) -> Hours:
    """``HH:MM-HH:MM`` as :class:`Hours` (ValueError otherwise)."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(raw))
    if not m:
        raise ValueError(f"expected HH:MM-HH:MM (Da Nang time), got {raw!r}")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        raise ValueError(f"not a time of day in {raw!r}")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"an empty span: {raw!r}")
    return Hours(start % 1440, end % 1440 if end != 1440 else 0)


def minute_of_day(ts: float) -> int:
    """The minute of the Da Nang day at epoch ``ts``.

    >>> minute_of_day(1795410000.0)  # 2026-11-23 05:00 UTC is 12:00 in Da Nang
    720
    """
    t = datetime.fromtimestamp(ts, DA_NANG)
    return t.hour * 60 + t.minute


class Item(msgspec.Struct, frozen=True, kw_only=True):
    """What the notifier routes: one version of an alert or an incident. ``status`` is the
    alert's (an incident's open/closed become firing/resolved); ``groups`` has one group for
    an alert, all of an incident's."""

    id: str
    kind: str  # alert, incident
    version: int
    status: str
    severity: str
    category: str
    group: str
    groups: list[str]
    district: str
    detector: str
    source: str
    metric: str
    title: str
    first_seen: float
    updated_at: float
    value: float | None = None
    baseline: float | None = None
    threshold: float | None = None
    score: float | None = None
    user: str | None = None
    reason: str | None = None
    # the title as message parts of the catalogs (``Alert.title_parts``): written in each
    # receiver's language (None: an incident, or an older record: ``title`` as it is)
    title_parts: dict[str, Any] | None = None

    def labels(self) -> dict[str, str]:
        """The labels routes match and group on (Alertmanager's alert labels)."""
        return {"alertname": self.title if self.kind == "incident" else self.metric,
                "alert_id": self.id, "kind": self.kind, "status": self.status,
                "severity": self.severity, "category": self.category, "group": self.group,
                "district": self.district, "detector": self.detector, "source": self.source,
                "metric": self.metric}


def item_of(record: Alert | Incident) -> Item:
    """The :class:`Item` of a record of ``ioc.alerts``."""
    if isinstance(record, Incident):
        status = "firing" if record.status == "open" else "resolved"
        group = record.groups[0] if record.groups else ""
        return Item(id=record.incident_id, kind="incident", version=record.version,
                    status=status, severity=record.severity, category="city", group=group,
                    groups=list(record.groups), district=record.district,
                    detector="incident", source="", metric="incident", title=record.title,
                    first_seen=record.first_seen, updated_at=record.updated_at)
    ev = record.evidence
    return Item(id=record.alert_id, kind="alert", version=record.version,
                status=record.status, severity=record.severity, category=record.category,
                group=record.group, groups=[record.group], district=record.district,
                detector=record.detector, source=record.source, metric=record.metric,
                title=record.title, first_seen=record.first_seen,
                updated_at=record.updated_at, value=ev.value, baseline=ev.baseline,
                threshold=ev.threshold, score=ev.score, user=record.display_name or record.user,
                reason=record.reason, title_parts=record.title_parts)
