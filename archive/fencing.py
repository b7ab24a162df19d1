"""The exactly-once fence: each partition's stored next offset, moved on only from the value
the writer last read.

:meth:`archive.store.Store.write` calls :func:`advance` in the transaction that writes a
batch's rows: a writer that lost its partitions to another process (a rebalance, a long pause)
finds a stored offset it did not expect, raises :class:`Fenced`, and the whole transaction,
rows included, is rolled back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import schema
from ioc.errors import IocError

__all__ = ["Fenced", "advance", "stored_offsets"]


class Fenced(IocError):
    """The stored offsets moved on under this writer: another archive owns the partition."""


def stored_offsets(conn: Connection, consumer: str, topics: Iterable[str] | None = None
                   ) -> dict[tuple[str, int], int]:
    """The stored next offset of every partition ``consumer`` has written (of ``topics``
    only, when given)."""
    t = schema.archive_offsets
    q = sa.select(t.c.topic, t.c.partition, t.c.next_offset).where(t.c.consumer == consumer)
    if topics is not None:
        q = q.where(t.c.topic.in_(list(topics)))
    return {(r.topic, r.partition): r.next_offset for r in conn.execute(q)}


def advance(conn: Connection, consumer: str, offsets: Mapping[tuple[str, int], int],
            expected: Mapping[tuple[str, int], int | None]) -> None:
    """Store ``offsets`` (partition -> next offset) if each stored offset still equals
    ``expected`` (missing or None: none stored yet); raise :class:`Fenced` otherwise."""
    t = schema.archive_offsets
    now = time.time()
    for (topic, partition), nxt in sorted(offsets.items()):
        want = expected.get((topic, partition))
        where = (t.c.consumer == consumer) & (t.c.topic == topic) & (
            t.c.partition == partition)
        if want is None:
            held = conn.execute(sa.select(t.c.next_offset).where(where)).scalar()
            if held is not None:
                raise Fenced(f"{topic}[{partition}]: stored offset {held}, this writer "
                             f"expected none")
            conn.execute(t.insert().values(consumer=consumer, topic=topic,
                                           partition=partition, next_offset=nxt,
                                           updated_at=now))
            continue
        done = conn.execute(t.update().where(where & (t.c.next_offset == want))
                            .values(next_offset=nxt, updated_at=now))
        if done.rowcount != 1:
            held = conn.execute(sa.select(t.c.next_offset).where(where)).scalar()
            raise Fenced(f"{topic}[{partition}]: stored offset {held}, this writer "
                         f"expected {want}")
