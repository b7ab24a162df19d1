"""Which routes an item takes, and whether a config silence holds it: pure decisions.

Routes are tried in order; the first that matches takes the item unless it says
``continue = true``, in which case the next matching routes take it too (Alertmanager's
rule). A route matches when every label it names has one of its values (an incident matches a
group when any of its groups does) and, with ``hours``, the Da Nang time of day is within them.

>>> from notify.config import Route
>>> from notify.items import Item, parse_hours
>>> item = Item(id="a", kind="alert", version=1, status="firing", severity="major",
...             category="city", group="flooding", groups=["flooding"], district="Hai Chau",
...             detector="robust_z", source="s", metric="m", title="t", first_seen=0.0,
...             updated_at=0.0)
>>> routes = [Route("night", ("x",), {"group": frozenset({"flooding"})},
...                 hours=parse_hours("22:00-06:00")),
...           Route("floods", ("y",), {"group": frozenset({"flooding"})}, cont=True),
...           Route("all", ("z",))]
>>> [r.name for r in routes_for(item, routes, now=1795410000.0)]  # 12:00 in Da Nang
['floods', 'all']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from notify.config import Route, Silence
from notify.items import Item, minute_of_day

__all__ = ["matches", "routes_for", "silenced_by"]


def matches(route: Route, item: Item, now: float) -> bool:
    """Whether ``route`` takes ``item`` at ``now``."""
    labels = item.labels()
    for key, values in route.match.items():
        if key == "group" and item.kind == "incident":
            if not values.intersection(item.groups):
                return False
        elif labels.get(key) not in values:
            return False
    return route.hours is None or route.hours.contains(minute_of_day(now))


def routes_for(item: Item, routes: Sequence[Route], now: float) -> list[Route]:
    """The routes that take ``item``: the first match, and further ones while matches say
    ``continue``."""
    out = []
    for route in routes:
        if matches(route, item, now):
            out.append(route)
            if not route.cont:
                break
    return out


def silenced_by(item: Item, silences: Iterable[Silence], now: float) -> Silence | None:
    """The config silence holding ``item`` at ``now`` (every matcher equal), if any.

    >>> from notify.items import Item
    >>> i = Item(id="a", kind="alert", version=1, status="firing", severity="major",
    ...          category="city", group="traffic", groups=["traffic"], district="Hai Chau",
    ...          detector="d", source="s", metric="m", title="t", first_seen=0.0,
    ...          updated_at=0.0)
    >>> silenced_by(i, [Silence({"group": "traffic"}, until=100.0)], now=50.0) is not None
    True
    >>> silenced_by(i, [Silence({"group": "traffic"}, until=100.0)], now=150.0) is None
    True
    """
    labels = item.labels()
    for s in silences:
        if s.until > now and all(labels.get(k) == v for k, v in s.matchers.items()):
            return s
    return None
