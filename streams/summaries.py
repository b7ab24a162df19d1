"""A close's window summaries, held as the column packs a worker publishes.

A window close makes one :class:`~ioc.records.WindowSummaries` pack per metric block and chunk
(columns straight from the close's arrays: no object per series). :class:`SummaryPacks` holds
a group's packs for the step and reads as a sequence of :class:`~ioc.records.WindowSummary`
(one per row, made only when read: the multivariate models and tests read them, the
publisher sends the packs as they are).

>>> from ioc.records import WindowSummaries
>>> packs = SummaryPacks()
>>> packs.add(WindowSummaries("traffic", "speed", 0.0, 60.0, False, ["a", "b"],
...                           ["Hai Chau", "Hai Chau"], [6, 0], [1.0, 0.0], [1.0, 0.0],
...                           [1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0, 0], [0, 0],
...                           [False, False]))
>>> len(packs), [s.source for s in packs], packs[1].count
(2, ['a', 'b'], 0)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from ioc.records import WindowSummaries, WindowSummary

__all__ = ["SummaryPacks"]


class SummaryPacks(Sequence[WindowSummary]):
    """Window summaries as packs of columns (see the module docstring)."""

    __slots__ = ("_rows", "n", "packs")

    def __init__(self) -> None:
        self.packs: list[WindowSummaries] = []
        self.n = 0
        self._rows: list[WindowSummary] | None = None

    def add(self, pack: WindowSummaries) -> None:
        self.packs.append(pack)
        self.n += len(pack)
        self._rows = None

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[WindowSummary]:
        for pack in self.packs:
            yield from pack.rows()

    def rows(self) -> list[WindowSummary]:
        """Every row as a :class:`WindowSummary` (made once, then kept)."""
        if self._rows is None:
            self._rows = list(self)
        return self._rows

    @overload
    def __getitem__(self, i: int) -> WindowSummary: ...

    @overload
    def __getitem__(self, i: slice) -> list[WindowSummary]: ...

    def __getitem__(self, i: int | slice) -> WindowSummary | list[WindowSummary]:
        return self.rows()[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SummaryPacks):
            return self.rows() == other.rows()
        if isinstance(other, list):
            return self.rows() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SummaryPacks({self.n} rows in {len(self.packs)} packs)"
