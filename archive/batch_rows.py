"""A :class:`~archive.records.Batch`'s rows written into their tables, inside the caller's
transaction: alert and incident versions and commands appended (a row already there is left
alone, so a batch read again after a crash adds nothing), refused commands marked, dead-letter
counts and indicator roll-ups merged into the rows of their hour or day."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import schema
from archive.records import Batch

__all__ = ["write_rows"]

Insert = Callable[[sa.Table], Any]   # the dialect's INSERT with ON CONFLICT


def write_rows(conn: Connection, insert: Insert, batch: Batch) -> None:
    """Write every row of ``batch`` with ``insert`` (the back end's own insert construct)."""
    for table, rows in ((schema.alert_versions, batch.alerts),
                        (schema.incident_versions, batch.incidents),
                        (schema.commands, batch.commands)):
        if rows:
            conn.execute(insert(table).on_conflict_do_nothing(), rows)
    if batch.refusals:
        c = schema.commands.c
        conn.execute(schema.commands.update().where(
            (c.topic == sa.bindparam("d_topic")) & (c.partition == sa.bindparam("d_partition"))
            & (c.offset == sa.bindparam("d_offset"))).values(result=sa.bindparam("result")),
            batch.refusals)
    if batch.deadletters:
        t = schema.deadletter_counts
        stmt = insert(t)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[t.c.hour, t.c.topic, t.c.reason],
            set_={"n": t.c.n + stmt.excluded.n}),
            [{"hour": h, "topic": tp, "reason": r, "n": n}
             for (h, tp, r), n in batch.deadletters.items()])
    if batch.rollups:
        _rollups(conn, insert, batch)
    if batch.rejects:
        conn.execute(schema.archive_rejects.insert(), batch.rejects)


def _rollups(conn: Connection, insert: Insert, batch: Batch) -> None:
    """Merge the batch's roll-ups: counts and totals add up, min and max widen, the last
    value is the newest one's."""
    t = schema.indicator_rollups
    stmt = insert(t)
    x = stmt.excluded

    def lower(a: Any, b: Any) -> Any:
        return sa.case((a.is_(None) | (b < a), b), else_=a)

    def higher(a: Any, b: Any) -> Any:
        return sa.case((a.is_(None) | (b > a), b), else_=a)

    newer = t.c.last_ts.is_(None) | (x.last_ts >= t.c.last_ts)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[t.c.resolution, t.c.bucket, t.c.group_slug, t.c.district,
                        t.c.metric],
        set_={"windows": t.c.windows + x.windows, "readings": t.c.readings + x.readings,
              "total": t.c.total + x.total, "min": lower(t.c.min, x.min),
              "max": higher(t.c.max, x.max),
              "last": sa.case((newer & x.last_ts.is_not(None), x.last), else_=t.c.last),
              "last_ts": sa.case((newer & x.last_ts.is_not(None), x.last_ts),
                                 else_=t.c.last_ts)}),
        [{"resolution": res, "bucket": bucket, "group_slug": g, "district": d, "metric": m,
          "counted": r.counted, "windows": r.windows, "readings": r.readings,
          "total": r.total, "min": r.min, "max": r.max, "last": r.last,
          "last_ts": r.last_ts}
         for (res, bucket, g, d, m), r in batch.rollups.items()])
