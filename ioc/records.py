"""What a worker publishes: window summaries and indicators on ``ioc.indicators``, alerts
and incidents (with their evidence and notes) on ``ioc.alerts``, refused messages on
``ioc.deadletter``. Frozen :mod:`msgspec` Structs; :mod:`ioc.codec` encodes and decodes them,
:mod:`ioc.events` re-exports both.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "LABELS", "Alert", "AlertRecord", "AlertStatus", "Category", "DeadLetter", "Evidence",
    "GroupIndicator", "Incident", "IndicatorRecord", "Label", "Note", "Severity",
    "WindowSummaries", "WindowSummary",
]

Severity = Literal["info", "warning", "major", "critical"]
AlertStatus = Literal["firing", "acknowledged", "resolved", "silenced"]
Category = Literal["city", "sensor_health"]

#: what an operator says an alert was, when acknowledging or resolving it
Label = Literal["real", "false_alarm", "sensor_fault", "planned"]
LABELS: tuple[str, ...] = ("real", "false_alarm", "sensor_fault", "planned")


class WindowSummary(msgspec.Struct, frozen=True, gc=False, tag="window"):
    """One closed tumbling window of one (source, metric).

    Positional construction is allowed (a worker makes one per series and window: keywords
    cost five times as much); the fields' order is part of this class's contract."""

    group: str
    source: str
    metric: str
    district: str
    start: float
    end: float
    count: int
    mean: float
    min: float
    max: float
    last: float
    std: float
    late: int = 0
    dropped: int = 0
    counted: bool = False
    in_breach: bool = False


class WindowSummaries(msgspec.Struct, frozen=True, gc=False, tag="windows"):
    """The window summaries of one metric's series that closed one window together, as
    columns: row ``i`` of every list is one series (what a worker publishes; a third of the
    bytes of a list of :class:`WindowSummary` and no object per series to make).

    >>> pack = WindowSummaries("traffic", "speed", 0.0, 60.0, False, ["trf-HC-01"],
    ...                        ["Hai Chau"], [6], [31.5], [29.0], [34.0], [30.0], [1.5], [0],
    ...                        [0], [False])
    >>> [(s.source, s.metric, s.count, s.mean) for s in pack.rows()]
    [('trf-HC-01', 'speed', 6, 31.5)]
    >>> WindowSummaries("traffic", "speed", 0.0, 60.0, False, ["a", "b"], ["Hai Chau"], [6],
    ...                 [1.0], [1.0], [1.0], [1.0], [0.0], [0], [0], [False])
    Traceback (most recent call last):
    ...
    ValueError: window summaries: column district has 1 rows, source has 2
    """

    group: str
    metric: str
    start: float
    end: float
    counted: bool
    source: list[str]
    district: list[str]
    count: list[int]
    mean: list[float]
    min: list[float]
    max: list[float]
    last: list[float]
    std: list[float]
    late: list[int]
    dropped: list[int]
    in_breach: list[bool]

    def __post_init__(self) -> None:
        n = len(self.source)
        for name in _SUMMARY_COLUMNS[1:]:
            got = len(getattr(self, name))
            if got != n:
                raise ValueError(f"window summaries: column {name} has {got} rows, "
                                 f"source has {n}")

    def __len__(self) -> int:
        return len(self.source)

    def rows(self) -> list[WindowSummary]:
        """One :class:`WindowSummary` per row."""
        g, m, start, end, counted = self.group, self.metric, self.start, self.end, self.counted
        return [WindowSummary(g, src, m, dist, start, end, n, mean, lo, hi, last, std, late,
                              dropped, counted, hot)
                for src, dist, n, mean, lo, hi, last, std, late, dropped, hot in zip(
                    *(getattr(self, c) for c in _SUMMARY_COLUMNS), strict=True)]

    def part(self, lo: int, hi: int) -> WindowSummaries:
        """Rows ``lo`` to ``hi`` (excluded) as a pack of their own."""
        return WindowSummaries(self.group, self.metric, self.start, self.end, self.counted,
                               *(getattr(self, c)[lo:hi] for c in _SUMMARY_COLUMNS))


_SUMMARY_COLUMNS = ("source", "district", "count", "mean", "min", "max", "last", "std", "late",
                    "dropped", "in_breach")


class GroupIndicator(msgspec.Struct, frozen=True, kw_only=True, tag="indicator"):
    """A group's indicators in one district for one window."""

    group: str
    district: str
    start: float
    end: float
    sources_reporting: int
    sources_expected: int
    sources_in_breach: int
    open_alerts: dict[str, int]
    kpis: dict[str, float]


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """Why a detector fired: the window, the baseline, the threshold and the recent values;
    ``side``: whether the value was ``high`` or ``low`` against the baseline (None: not
    known, or a record from before sides were carried)."""

    window_start: float
    window_end: float
    value: float
    baseline: float
    threshold: float | None
    score: float
    raw: float
    detector: str
    detector_version: str
    params: dict[str, Any]
    recent: list[float]
    detail: dict[str, Any] = {}
    side: Literal["high", "low"] | None = None


class Note(msgspec.Struct, frozen=True, kw_only=True):
    """A free-text note an operator attached to an alert."""

    ts: float
    user: str
    text: str
    display_name: str | None = None  # the author's name (notes before it: None)


class Alert(msgspec.Struct, frozen=True, kw_only=True, tag="alert"):
    """One version of an alert. ``alert_id`` is stable per (detector, group, source, metric);
    ``version`` grows by one with every state change, so (alert_id, version) is unique and
    applying records in version order is idempotent."""

    alert_id: str
    version: int
    status: AlertStatus
    severity: Severity
    category: Category
    group: str
    district: str
    source: str
    metric: str
    detector: str
    title: str
    first_seen: float
    last_seen: float
    count: int
    updated_at: float
    change: str
    evidence: Evidence
    user: str | None = None
    reason: str | None = None
    notes: list[Note] = []
    incident_id: str | None = None
    silenced_until: float | None = None
    display_name: str | None = None  # the name of ``user`` (None: no person, or older records)
    label: Label | None = None       # an operator's verdict on the episode (kept on its versions)
    label_note: str | None = None    # the words that came with the label
    # the title as message parts, {"key": ..., "params": {...}} of the catalogs (ioc.i18n), so
    # a page renders it in its reader's language; ``title`` is its English (None: older)
    title_parts: dict[str, Any] | None = None


class Incident(msgspec.Struct, frozen=True, kw_only=True, tag="incident"):
    """Firing alerts of two or more groups in one district within a span, linked."""

    incident_id: str
    version: int
    status: Literal["open", "closed"]
    district: str
    groups: list[str]
    alert_ids: list[str]
    severity: Severity
    title: str
    first_seen: float
    last_seen: float
    updated_at: float


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A message refused by a worker, with why and where it came from."""

    reason: str
    field: str
    topic: str
    partition: int
    offset: int
    raw: bytes
    ts: float


IndicatorRecord = WindowSummary | GroupIndicator
AlertRecord = Alert | Incident
