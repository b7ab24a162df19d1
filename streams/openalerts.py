"""The open alerts a worker holds, by group, district, severity and partition.

The indicator roll-ups report open alerts per district and severity, and the gauge per group
and severity; both are read from here, kept up to date from every published record.

>>> o = OpenAlerts()
>>> from ioc.events import Alert
>>> o.counts("flooding", 0), o.per_group_severity()
({}, {})
"""

from __future__ import annotations

from collections.abc import Iterable

from ioc.events import Alert
from streams.lifecycle import OPEN

__all__ = ["OpenAlerts"]


class OpenAlerts:
    """alert id -> (group, district, severity, partition) of every open alert."""

    __slots__ = ("by_id",)

    def __init__(self) -> None:
        self.by_id: dict[str, tuple[str, str, str, int]] = {}

    def record(self, records: Iterable[Alert], partition: int) -> None:
        """Follow published records (an alert that is no longer open is dropped)."""
        for a in records:
            if a.status in OPEN:
                self.by_id[a.alert_id] = (a.group, a.district, a.severity, partition)
            else:
                self.by_id.pop(a.alert_id, None)

    def partition_of(self, alert_id: str) -> int:
        """The partition an open alert was recorded on (-1 if unknown)."""
        got = self.by_id.get(alert_id)
        return -1 if got is None else got[3]

    def counts(self, group: str, partition: int) -> dict[str, dict[str, int]]:
        """Open alerts of a group on a partition: district -> severity -> count."""
        out: dict[str, dict[str, int]] = {}
        for g, district, sev, p in self.by_id.values():
            if g == group and p == partition:
                d = out.setdefault(district, {})
                d[sev] = d.get(sev, 0) + 1
        return out

    def per_group_severity(self) -> dict[tuple[str, str], int]:
        """Open alerts per (group, severity) (the gauge)."""
        out: dict[tuple[str, str], int] = {}
        for g, _d, sev, _p in self.by_id.values():
            out[(g, sev)] = out.get((g, sev), 0) + 1
        return out

    def forget(self, partitions: set[int]) -> None:
        """Drop the alerts of partitions this worker no longer owns."""
        for aid in [a for a, v in self.by_id.items() if v[3] in partitions]:
            del self.by_id[aid]

    def clear(self) -> None:
        self.by_id.clear()
