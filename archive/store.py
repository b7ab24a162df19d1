"""The archive's database: engine, migrations, exactly-once batch writes, retention.

One code path for both back ends: SQLite (a file under ``IOC_DATA_DIR``, WAL mode: the
embedded default) and PostgreSQL (``IOC_DATABASE_URL=postgresql+psycopg://...``).

**Exactly once.** :meth:`Store.write` writes a :class:`~archive.records.Batch` and the next
offset of every partition it covers in one transaction, and only if the stored offsets are
still the ones the writer last read (``expected``): a writer that lost its partitions to
another process (a rebalance, a long pause) is refused with :class:`Fenced` and writes
nothing. So a ``kill -9`` at any moment loses nothing (the batch's records are read again from
the stored offsets) and doubles nothing (rows and offsets commit together).

>>> import tempfile, pathlib
>>> store = Store(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'a.db'}")
>>> store.migrate()
>>> from archive.records import Batch
>>> b = Batch()
>>> b.add("commands", "ioc.commands", 0, 5, b'{"command_id":"c1","action":"ack","user":"operator",'
...       b'"ts":100.0,"alert_id":"robust_z:flooding:rain-HC-01:rainfall"}')
>>> store.write("archive", b, expected={})
>>> store.offsets("archive")
{('ioc.commands', 0): 6}
>>> store.write("archive", b, expected={})   # a stale writer: the offset moved on
Traceback (most recent call last):
...
archive.store.Fenced: ioc.commands[0]: stored offset 6, this writer expected none
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, Engine

from archive import schema
from archive.records import Batch
from ioc.errors import ConfigError, IocError

__all__ = ["Fenced", "Store", "Unavailable", "default_url"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Fenced(IocError):
    """The stored offsets moved on under this writer: another archive owns the partition."""


class Unavailable(IocError):
    """The database cannot be reached now (retry with back-off)."""


def default_url(data_dir: str | Path) -> str:
    """The embedded default: a SQLite file in ``data_dir``.

    >>> default_url("/var/lib/ioc")
    'sqlite:////var/lib/ioc/archive.db'
    """
    return f"sqlite:///{Path(data_dir).resolve() / 'archive.db'}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Store:
    """The archive database behind a SQLAlchemy engine (``url`` as for ``IOC_DATABASE_URL``)."""

    def __init__(self, url: str, *, setting: str = "IOC_DATABASE_URL") -> None:
        try:
            parsed = sa.engine.make_url(url)
            if parsed.get_backend_name() not in ("sqlite", "postgresql"):
                raise ConfigError(f"{setting}: the archive runs on sqlite or postgresql, "
                                  f"got {parsed.get_backend_name()!r} in {url!r}")
            if parsed.get_backend_name() == "sqlite" and parsed.database:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = sa.create_engine(parsed, pool_pre_ping=True)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
            raise ConfigError(f"{setting}: not a usable database URL {url!r}: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{setting}: cannot create the directory of {url!r}: "
                              f"{exc.strerror or exc}") from None
        self.setting = setting
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        self._insert = insert

    def __repr__(self) -> str:
        return f"<Store {self.engine.url.render_as_string(hide_password=True)}>"

    def close(self) -> None:
        self.engine.dispose()

    # --- schema ----------------------------------------------------------------------------
    def alembic_config(self, connection: Connection) -> AlembicConfig:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        return cfg

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (rows are kept); a database that cannot be
        reached is a :class:`~ioc.errors.ConfigError` naming the setting."""
        try:
            with self._migration_lock(), self.engine.begin() as conn:
                if self.dialect == "postgresql":  # held until this transaction ends
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(7031977)"))
                alembic_command.upgrade(self.alembic_config(conn), revision)
        except sa.exc.OperationalError as exc:
            raise ConfigError(f"{self.setting}: cannot open the archive database "
                              f"{self!r:.200}: {_first_line(exc)}") from None

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """Processes starting together migrate one at a time (PostgreSQL: an advisory lock
        in the migration's transaction; SQLite: a lock file beside the database)."""
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def revision(self) -> str | None:
        """The schema revision the database is at (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # --- writing ---------------------------------------------------------------------------
    def offsets(self, consumer: str, topics: Iterable[str] | None = None
                ) -> dict[tuple[str, int], int]:
        """The stored next offset of every partition ``consumer`` has written."""
        t = schema.archive_offsets
        q = sa.select(t.c.topic, t.c.partition, t.c.next_offset).where(t.c.consumer == consumer)
        if topics is not None:
            q = q.where(t.c.topic.in_(list(topics)))
        with self.connect() as conn:
            return {(r.topic, r.partition): r.next_offset for r in conn.execute(q)}

    def write(self, consumer: str, batch: Batch,
              expected: Mapping[tuple[str, int], int | None]) -> None:
        """Write ``batch`` and its offsets in one transaction, if the stored offsets of its
        partitions still equal ``expected`` (missing or None: no stored offset yet); raise
        :class:`Fenced` (nothing written) otherwise, :class:`Unavailable` when the database
        cannot be reached."""
        try:
            with self.engine.begin() as conn:
                self._advance(conn, consumer, batch.offsets, expected)
                self._rows(conn, batch)
        except sa.exc.OperationalError as exc:
            raise Unavailable(_first_line(exc)) from None
        except sa.exc.IntegrityError:
            # two writers inserted a partition's first offset at once: the loser is fenced
            raise Fenced("another archive wrote the same partitions first") from None

    def _advance(self, conn: Connection, consumer: str, offsets: Mapping[tuple[str, int], int],
                 expected: Mapping[tuple[str, int], int | None]) -> None:
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

    def _rows(self, conn: Connection, batch: Batch) -> None:
        ins = self._insert
        for table, rows in ((schema.alert_versions, batch.alerts),
                            (schema.incident_versions, batch.incidents),
                            (schema.commands, batch.commands)):
            if rows:
                conn.execute(ins(table).on_conflict_do_nothing(), rows)
        if batch.refusals:
            c = schema.commands.c
            conn.execute(schema.commands.update().where(
                (c.topic == sa.bindparam("d_topic")) & (c.partition == sa.bindparam("d_partition"))
                & (c.offset == sa.bindparam("d_offset"))).values(result=sa.bindparam("result")),
                batch.refusals)
        if batch.deadletters:
            t = schema.deadletter_counts
            stmt = ins(t)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=[t.c.hour, t.c.topic, t.c.reason],
                set_={"n": t.c.n + stmt.excluded.n}),
                [{"hour": h, "topic": tp, "reason": r, "n": n}
                 for (h, tp, r), n in batch.deadletters.items()])
        if batch.rollups:
            self._rollups(conn, batch)
        if batch.rejects:
            conn.execute(schema.archive_rejects.insert(), batch.rejects)

    def _rollups(self, conn: Connection, batch: Batch) -> None:
        t = schema.indicator_rollups
        stmt = self._insert(t)
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

    # --- retention -------------------------------------------------------------------------
    def apply_retention(self, now: float, *, hourly_days: float, daily_days: float,
                        alert_days: float) -> dict[str, int]:
        """Delete what is older than its retention (0 days: kept for ever); returns the rows
        deleted per table."""
        out: dict[str, int] = {}
        r = schema.indicator_rollups
        a, i, c = schema.alert_versions, schema.incident_versions, schema.commands
        with self._begin() as conn:
            for res, days in (("h", hourly_days), ("d", daily_days)):
                if days > 0:
                    out[f"indicator_rollups.{res}"] = conn.execute(r.delete().where(
                        (r.c.resolution == res) & (r.c.bucket < now - days * 86400))).rowcount
            if alert_days > 0:
                cut = now - alert_days * 86400
                for name, table, col in (("alert_versions", a, a.c.updated_at),
                                         ("incident_versions", i, i.c.updated_at),
                                         ("commands", c, c.c.ts)):
                    out[name] = conn.execute(table.delete().where(col < cut)).rowcount
        return out

    # --- reading ---------------------------------------------------------------------------
    def connect(self) -> Any:
        """A connection for reading (:class:`Unavailable` when the database cannot be
        reached)."""
        try:
            return self.engine.connect()
        except sa.exc.OperationalError as exc:
            raise Unavailable(_first_line(exc)) from None

    def _begin(self) -> Any:
        try:
            return self.engine.begin()
        except sa.exc.OperationalError as exc:
            raise Unavailable(_first_line(exc)) from None

    def count(self, table: str) -> int:
        """Rows in ``table`` (tests and the benchmark)."""
        t = schema.metadata.tables[table]
        with self.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
