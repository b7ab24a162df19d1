"""One alert lane: what the alert book remembers per (group, source, metric, category).

A lane holds the current (or last) episode of its alerts and everything needed to take the
next input exactly once: the last published version of each alert_id, the lane's clock, the
window ends each detector already reported, the command ids already applied. It also holds
the changelog partition it lives on (``partition``: the partition its readings arrive on), so
every write of the lane goes there whoever triggers it (a window, a command, a tick). Lanes
written before the partition was kept decode with ``None``, and the book falls back for them.

The transitions of a lane are :class:`~streams.transitions.LaneRules`; the store of lanes is
:class:`~streams.lifecycle.AlertBook`.

>>> key = lane_key("wastewater", "pump:ST:01", "inflow", CITY)
>>> key, split_lane_key(key)
('wastewater:pump:ST:01:inflow:city', ('wastewater', 'pump:ST:01', 'inflow', 'city'))
>>> lane = decode_lane(encode_lane(Lane(partition=3)))
>>> lane.partition, lane.open, lane.replayed()
(3, False, [])
>>> old = msgspec.msgpack.encode({"flaps": 2})   # a lane written before "partition"
>>> decode_lane(old).partition is None
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import msgspec
from msgspec.structs import replace

from ioc.events import Alert, Category
from streams.evidence import Verdict

__all__ = [
    "CITY",
    "HEALTH",
    "LANES",
    "MAX_APPLIED",
    "OPEN",
    "Lane",
    "LaneAddress",
    "Who",
    "alert_fields",
    "decode_lane",
    "encode_lane",
    "lane_key",
    "source_of",
    "split_lane_key",
]

CITY: Category = "city"
HEALTH: Category = "sensor_health"
LANES: tuple[Category, ...] = (CITY, HEALTH)
OPEN = frozenset({"firing", "acknowledged", "silenced"})
MAX_APPLIED = 64  # command ids remembered per lane (replay protection)


class Who(NamedTuple):
    """Who a record names: ``user`` (``role:login``), ``reason``, ``name`` (display name)."""

    user: str | None
    reason: str | None
    name: str | None


class Lane(msgspec.Struct, kw_only=True):
    """What the book remembers per lane (msgpack bytes in the store)."""

    alert: Alert | None = None        # the current (or last) episode, latest state
    dirty: bool = False               # alert holds changes not published (while silenced)
    versions: dict[str, int] = {}     # last published version of every alert_id of the lane
    clock: float = -math.inf          # the lane's time: max input time, never goes back
    base: str = "warning"             # severity at open; duration escalation steps from it
    acked: bool = False
    ack_user: str | None = None
    ack_reason: str | None = None
    sil_user: str | None = None
    sil_reason: str | None = None
    sil_id: str | None = None         # the silence holding the alert
    resolved_at: float | None = None
    flaps: int = 0                    # re-openings within the flap window, this episode chain
    fired_end: float = -math.inf      # latest window end at which a lane detector fired
    normal: int = 0                   # normal windows in a row since then
    normal_end: float = -math.inf
    seen: dict[str, float] = {}       # detector -> latest window end applied
    applied: list[str] = []           # recent command ids applied
    partition: int | None = None      # the changelog partition it lives on (None: not known)
    ack_name: str | None = None       # display name of ack_user (lanes before it: None)
    sil_name: str | None = None       # display name of sil_user

    @property
    def open(self) -> bool:
        return self.alert is not None and self.alert.status in OPEN

    def publish(self, alert: Alert, change: str, *, user: str | None = None,
                reason: str | None = None, name: str | None = None) -> Alert:
        """``alert`` as the lane's next published record (next version of its alert_id);
        ``user``, ``reason`` and ``name`` (``user``'s display name) say who and why (none:
        a change the sensors made)."""
        version = self.versions.get(alert.alert_id, 0) + 1
        rec = replace(alert, version=version, change=change, user=user, reason=reason,
                      display_name=name if user is not None else None)
        self.versions[alert.alert_id] = version
        self.alert = rec
        self.dirty = False
        return rec

    def owner(self, status: str) -> Who:
        """Who put the alert in ``status``, why, and their display name (automatic changes
        keep them)."""
        if status == "silenced":
            return Who(self.sil_user, self.sil_reason, self.sil_name)
        if status == "acknowledged":
            return Who(self.ack_user, self.ack_reason, self.ack_name)
        return Who(None, None, None)

    def fresh(self, verdicts: Iterable[Verdict]) -> list[Verdict]:
        """The verdicts on windows the lane has not applied yet (per detector)."""
        seen = self.seen
        return [v for v in verdicts if v.evidence.window_end > seen.get(v.detector, -math.inf)]

    def replayed(self) -> list[Alert]:
        """The answer to an input already applied: the last published record again."""
        return [self.alert] if self.alert is not None and not self.dirty else []


encode_lane = msgspec.msgpack.Encoder().encode
decode_lane = msgspec.msgpack.Decoder(Lane).decode


class LaneAddress(NamedTuple):
    """Where a lane's alerts come from (what a window's verdicts are about)."""

    group: str
    district: str
    source: str
    metric: str
    category: Category

    @property
    def key(self) -> str:
        return lane_key(self.group, self.source, self.metric, self.category)


def lane_key(group: str, source: str, metric: str, category: str) -> str:
    """The store key of a lane. Unambiguous for every source id: groups, metrics and
    categories are catalog names without ``:``, so the source is everything between the first
    ``:`` and the last two.

    >>> lane_key("flooding", "flood-HC-01", "flood_depth", "city")
    'flooding:flood-HC-01:flood_depth:city'
    >>> source_of(lane_key("wastewater", "pump:ST:01", "inflow", "city"))
    'pump:ST:01'
    """
    return f"{group}:{source}:{metric}:{category}"


def split_lane_key(key: str) -> tuple[str, str, str, str]:
    """(group, source, metric, category) of a lane key."""
    group, rest = key.split(":", 1)
    source, metric, category = rest.rsplit(":", 2)
    return group, source, metric, category


def source_of(key: str) -> str:
    """The source part of a lane key (sources may contain colons; groups never do)."""
    return key.split(":", 1)[1].rsplit(":", 2)[0]


def alert_fields(alert: Alert) -> dict[str, str]:
    """The fields a silence's matchers look at."""
    return {"alert_id": alert.alert_id, "group": alert.group, "district": alert.district,
            "source": alert.source, "metric": alert.metric, "detector": alert.detector,
            "category": alert.category, "severity": alert.severity}
