"""Tracked series, column-wise: one :class:`SeriesBlock` per (partition, metric plan).

A series is one (source, metric) a worker follows. The series of one metric on one partition
close their windows together, so they live together: row ``i`` of a block is one series, and
each detector of the plan holds the state of every row in one
:class:`~detectors.base.DetectorColumns` (numpy columns for the built-ins), so a window close
scores the whole block with one call per detector. Detectors configured to see every single
reading keep one-series instances (the slow path, only where asked).

A row's state encodes exactly as the one-series form did (:meth:`SeriesBlock.state`), so a
checkpoint written before or after this layout restores in either.

>>> from streams.runtime import DetectorRuntime
>>> plan = DetectorRuntime.build().plan("flooding", "flood_depth")
>>> b = SeriesBlock(plan)
>>> [b.add((src, "flood_depth"), "Hai Chau") for src in ("flood-HC-01", "flood-HC-02")]
[0, 1]
>>> len(b), b.row(("flood-HC-02", "flood_depth"))
(2, 1)
>>> b.keep([1]); b.keys
[('flood-HC-02', 'flood_depth')]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np

from detectors.base import Detector
from detectors.policies import Policy
from ioc.events import Evidence
from streams.indicators import DistrictGroups
from streams.plan_columns import PlanColumns
from streams.recent import RecentRing
from streams.runtime import MetricPlan

__all__ = ["DISTRICT_CODES", "DISTRICT_NAMES", "STATE_VERSION", "BlockNames", "Key",
           "SeriesBlock", "decode_state", "district_code", "series_key"]

STATE_VERSION = 1
Key = tuple[str, str]  # (source, metric)
_ENC = msgspec.msgpack.Encoder()
SEP = "\t"  # never in ids (they are printable)


#: district name -> its number (:attr:`SeriesBlock.district_codes`), numbered as first seen
DISTRICT_CODES: dict[str, int] = {}
#: the names by number
DISTRICT_NAMES: list[str] = []


def district_code(name: str) -> int:
    """The number of a district name (a new name gets the next one).

    >>> district_code("Hai Chau") == district_code("Hai Chau")
    True
    >>> DISTRICT_NAMES[district_code("Son Tra")]
    'Son Tra'
    """
    code = DISTRICT_CODES.get(name)
    if code is None:
        code = DISTRICT_CODES[name] = len(DISTRICT_NAMES)
        DISTRICT_NAMES.append(name)
    return code


def series_key(group: str, source: str, metric: str) -> str:
    """The table key of a series' state.

    >>> series_key("flooding", "rain-HC-01", "rainfall")
    'flooding\\train-HC-01\\trainfall'
    """
    return f"{group}{SEP}{source}{SEP}{metric}"


class SeriesBlock:
    """The series of one metric plan on one partition, one row each (see the module doc).

    Per row: ``keys`` (the one key object its windows share), ``districts`` (and
    ``district_codes``, their numbers in :data:`DISTRICT_CODES`), ``closed_upto`` (end of its
    last closed window), ``last_seen`` (end of its last window with readings), ``sids`` (its
    id in the partition's :class:`~streams.window_columns.SeriesIds`, -1 until the closer
    first looks it up), ``lanes`` (bit 1: a city alert lane exists, bit 2: a health lane) and,
    for per-reading detectors, ``peaks`` (the strongest reading verdict since the last close).
    """

    __slots__ = ("__weakref__", "_names", "closed_upto", "columns", "district_codes",
                 "districts", "keys", "lanes", "last_seen", "peaks", "plan", "reader_pols",
                 "readers", "recent", "rows", "sids", "slots")

    def __init__(self, plan: MetricPlan, columns: PlanColumns | None = None) -> None:
        self.plan = plan
        # the detectors' and policies' states: this block's rows are its `slots` in them
        self.columns = PlanColumns(plan) if columns is None else columns
        self.slots = np.empty(0, dtype=np.int64)
        self.keys: list[Key] = []
        self.rows: dict[Key, int] = {}
        self.districts: list[str] = []
        self.closed_upto = np.empty(0)
        self.last_seen = np.empty(0)
        self.sids = np.empty(0, dtype=np.int64)
        self.district_codes = np.empty(0, dtype=np.int32)
        self.lanes = bytearray()
        self._names: BlockNames | None = None  # of the rows as they are (see names())
        self.recent = RecentRing(np.float32)  # each row's last window values (sparklines)
        self.peaks: dict[int, dict[int, tuple[float, Evidence | None]]] = {}
        # per-reading detectors: one-series instances and policies per row
        self.readers: dict[int, list[Detector]] = {}
        self.reader_pols: dict[int, list[Policy]] = {}
        for i, d in enumerate(plan.detectors):
            if d.per_reading:
                self.readers[i] = []
                self.reader_pols[i] = []

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, key: Key) -> int:
        """The row of a tracked key (KeyError if untracked)."""
        return self.rows[key]

    def names(self) -> BlockNames:
        """Every row's names, listed once until rows are added or evicted: a window close
        of the whole block reuses them (window summaries, district roll-ups)."""
        got = self._names
        if got is None:  # add_many and keep drop the listed names
            got = self._names = BlockNames(self.keys, self.districts,
                                           self.district_codes[:len(self.keys)])
        return got

    def add(self, key: Key, district: str) -> int:
        """Track a new series with fresh state; returns its row."""
        return self.add_many([key], [district])

    def add_many(self, keys: Sequence[Key], districts: Sequence[str]) -> int:
        """Track new series with fresh state, each detector's columns grown once; returns
        the row of the first (the others follow it)."""
        first, n = len(self.keys), len(keys)
        need = first + n
        self._names = None
        self.keys += keys
        for i, key in enumerate(keys, first):
            self.rows[key] = i
        self.districts += districts
        if need > len(self.closed_upto):
            size = max(8, 2 * len(self.closed_upto), need)
            self.closed_upto = _grown(self.closed_upto, size, -math.inf)
            self.last_seen = _grown(self.last_seen, size, -math.inf)
            self.sids = _grown(self.sids, size, -1)
            self.district_codes = _grown(self.district_codes, size, -1)
            self.slots = _grown(self.slots, size, -1)
        self.closed_upto[first:need] = self.last_seen[first:need] = -math.inf
        self.sids[first:need] = -1
        self.district_codes[first:need] = [district_code(d) for d in districts]
        self.lanes += bytes(n)
        self.recent.grow(need)
        self.slots[first:need] = self.columns.take(n, self)
        for i, d in enumerate(self.plan.detectors):
            if i in self.readers:
                self.readers[i] += [d.instance() for _ in range(n)]
                self.reader_pols[i] += [d.policy.clone() for _ in range(n)]
        return first

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only ``rows``, in this order (after evicting the others)."""
        idx = np.asarray(rows, dtype=np.int64)
        n = len(idx)
        dropped = len(self.keys) - n
        self._names = None
        self.keys = [self.keys[r] for r in rows]
        self.rows = {k: i for i, k in enumerate(self.keys)}
        self.districts = [self.districts[r] for r in rows]
        self.closed_upto = _grown(self.closed_upto[idx], max(8, n), -math.inf)
        self.last_seen = _grown(self.last_seen[idx], max(8, n), -math.inf)
        self.sids = _grown(self.sids[idx], max(8, n), -1)
        self.district_codes = _grown(self.district_codes[idx], max(8, n), -1)
        self.lanes = bytearray(self.lanes[r] for r in rows)
        self.peaks = {i: self.peaks[r] for i, r in enumerate(rows) if r in self.peaks}
        self.recent.keep(idx)
        self.slots = _grown(self.slots[idx], max(8, n), -1)
        if dropped:
            self.columns.release(dropped)
        for i in self.readers:
            self.readers[i] = [self.readers[i][r] for r in rows]
            self.reader_pols[i] = [self.reader_pols[i][r] for r in rows]

    def release(self) -> None:
        """Give every row's slot back (the block's partition was revoked)."""
        n = len(self.keys)
        self.columns.holders.discard(self)
        self.slots = self.slots[:0]  # unusable from here on
        self.columns.release(n)

    # --- state ---------------------------------------------------------------------------
    def state(self, row: int, partition: int, offset: int) -> bytes:
        """Compact bytes of everything needed to go on scoring one row (msgpack);
        ``offset`` is the last input offset of the partition folded in when it was taken."""
        return self.states([row], partition, offset)[0]

    def states(self, rows: Sequence[int], partition: int, offset: int) -> list[bytes]:
        """:meth:`state` of many rows, each detector's states taken in one call."""
        p = self.plan
        idx = np.asarray(rows, dtype=np.intp)
        per_detector: list[tuple[str, str, list[bytes]] | None] = []
        for i, d in enumerate(p.detectors):
            cols = self.columns.cols[i]
            if d.shared:
                per_detector.append(None)
            elif cols is None:
                per_detector.append((d.name, d.version,
                                     [self.readers[i][r].get_state() for r in rows]))
            else:
                per_detector.append((d.name, d.version, cols.get_states(self.slots[idx])))
        pols: list[list[bytes]] | None = None
        if not p.policies_shared:
            pols = [[self._policy_state(i, r) for i in range(len(p.detectors))] for r in rows]
        group, keys, districts = p.group, self.keys, self.districts
        closed, seen = self.closed_upto[idx].tolist(), self.last_seen[idx].tolist()
        encode = _ENC.encode
        out = []
        for j, row in enumerate(rows):
            dets = [None if got is None else [got[0], got[1], got[2][j]] for got in per_detector]
            source, metric = keys[row]
            out.append(encode([STATE_VERSION, group, source, metric, districts[row], partition,
                               closed[j], seen[j], dets, None if pols is None else pols[j],
                               offset]))
        return out

    def _policy_state(self, i: int, row: int) -> bytes:
        pols = self.columns.pols[i]
        return self.reader_pols[i][row].get_state() if pols is None else \
            pols.get_state(int(self.slots[row]))

    def load(self, row: int, dets: list[Any], pols: list[bytes] | None) -> None:
        """Restore detector and policy states saved by :meth:`state` (mismatches start
        fresh)."""
        by_name = {d[0]: d for d in dets if d}
        slot = int(self.slots[row])
        for i, d in enumerate(self.plan.detectors):
            got = by_name.get(d.name)
            if d.shared or got is None or got[1] != d.version:
                continue
            cols = self.columns.cols[i]
            try:
                if cols is None:
                    self.readers[i][row].set_state(got[2])
                else:
                    cols.set_state(slot, got[2])
            except ValueError:
                self._fresh_detector(i, row)
        if pols is None or self.plan.policies_shared or len(pols) != len(self.plan.detectors):
            return
        for i, raw in enumerate(pols):
            try:
                if self.columns.pols[i] is None:
                    self.reader_pols[i][row].set_state(raw)
                else:
                    self.columns.pols[i].set_state(slot, raw)  # type: ignore[union-attr]
            except ValueError:
                fresh = self.plan.detectors[i].policy.clone()
                if self.columns.pols[i] is None:
                    self.reader_pols[i][row] = fresh
                else:
                    self.columns.pols[i].set_state(slot, fresh.get_state())  # type: ignore[union-attr]

    def _fresh_detector(self, i: int, row: int) -> None:
        d = self.plan.detectors[i]
        cols = self.columns.cols[i]
        if cols is None:
            self.readers[i][row] = d.instance()
        else:
            cols.set_state(int(self.slots[row]), d.instance().get_state())


class BlockNames:
    """A block's rows' names as lists of their own (never changed after they are made, so a
    queued record may hold them): ``keys``, ``sources``, ``districts``, and the rows grouped
    by district for the roll-ups (:class:`~streams.indicators.DistrictGroups`).

    >>> names = BlockNames([("a", "rainfall"), ("b", "rainfall")], ["Son Tra", "Hai Chau"],
    ...                    np.array([1, 0]))
    >>> names.sources, names.groups.sources
    (['a', 'b'], ['b', 'a'])
    """

    __slots__ = ("_groups", "codes", "districts", "keys", "sources")

    def __init__(self, keys: Sequence[Key], districts: Sequence[str], codes: np.ndarray
                 ) -> None:
        self.keys = list(keys)
        self.sources = [k[0] for k in self.keys]
        self.districts = list(districts)
        self.codes = codes.copy()
        self._groups: DistrictGroups | None = None

    @property
    def groups(self) -> DistrictGroups:
        if self._groups is None:
            self._groups = DistrictGroups(self.codes, self.sources)
        return self._groups


def decode_state(blob: bytes) -> tuple[Any, ...] | None:
    """The fields of a row state written by :meth:`SeriesBlock.state`: (group, source, metric,
    district, partition, closed_upto, last_seen, dets, pols, offset), or None when the bytes
    are not a state of this layout. States written before the offset was kept give
    ``sys.maxsize`` (all input after a restore counts as read again).

    >>> decode_state(b"junk") is None
    True
    """
    try:
        fields = msgspec.msgpack.decode(blob)
        (version, group, source, metric, district, partition, closed_upto, last_seen,
         dets, pols) = fields[:10]
        offset = int(fields[10]) if len(fields) > 10 else _OLD_OFFSET
    except (msgspec.DecodeError, ValueError, TypeError, IndexError):
        return None
    if version != STATE_VERSION:
        return None
    return (group, source, metric, district, partition, float(closed_upto), float(last_seen),
            dets, pols, offset)


_OLD_OFFSET = 2**63 - 1


def _grown(a: np.ndarray, size: int, fill: float) -> np.ndarray:
    """``a`` copied into a new array of ``size`` (at least ``len(a)``) padded with ``fill``,
    of ``a``'s dtype."""
    out = np.full(max(size, len(a)), fill, dtype=a.dtype)
    out[: len(a)] = a
    return out
