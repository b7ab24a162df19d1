"""Alertmanager's noise control as a pure state machine: one :class:`Group` per route and
``group_by`` labels; when to flush it and what a flush tells.

* a new group waits ``group_wait`` so the alerts of one event go out together;
* a change later (a new firing alert, a resolution) goes out at most every ``group_interval``;
* nothing new: the firing alerts are told again after ``repeat_interval``;
* an alert told firing and now resolved is told resolved (``send_resolved``), then dropped;
* acknowledged and silenced alerts (the wall's silences, the config's) are not told again,
  but an acknowledged alert's resolution still is.

>>> from notify.config import Route
>>> from notify.items import Item
>>> route = Route("r", ("desk",), group_wait=30, group_interval=300, repeat_interval=3600)
>>> def alert(i, status="firing", v=1):
...     return Item(id=i, kind="alert", version=v, status=status, severity="major",
...                 category="city", group="flooding", groups=["flooding"],
...                 district="Hai Chau", detector="d", source=i, metric="m", title="t",
...                 first_seen=0.0, updated_at=0.0)
>>> g = new_group(route, alert("a"))
>>> absorb(g, route, alert("a"), now=0.0); absorb(g, route, alert("b"), now=5.0)
True
True
>>> g.next_flush_at
30.0
>>> sorted(i.id for i in flush(g, route, now=30.0).firing)
['a', 'b']
>>> flush(g, route, now=40.0) is None   # nothing new, repeat not due
True
>>> absorb(g, route, alert("a", "resolved", 2), now=50.0)
True
>>> g.next_flush_at   # the last notification was at 30: the next at 30 + group_interval
330.0
>>> f = flush(g, route, now=330.0)
>>> [i.id for i in f.firing], [i.id for i in f.resolved]
(['b'], ['a'])
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from notify.config import Route
from notify.items import Item

__all__ = ["Flush", "Group", "absorb", "flush", "group_key", "new_group"]


@dataclass
class Group:
    key: str
    route: str
    labels: dict[str, str]
    alerts: dict[str, Item] = field(default_factory=dict)
    notified: dict[str, str] = field(default_factory=dict)  # id -> status last told
    seq: int = 0
    next_flush_at: float | None = None
    last_sent_at: float | None = None


@dataclass(frozen=True)
class Flush:
    """One notification of a group: its ``seq`` (1 for the first), the firing and resolved
    alerts to tell."""

    seq: int
    firing: list[Item]
    resolved: list[Item]

    @property
    def status(self) -> str:
        return "firing" if self.firing else "resolved"

    @property
    def items(self) -> list[Item]:
        return self.firing + self.resolved


def group_key(route: Route, item: Item) -> tuple[str, dict[str, str]]:
    """The group's key (a hash of the route and the ``group_by`` labels) and its labels.

    >>> from notify.config import Route
    >>> group_key(Route("r", ("x",), group_by=()), None)[1]  # type: ignore[arg-type]
    {}
    """
    labels = {k: item.labels()[k] for k in route.group_by} if route.group_by else {}
    raw = route.name + "\x00" + "\x00".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(raw.encode()).hexdigest()[:40], labels


def new_group(route: Route, item: Item) -> Group:
    key, labels = group_key(route, item)
    return Group(key=key, route=route.name, labels=labels)


def absorb(group: Group, route: Route, item: Item, now: float) -> bool:
    """Take a newer version of an alert into the group; False for an older or repeated one.
    Schedules the next flush when the group has something to say."""
    held = group.alerts.get(item.id)
    if held is not None and held.version >= item.version:
        return False
    if held is None and item.status != "firing" and item.id not in group.notified:
        return False  # never told firing here: nothing to tell about it
    group.alerts[item.id] = item
    if group.last_sent_at is None:
        due = now + route.group_wait
    else:
        due = max(now, group.last_sent_at + route.group_interval)
    if group.next_flush_at is None or due < group.next_flush_at:
        group.next_flush_at = due
    return True


def flush(group: Group, route: Route, now: float,
          held: Callable[[Item], bool] = lambda item: False) -> Flush | None:
    """What to tell at ``now`` (None: nothing), and the group updated as told. ``held`` says
    whether a config silence holds an item."""
    if group.next_flush_at is None or now < group.next_flush_at:
        return None
    firing = [i for i in group.alerts.values() if i.status == "firing" and not held(i)]
    resolved = [i for i in group.alerts.values()
                if i.status == "resolved" and group.notified.get(i.id) == "firing"]
    new = any(group.notified.get(i.id) != "firing" for i in firing)
    repeat = bool(firing) and group.last_sent_at is not None and \
        now >= group.last_sent_at + route.repeat_interval
    tell = (bool(firing) and (new or repeat)) or bool(resolved and route.send_resolved)
    for i in [i for i in group.alerts.values() if i.status == "resolved"]:
        del group.alerts[i.id]
        group.notified.pop(i.id, None)
    if tell:
        group.seq += 1
        group.last_sent_at = now
        for i in firing:
            group.notified[i.id] = "firing"
    group.next_flush_at = (group.last_sent_at or now) + route.repeat_interval \
        if firing else None
    if not tell:
        return None
    return Flush(group.seq, sorted(firing, key=_order),
                 sorted(resolved, key=_order) if route.send_resolved else [])


def _order(item: Item) -> tuple[float, str]:
    return (item.first_seen, item.id)
