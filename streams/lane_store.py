"""Where alert lanes are kept: a ``MutableMapping[str, bytes]`` of lane keys to msgpack lane
records (a Faust table in the worker, a dict in tests), each lane written to its own changelog
partition.

Every write goes to ``store.put(key, value, partition)`` when the store has ``put``
(:class:`~streams.tables.PartitionedStore`), else to plain item assignment. A lane whose
partition is not known (written before it was kept, or observed without one) is placed where
Kafka's default partitioner puts its source among ``partitions`` (see :mod:`streams.lifecycle`).

>>> lanes, key = LaneStore({}, partitions=4), "flooding:flood-HC-01:flood_depth:city"
>>> lanes.save(key, Lane())
>>> lanes.load(key).partition == default_partition("flood-HC-01", 4)
True
>>> [k for k, _ in lanes.each(owns=lambda source: source != "flood-HC-01")]
[]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping

from ioc.events import split_alert_id
from streams.lanes import LANES, Lane, decode_lane, encode_lane, lane_key, source_of
from streams.publish import default_partition

__all__ = ["LaneStore", "Owns"]

Owns = Callable[[str], bool]
Put = Callable[[str, bytes, int | None], None]


def _writer(store: MutableMapping[str, bytes]) -> Put:
    """``store.put(key, value, partition)``, or plain item assignment for a store without it
    (a dict in tests, where partitions mean nothing)."""
    put = getattr(store, "put", None)
    if put is not None:
        return put

    def assign(key: str, value: bytes, partition: int | None) -> None:
        store[key] = value

    return assign


class LaneStore:
    """Load, save, find and place the lanes of ``store`` (``partitions``: the events topics'
    partition count, for lanes of unknown partition)."""

    def __init__(self, store: MutableMapping[str, bytes], partitions: int | None = None) -> None:
        self.store = store
        self.partitions = partitions
        self._put = _writer(store)

    def load(self, key: str) -> Lane | None:
        raw = self.store.get(key)
        return None if raw is None else decode_lane(raw)

    def save(self, key: str, lane: Lane) -> None:
        """Write ``lane`` to its partition (placed first if it has none)."""
        if lane.partition is None:
            lane.partition = self.fallback(key)
        self._put(key, encode_lane(lane), lane.partition)

    def fallback(self, key: str) -> int | None:
        """Where a lane of unknown partition lives (see the module doc)."""
        if not self.partitions:
            return None
        return default_partition(source_of(key), self.partitions)

    def find(self, aid: str) -> tuple[str, Lane] | None:
        """The key and lane whose episodes include alert ``aid``."""
        _, group, source, metric = split_alert_id(aid)
        for category in LANES:
            key = lane_key(group, source, metric, category)
            lane = self.load(key)
            if lane is not None and aid in lane.versions:
                return key, lane
        return None

    def partition_of(self, aid: str) -> int | None:
        """The changelog partition of the lane holding alert ``aid`` (None: no such lane, or
        nowhere to place it)."""
        found = self.find(aid)
        if found is None:
            return None
        key, lane = found
        return lane.partition if lane.partition is not None else self.fallback(key)

    def each(self, owns: Owns | None = None) -> Iterator[tuple[str, Lane]]:
        """Every lane whose source ``owns`` accepts (default: all), in store order."""
        for key in list(self.store):
            if owns is not None and not owns(source_of(key)):
                continue
            lane = self.load(key)
            if lane is not None:
                yield key, lane
