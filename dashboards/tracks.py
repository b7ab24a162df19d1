"""Where the moving sources are (ambulances, fire trucks, buses, fishing vessels): the last
position each reported, a short track behind it, and which ones stopped reporting (*lost*).

Fed with the readings of the groups whose sources move (:mod:`dashboards.positions` reads
them from Kafka); pure and synchronous, like the state. Time is event time: a source is lost
when the newest reading of any moving source is more than :func:`lost_after` seconds newer
than its own last one, so a replay or a paused city never marks everyone lost at once.

>>> from ioc.events import Reading
>>> t = Tracks()
>>> t.apply(Reading(group="fishing_vessels", source="vms-ST-01", metric="speed", value=6.0,
...                 ts=1795410000.0, district="Son Tra", lat=16.06, lon=108.345))
True
>>> t.apply(Reading(group="fishing_vessels", source="vms-ST-02", metric="speed", value=6.0,
...                 ts=1795410100.0, district="Son Tra", lat=16.115, lon=108.345))
True
>>> [(p["id"], p["lost"]) for p in t.view()]
[('vms-ST-01', True), ('vms-ST-02', False)]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable
from typing import Any

from ioc import boundaries, catalog
from ioc.events import Reading

TRACK_POINTS = 12      # points kept behind each source
TRACK_EVERY_S = 20.0   # a new track point at most this often (the head moves in between)
MIN_LOST_S = 60.0      # never lost sooner than this after the last report


def lost_after(kind: str) -> float:
    """Seconds without a report before a source of ``kind`` counts as lost: four of its
    reporting intervals, at least :data:`MIN_LOST_S`.

    >>> lost_after("vessel"), lost_after("unknown kind")
    (60.0, 60.0)
    """
    cadence = _CADENCE.get(kind, 0.0)
    return max(MIN_LOST_S, 4.0 * cadence)


_CADENCE = {k.name: k.cadence_s for g in catalog.CATALOG for k in g.source_kinds}
_MOVING = {s.id: s for s in catalog.all_sources() if s.kind in boundaries.MOVING_KINDS}


class _Track:
    __slots__ = ("kind", "last", "points", "source")

    def __init__(self, source: catalog.Source) -> None:
        self.source = source
        self.kind = source.kind
        self.last = 0.0
        self.points: deque[tuple[float, float, float]] = deque(maxlen=TRACK_POINTS)


class Tracks:
    """The moving sources of the catalog as last reported. ``apply`` a reading; ``view``
    what a map draws."""

    def __init__(self) -> None:
        self._tracks: dict[str, _Track] = {}
        self.as_of = 0.0     # the newest reading's time
        self.changes = 0     # grows with every applied reading

    def apply(self, reading: Reading) -> bool:
        """Take ``reading``'s position (False when it has none, is older than the source's
        last one, or comes from a source the catalog does not list as moving)."""
        lat, lon = reading.lat, reading.lon
        if lat is None or lon is None:
            return False
        source = _MOVING.get(reading.source)
        if source is None or source.group != reading.group:
            return False
        track = self._tracks.get(source.id)
        if track is None:
            track = self._tracks[source.id] = _Track(source)
        ts = reading.epoch
        if ts < track.last:
            return False
        points = track.points
        if len(points) > 1 and points[-1][0] - points[-2][0] < TRACK_EVERY_S:
            points[-1] = (ts, lat, lon)      # the head moves; the track keeps its spacing
        else:
            points.append((ts, lat, lon))
        track.last = ts
        self.as_of = max(self.as_of, ts)
        self.changes += 1
        return True

    def apply_all(self, readings: Iterable[Reading]) -> int:
        """Apply a batch; how many readings moved something."""
        return sum(1 for r in readings if self.apply(r))

    def view(self, districts: Collection[str] | None = None) -> list[dict[str, Any]]:
        """Every tracked source (of ``districts`` only, when given), by id: where it is, its
        track (oldest first, ``[lat, lon]`` pairs), when it last reported and whether it is
        lost."""
        out = []
        for sid in sorted(self._tracks):
            track = self._tracks[sid]
            src = track.source
            if districts is not None and src.district not in districts:
                continue
            _, lat, lon = track.points[-1]
            out.append({"id": sid, "group": src.group, "kind": track.kind,
                        "district": src.district, "lat": lat, "lon": lon, "ts": track.last,
                        "lost": self.as_of - track.last > lost_after(track.kind),
                        "track": [[p[1], p[2]] for p in track.points]})
        return out
