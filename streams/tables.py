"""The worker's changelogged Faust tables, and a mapping view that writes them from anywhere.

===============  ===========  ======================================================  ========
table            key          value (msgpack bytes)                                   written
===============  ===========  ======================================================  ========
``series``       group/src/m  a series' detector + policy state, last window closed   checkpoint
``alerts``       lane key     :class:`~streams.lifecycle.AlertBook` lane              on change
``incidents``    district     :class:`~streams.incidents.IncidentLinker` district     on change
``indicators``   group:dist.  :class:`~streams.indicators.IndicatorMerger` state       per part
``silences``     silence id   :class:`~streams.silences.SilenceBook` silence          command
``offsets``      topic#part   next events offset to read (:mod:`streams.reader`)      checkpoint
===============  ===========  ======================================================  ========

``silences`` is a **GlobalTable**: every worker holds every silence. The others are
partitioned like the events topics: a key's changelog partition is the partition its inputs
arrive on, so the worker that owns a partition owns its state, and gets it back from the
changelog after a restart or a rebalance.

Faust writes a table key to the changelog partition of the event being processed. The series
and alert state is written from windows that close on a timer or in a batch of many
partitions' events, so :class:`PartitionedStore` writes with an explicit partition instead
(:meth:`faust.tables.base.Collection.send_changelog`) and updates the in-memory store itself.
The alert book names each lane's partition itself (the lane record keeps it), so the
``alerts`` store needs no ``partition_of``; the ``indicators`` store is written from batches
of parts, with each key's partition as the parts topic's (its key hashed). The ``series``
state is written to the changelog only: the pipeline holds it live, so the table's in-memory
store holds it just between a recovery and the restore that follows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    import faust

    from streams.publish import BatchPublisher

__all__ = ["PartitionedStore", "WorkerTables"]

_key_encoder = msgspec.json.Encoder()


def _json_key(key: str) -> bytes:
    """A table key as Faust's ``json`` key serializer writes it."""
    return _key_encoder.encode(key)


class PartitionedStore(MutableMapping[str, bytes]):
    """A ``MutableMapping[str, bytes]`` over a Faust table whose writes name their changelog
    partition: :meth:`put` takes it explicitly (the alert book passes each lane's own);
    item assignment and deletion use ``partition_of(key)`` when given (the incident linker's
    districts), else the partition of the event being processed."""

    def __init__(self, table: Any, partition_of: Callable[[str], int | None] | None = None,
                 publisher: BatchPublisher | None = None, *, keep_local: bool = True) -> None:
        self.table = table
        self.partition_of = partition_of
        # False: values go to the changelog only (their owner keeps the live state itself)
        self.keep_local = keep_local
        # when given, changelog records are queued on it (sent in batches by the owner)
        self.publisher = publisher
        self._topic: str | None = None

    @property
    def _data(self) -> Any:
        return self.table.data  # the store: a dict-like of decoded keys and values

    def __getitem__(self, key: str) -> bytes:
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self._data[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data.keys()))

    def __len__(self) -> int:
        return len(self._data)

    def _partition(self, key: str) -> int | None:
        return None if self.partition_of is None else self.partition_of(key)

    def __setitem__(self, key: str, value: bytes) -> None:
        self.put(key, value, self._partition(key))

    def __delitem__(self, key: str) -> None:
        if key not in self._data:
            raise KeyError(key)
        self.put(key, None, self._partition(key))

    def set_local(self, key: str, value: bytes, partition: int) -> None:
        """Hold ``key`` in the in-memory store (and Faust's key -> partition map) only: no
        changelog record."""
        store = self._data
        store[key] = value
        owners = getattr(store, "_key_partition", None)
        if owners is not None:
            owners[key] = partition

    def pop_local(self, key: str) -> bytes | None:
        """Take ``key`` out of the in-memory store only; returns what it held."""
        store = self._data
        owners = getattr(store, "_key_partition", None)
        if owners is not None:
            owners.pop(key, None)
        return store.pop(key, None)

    def put(self, key: str, value: bytes | None, partition: int | None) -> None:
        """Write (or delete, with ``None``) ``key`` in ``partition``'s changelog."""
        if partition is None:
            if value is None:
                del self.table[key]
            else:
                self.table[key] = value
            return
        if value is None or not self.keep_local:
            self.pop_local(key)
        else:
            self.set_local(key, value, partition)
        if self.publisher is not None:
            if self._topic is None:
                self._topic = self.table.changelog_topic.get_topic_name()
            self.publisher.add_to(self._topic, partition, _json_key(key), value)
        elif value is None:
            self.table.send_changelog(partition, key, None, value_serializer="raw")
        else:
            self.table.send_changelog(partition, key, value)


class WorkerTables:
    """The tables of one app (declared once, before the app starts)."""

    def __init__(self, app: faust.App, partitions: int) -> None:
        opts: dict[str, Any] = {"key_type": str, "value_type": bytes, "partitions": partitions}
        self.series = app.Table("series", help="Detector state per (source, metric).", **opts)
        self.alerts = app.Table("alerts", help="Alert lanes (AlertBook).", **opts)
        self.incidents = app.Table("incidents", help="Incidents per district.", **opts)
        self.indicators = app.Table("indicators", help="Indicator parts being merged.", **opts)
        self.offsets = app.Table("offsets", help="Next events offset to read, per partition.",
                                 **opts)
        self.silences = app.GlobalTable("silences", help="Active silences (all workers).",
                                        **opts)
