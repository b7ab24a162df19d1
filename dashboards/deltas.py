"""What the hub's filters look at in a delta: its :class:`Meta`, computed once per record (not
once per client) by :func:`meta_of`. Pure.

>>> from ioc.events import GroupIndicator
>>> meta_of(GroupIndicator(group="traffic", district="Son Tra", start=0.0, end=60.0,
...     sources_reporting=1, sources_expected=1, sources_in_breach=0, open_alerts={},
...     kpis={})).key
('indicator', 'traffic', 'Son Tra')
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from dashboards import scope as scoping
from dashboards.protocol import Kind
from dashboards.silences import SilenceView
from ioc.events import Alert, GroupIndicator, Incident, WindowSummary


class Meta(NamedTuple):
    """What the filters look at in a delta (computed once per delta, not per client)."""

    kind: Kind
    groups: tuple[str, ...]
    district: str
    severity: str | None
    prev_severity: str | None
    category: str | None
    key: tuple[str, ...] | None  # conflation key (indicators, windows) or None (never dropped)


def meta_of(record: msgspec.Struct, prev: msgspec.Struct | None = None) -> Meta:
    """The filter attributes of a record (``prev``: the version it replaces, if any)."""
    if isinstance(record, Alert):
        prev_sev = prev.severity if isinstance(prev, Alert) else None
        return Meta("alert", (record.group,), record.district, record.severity, prev_sev,
                    record.category, None)
    if isinstance(record, Incident):
        prev_sev = prev.severity if isinstance(prev, Incident) else None
        groups = tuple(record.groups)
        if isinstance(prev, Incident):
            groups = tuple(dict.fromkeys((*prev.groups, *groups)))
        return Meta("incident", groups, record.district, record.severity, prev_sev, None, None)
    if isinstance(record, GroupIndicator):
        return Meta("indicator", (record.group,), record.district, None, None, None,
                    ("indicator", record.group, record.district))
    if isinstance(record, WindowSummary):
        return Meta("window", (record.group,), record.district, None, None, None,
                    ("window", record.source, record.metric))
    if isinstance(record, SilenceView):  # the place its matchers name ("": any)
        named_districts, named_groups = scoping.silence_place(
            record.matchers, lambda _: record.alert_district)
        return Meta("silence", tuple(sorted(named_groups)), min(named_districts, default=""),
                    None, None, None, None)
    raise TypeError(f"not a dashboard record: {type(record).__name__}")
