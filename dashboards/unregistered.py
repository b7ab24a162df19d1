"""Sources outside the catalog, as the engineers see them: "unregistered sources".

Workers keep accepting readings of sources that ``ioc/catalog.py`` does not list (cities add
sensors faster than catalogs) and publish their window summaries on ``ioc.indicators`` like
any other. The dashboard derives which ones are unregistered from the catalog itself (a
(group, source) pair the catalog does not list), counts them per group and keeps a bounded
list of their ids, most recently seen first. Only the ``engineer`` role is shown them (in its
snapshot and in ``unregistered`` frames): they are a data-quality matter, not city state.

Bounded whatever arrives: at most ``max_ids`` ids per group are tracked (further new ids only
raise ``more``), ids not seen for ``span_s`` of event time are forgotten, and a view lists at
most ``shown`` ids per group. Pure and synchronous.

>>> from ioc.events import WindowSummary
>>> def w(source, end=1795410000.0):
...     return WindowSummary(group="flooding", source=source, metric="rainfall",
...                          district="Hai Chau", start=end - 60, end=end, count=1, mean=1.0,
...                          min=1.0, max=1.0, last=1.0, std=0.0)
>>> u = Unregistered()
>>> u.observe(w("rain-HC-01"))          # in the catalog
False
>>> u.observe(w("rain-XX-99")), u.observe(w("rain-XX-99"))
(True, False)
>>> u.view()["groups"]
[{'group': 'flooding', 'count': 1, 'more': False, 'sources': ['rain-XX-99']}]
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ioc import catalog
from ioc.events import WindowSummary

UNREGISTERED_ROLES = ("engineer",)
MAX_IDS = 1000      # ids tracked per group
SHOWN = 20          # ids listed per group in a view
SPAN_S = 86_400.0   # forget an id not seen for this long (event time)

KNOWN: frozenset[tuple[str, str]] = frozenset(
    (g.slug, s.id) for g in catalog.CATALOG for s in g.sources())


class _Group:
    __slots__ = ("ids", "more")

    def __init__(self) -> None:
        self.ids: OrderedDict[str, float] = OrderedDict()  # id -> last window end, oldest first
        self.more = 0                                      # new ids refused by the bound


class Unregistered:
    """Unregistered sources per group, bounded; ``version`` grows whenever the view would
    change (a new id, a forgotten id), not when a known one reports again."""

    def __init__(self, *, max_ids: int = MAX_IDS, shown: int = SHOWN,
                 span_s: float = SPAN_S) -> None:
        if max_ids < 1 or shown < 1:
            raise ValueError("max_ids and shown must be at least 1")
        self.max_ids = max_ids
        self.shown = shown
        self.span_s = span_s
        self.groups: dict[str, _Group] = {}
        self.version = 0
        self.as_of = 0.0

    def observe(self, w: WindowSummary) -> bool:
        """Note one window summary; True when it changed the view."""
        if (w.group, w.source) in KNOWN:
            return False
        changed = self._expire(w.end)
        group = self.groups.get(w.group)
        if group is None:
            group = self.groups[w.group] = _Group()
        ids = group.ids
        if w.source in ids:
            ids[w.source] = max(ids[w.source], w.end)
            ids.move_to_end(w.source)
        elif len(ids) < self.max_ids:
            ids[w.source] = w.end
            changed = True
        else:
            group.more += 1
            changed = group.more == 1 or changed  # the flag flips once
        if changed:
            self.version += 1
        return changed

    def _expire(self, end: float) -> bool:
        if end <= self.as_of:
            return False
        self.as_of = end
        floor = end - self.span_s
        expired = False
        for slug in list(self.groups):
            group = self.groups[slug]
            # ids are in order of last report, so the stale ones are at the front
            while group.ids and next(iter(group.ids.values())) < floor:
                group.ids.popitem(last=False)
                expired = True
            if not group.ids:
                del self.groups[slug]
        return expired

    def view(self) -> dict[str, Any]:
        """Per group (catalog order, then unknown groups): how many unregistered ids, whether
        more were seen than are tracked, and the most recently seen ids (at most ``shown``)."""
        order = {g.slug: g.number for g in catalog.CATALOG}
        groups = []
        for slug in sorted(self.groups, key=lambda s: (order.get(s, 1_000), s)):
            ids = self.groups[slug].ids
            recent = list(reversed(ids))[:self.shown]
            groups.append({"group": slug, "count": len(ids),
                           "more": self.groups[slug].more > 0, "sources": recent})
        return {"total": sum(g["count"] for g in groups), "groups": groups}
