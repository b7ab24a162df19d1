"""Readings as columns: one message of an events topic decoded into lists and arrays.

:func:`decode_columns` takes the same bytes as :func:`ioc.events.decode_readings` and accepts
and refuses exactly the same messages with the same errors; what it returns is a
:class:`ReadingColumns`: ``sources``, ``metrics``, ``groups``, ``districts`` (lists of str),
``ts`` and ``values`` (float64 arrays; a counted event's value is NaN). The common message
(a pack of measured readings of registered sources, epoch-second times, no position) is
decoded by msgspec into light structs that run no per-reading hook (msgspec checks
times, finite values and that group, metric and district are catalog names as it decodes),
then validated in bulk: one group, its measured metrics, and the source ids against those
already checked. Anything else (counted events, positions, RFC 3339 times, a bad item) is
decoded again by :func:`~ioc.events.decode_readings`, so errors
and their fields are those of the reading contract.

>>> pack = (b'[{"group":"flooding","source":"rain-HC-01","metric":"rainfall","value":1.5,'
...         b'"ts":1795410000,"district":"Hai Chau"},{"group":"flooding","source":'
...         b'"rain-HC-01","metric":"rainfall","value":2.5,"ts":1795410010,"district":"Hai Chau"}]')
>>> cols = decode_columns(pack)
>>> len(cols), cols.sources, cols.values.tolist(), cols.ts.tolist()
(2, ['rain-HC-01', 'rain-HC-01'], [1.5, 2.5], [1795410000.0, 1795410010.0])
>>> cols[1].value, cols[1].epoch
(2.5, 1795410010.0)
>>> decode_columns(pack.replace(b'2.5', b'"wet"'))
Traceback (most recent call last):
...
ioc.errors.ValidationError: $[1].value: expected `float | null`, got `str`
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias, overload

import msgspec
import numpy as np

from ioc import catalog
from ioc.errors import ValidationError
from ioc.events import (
    MAX_MESSAGE_BYTES,
    MAX_PACK,
    MAX_TS,
    MIN_TS,
    AttrValue,
    Reading,
    check_id,
    decode_readings,
)

__all__ = ["ReadingColumns", "decode_columns"]


_FINITE = msgspec.Meta(ge=-1.7976931348623157e308, le=1.7976931348623157e308)


# group -> its measured metrics (a counted metric's reading takes the slow path)
_MEASURED: dict[str, frozenset[str]] = {
    g.slug: frozenset(m.name for m in g.metrics if not m.counted)
    for g in catalog.GROUPS.values()}
if TYPE_CHECKING:
    _Group: TypeAlias = str
    _District: TypeAlias = str
    _Metric: TypeAlias = str
else:  # catalog names, checked by msgspec as it decodes (and then one shared str each)
    _Group = Literal[catalog.GROUP_SLUGS]
    _District = Literal[tuple(catalog.DISTRICT_NAMES)]
    _Metric = Literal[tuple(sorted(set().union(*_MEASURED.values())))]


class _Plain(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, gc=False):
    """The reading contract's fields, narrowed to the common case (a known group, district
    and measured metric, a finite value, an epoch-second time within the contract's years,
    no kind, no position), checked by msgspec as it decodes; :meth:`Reading.__post_init__`
    does not run. An item outside it fails here and the message takes the slow path."""

    group: _Group
    source: str
    metric: _Metric
    ts: Annotated[float, msgspec.Meta(ge=MIN_TS, le=MAX_TS)]
    district: _District
    value: Annotated[float, _FINITE]
    kind: None = None
    unit: str | None = None
    lat: None = None
    lon: None = None
    attrs: dict[str, AttrValue] | None = None


_plain_pack = msgspec.json.Decoder(list[_Plain])
_plain_one = msgspec.json.Decoder(_Plain)
_BRACE, _BRACKET = ord("{"), ord("[")

# source ids that passed :func:`~ioc.events.check_id` (a pure check: a pass holds for good)
_SOURCES: set[str] = set()
_SOURCES_MAX = 200_000


class ReadingColumns(Sequence[Reading]):
    """The readings of one message, column-wise; also a sequence of :class:`Reading` s (made
    on first use, for the slow paths that want objects).

    >>> c = ReadingColumns.of([Reading(group="flooding", source="rain-HC-01",
    ...                                metric="rainfall", value=3.0, ts=1795410000.0,
    ...                                district="Hai Chau")])
    >>> c.metrics, c.values.tolist(), c[0] is c.readings()[0]
    (['rainfall'], [3.0], True)
    """

    __slots__ = ("_districts", "_items", "_readings", "_span", "group", "groups", "metrics",
                 "sources", "ts", "values")

    def __init__(self, groups: list[str], sources: list[str], metrics: list[str],
                 districts: list[str] | None, ts: np.ndarray, values: np.ndarray, *,
                 items: Sequence[_Plain] | None = None,
                 readings: list[Reading] | None = None, group: str | None = None) -> None:
        self.groups = groups
        # the one group of every reading, when the decoder checked it (None: not known)
        self.group = group
        self.sources = sources
        self.metrics = metrics
        self._districts = districts  # None: listed from ``items`` on first use
        self.ts = ts
        self.values = values
        self._items = items
        self._readings = readings
        self._span: tuple[float, float] | None = None

    @classmethod
    def of(cls, readings: list[Reading]) -> ReadingColumns:
        """Columns of decoded readings (a counted event's value: NaN)."""
        n = len(readings)
        return cls([r.group for r in readings], [r.source for r in readings],
                   [r.metric for r in readings], [r.district for r in readings],
                   np.fromiter((r.ts for r in readings), dtype=np.float64, count=n),
                   np.array([r.value for r in readings], dtype=np.float64).reshape(n),
                   readings=readings)

    @property
    def districts(self) -> list[str]:
        """The readings' districts (the windows do not need them: listed on first use)."""
        if self._districts is None:
            self._districts = [x.district for x in self._items or ()]
        return self._districts

    def span(self) -> tuple[float, float]:
        """The oldest and newest reading times (NaN, NaN when there are none), taken once.

        >>> ReadingColumns.of([]).span()
        (nan, nan)
        """
        if self._span is None:
            ts = self.ts
            self._span = (float(ts.min()), float(ts.max())) if len(ts) else \
                (float("nan"), float("nan"))
        return self._span

    def readings(self) -> list[Reading]:
        """The readings as :class:`Reading` objects."""
        if self._readings is None:
            fields = Reading.__struct_fields__
            self._readings = [Reading(**{f: getattr(x, f) for f in fields})
                              for x in self._items or ()]
        return self._readings

    def __len__(self) -> int:
        return len(self.sources)

    @overload
    def __getitem__(self, i: int) -> Reading: ...
    @overload
    def __getitem__(self, i: slice) -> list[Reading]: ...
    def __getitem__(self, i: int | slice) -> Reading | list[Reading]:
        return self.readings()[i]

    def __iter__(self) -> Iterator[Reading]:
        return iter(self.readings())

    def __repr__(self) -> str:
        return f"<ReadingColumns of {len(self)} readings>"


def decode_columns(raw: bytes) -> ReadingColumns:
    """Decode one message (a reading or a pack) into columns; raise
    :class:`~ioc.errors.ValidationError` exactly as :func:`~ioc.events.decode_readings`."""
    items = _plain(raw)
    if items is not None:
        cols = _validated(items)
        if cols is not None:
            return cols
    return ReadingColumns.of(decode_readings(raw))


def _plain(raw: bytes) -> list[_Plain] | None:
    """The message's items, when it is a pack (or an object) of plain measured readings."""
    size = len(raw)
    if not 0 < size <= MAX_MESSAGE_BYTES:
        return None
    try:
        first = raw[0]
        if first == _BRACKET:
            items = _plain_pack.decode(raw)
            return items if 0 < len(items) <= MAX_PACK else None
        if first == _BRACE:
            return [_plain_one.decode(raw)]
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return None


def _validated(items: list[_Plain]) -> ReadingColumns | None:
    """The columns of ``items`` when they are readings :meth:`Reading.__post_init__` takes
    as measured (one group, its measured metrics, valid source ids); None to take the slow
    path. msgspec has checked the rest (groups, districts and metrics are catalog names)."""
    n = len(items)
    groups = [x.group for x in items]
    group = groups[0]
    if groups.count(group) != n:
        return None
    metrics = [x.metric for x in items]
    sources = [x.source for x in items]
    if not _MEASURED[group].issuperset(metrics) or (
            not _SOURCES.issuperset(sources) and not _admit(sources)):
        return None
    return ReadingColumns(groups, sources, metrics, None,
                          np.array([x.ts for x in items], dtype=np.float64),
                          np.array([x.value for x in items], dtype=np.float64), items=items,
                          group=group)


def _admit(sources: list[str]) -> bool:
    """Check new source ids as :meth:`Reading.__post_init__` would and remember those that
    pass; False when any fails."""
    new = set(sources) - _SOURCES
    try:
        for source in new:
            check_id("source", source)
    except ValidationError:
        return False
    if len(_SOURCES) + len(new) > _SOURCES_MAX:
        _SOURCES.clear()
    _SOURCES.update(new)
    return True
