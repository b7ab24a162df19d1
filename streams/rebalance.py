"""What the worker does when Kafka moves partitions: before a revoke, after a recovery.

**Revoked**: the live series state of the revoked events partitions is left in the ``series``
table's in-memory store (where the restore after the rebalance finds it, should this worker
get them back: the changelog may hold an older state, which is consistent too, since the
uncommitted input is read again), then the pipeline forgets those partitions and their
messages waiting for acknowledgement are dropped (their new owner reads them again).

**Recovered** (Faust has rebuilt the tables from their changelogs): the series of the
partitions this worker owns are put back into the pipeline, the open-alert index is rebuilt
from the alert book (each alert on its lane's own partition), and the worker is ready.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.acks import AckLedger
    from streams.health import WorkerStatus
    from streams.lifecycle import AlertBook
    from streams.pipeline import Pipeline
    from streams.tables import PartitionedStore

__all__ = ["Rebalancer"]

log = logging.getLogger("ioc.worker")


class Rebalancer:
    """Revoke and recover the state of events partitions (call with the worker's lock held).

    ``assignment()`` is the consumer's current assignment (topic partitions with ``topic``
    and ``partition``); ``events_topics`` the names of the events topics.
    """

    def __init__(self, *, pipeline: Pipeline, book: AlertBook, series_store: PartitionedStore,
                 ledger: AckLedger, status: WorkerStatus, events_topics: Collection[str],
                 assignment: Callable[[], Iterable[Any]]) -> None:
        self.pipeline = pipeline
        self.book = book
        self.series_store = series_store
        self.ledger = ledger
        self.status = status
        self.events_topics = frozenset(events_topics)
        self.assignment = assignment

    def event_partitions(self, tps: Iterable[Any]) -> set[int]:
        """The partition numbers of the events topics among ``tps``."""
        return {tp.partition for tp in tps if tp.topic in self.events_topics}

    def assigned(self) -> set[int]:
        """The events partitions assigned to this worker now."""
        return self.event_partitions(self.assignment())

    def revoke(self, tps: Iterable[Any]) -> set[int]:
        """Partitions ``tps`` are being revoked; returns their events partition numbers."""
        parts = self.event_partitions(tps)
        self.status.ready = False
        for key, partition, blob in self.pipeline.snapshot(parts):
            self.series_store.set_local(key, blob, partition)
        self.pipeline.revoke(parts)
        self.ledger.forget(parts)
        return parts

    def recover(self) -> tuple[int, set[int]]:
        """The tables are recovered: restore the owned partitions' series; returns how many
        series were restored, and the partitions."""
        assigned = self.assigned()
        restored = kept = 0
        for key in self.series_store:  # a snapshot of the keys
            blob = self.series_store.get(key)
            if not isinstance(blob, bytes):
                continue
            if self.pipeline.restore(blob, assigned, dirty=True):
                restored += 1
                self.series_store.pop_local(key)
            else:
                kept += 1
        self.pipeline.rebuild_open_alerts(lambda a: self.book.partition_of(a.alert_id))
        self.status.recoveries += 1
        self.status.ready = True
        log.info("recovered %d series for partitions %s (%d states of other partitions or "
                 "already tracked kept in the table)", restored, sorted(assigned), kept)
        return restored, assigned
