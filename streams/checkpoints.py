"""Checkpoint and recovery of the tracked series' state.

A series whose window closed is *dirty*; :func:`dirty_states` returns the compact state of the
dirty series (detector and policy state, the last window closed, the input offset folded in)
for the worker to write to its changelogged table, and :func:`restore` puts such a state back.
Open windows are never checkpointed: the worker acknowledges a Kafka message only once every
window its readings fall into has closed and been checkpointed, so after a crash the
uncommitted messages are read again and rebuild the open windows exactly, while the readings of
windows already closed are recognised (their window is behind the series' last closed window,
their offset not after the checkpoint's) and skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterable

from streams.lifecycle import CITY, HEALTH, lane_key
from streams.partition import PartitionState
from streams.runtime import DetectorRuntime
from streams.series import decode_state, series_key

__all__ = ["Evicted", "dirty_count", "dirty_states", "restore", "snapshot"]

State = tuple[str, int, bytes | None]  # (table key, partition, state or None: evicted)
Evicted = list[tuple[str, int]]


def dirty_states(parts: Iterable[PartitionState], evicted: Evicted) -> list[State]:
    """(table key, partition, state) of every series whose window closed since the last
    call, and (key, partition, None) for series evicted after a long silence; clears both."""
    out: list[State] = []
    for st in parts:
        if not st.dirty:
            continue
        g, p = st.group, st.partition
        for block in st.blocks.values():
            rows = [r for key, r in block.rows.items() if key in st.dirty]
            if rows:
                rows.sort()
                keys = block.keys
                out += [(series_key(g, keys[r][0], keys[r][1]), p, blob)
                        for r, blob in zip(rows, block.states(rows, p, st.last_offset),
                                           strict=True)]
        st.dirty.clear()
    out += [(k, p, None) for k, p in evicted]
    evicted.clear()
    return out


def dirty_count(parts: Iterable[PartitionState], evicted: Evicted) -> int:
    """How many states :func:`dirty_states` would return now."""
    return sum(len(st.dirty) for st in parts) + len(evicted)


def snapshot(parts: Iterable[PartitionState], partitions: Container[int]
             ) -> list[tuple[str, int, bytes]]:
    """(table key, partition, state) of every series of ``partitions``, as they are now."""
    out = []
    for st in parts:
        if st.partition not in partitions:
            continue
        for block in st.blocks.values():
            rows = list(range(len(block)))
            blobs = block.states(rows, st.partition, st.last_offset)
            out += [(series_key(st.group, key[0], key[1]), st.partition, blob)
                    for key, blob in zip(block.keys, blobs, strict=True)]
    return out


def restore(blob: bytes, *, runtime: DetectorRuntime,
            partition_state: Callable[[str, int], PartitionState],
            lanes: Container[str], counted: Callable[[str, str], None],
            partitions: Container[int] | None = None, dirty: bool = False
            ) -> tuple[str, int] | None:
    """Put back a series from its checkpoint; returns its (group, partition), or None when
    the state does not fit (another layout, a group or metric no longer known), its partition
    is not in ``partitions``, or the series is already tracked. ``lanes`` are the alert book's
    lane keys; ``counted(group, source)`` tells the series budget. ``dirty`` marks it for the
    next checkpoint (after a recovery the changelog may hold an older state than the one
    restored)."""
    fields = decode_state(blob)
    if fields is None:
        return None
    (group, source, metric, district, partition, closed_upto, last_seen, dets, pols,
     offset) = fields
    if partitions is not None and partition not in partitions:
        return None
    try:
        plan = runtime.plan(group, metric)
    except KeyError:
        return None
    st = partition_state(group, partition)
    if (source, plan.metric) in st.series:
        return None
    key = st.track(plan, source, district)
    block, row = st.block_of(key)  # type: ignore[misc]
    block.load(row, dets, pols)
    block.closed_upto[row] = closed_upto
    block.last_seen[row] = last_seen
    block.lanes[row] = ((1 if lane_key(group, source, metric, CITY) in lanes else 0)
                        | (2 if lane_key(group, source, metric, HEALTH) in lanes else 0))
    counted(group, source)
    if dirty:
        st.dirty.add(key)
    _rewind(st, closed_upto, offset)
    return group, partition


def _rewind(st: PartitionState, closed_upto: float, offset: int) -> None:
    """Set a partition's windows where its least advanced restored series stands.

    Restored states may stand at different windows (the live state a worker kept for itself
    across a rebalance, the changelog's older one for others): the partition's windows and
    clock restart at the earliest, so every series gets back each window it has not closed
    yet, and a series restored further ahead skips the windows it closed already (its own
    ``closed_upto``). Input up to the latest (``replayed_upto``, ``replayed_offset``) is read
    again, not late."""
    w = st.windows
    if w.closed_upto == -math.inf or closed_upto < w.closed_upto:
        w.closed_upto = closed_upto
        w.clock = closed_upto  # restart: no readings were folded in since the restore began
        w.forget_before(closed_upto)
    if closed_upto > w.replayed_upto:
        w.replayed_upto = closed_upto
    st.replayed_offset = max(st.replayed_offset, offset)
