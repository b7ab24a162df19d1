"""The archive's database: the engine, and the doors to its migrations (:mod:`archive.migrate`),
exactly-once batch writes (:mod:`archive.fencing` and :mod:`archive.batch_rows`) and retention
(:mod:`archive.retention`).

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
archive.fencing.Fenced: ioc.commands[0]: stored offset 6, this writer expected none
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from archive import schema
from archive.batch_rows import write_rows
from archive.fencing import Fenced, advance, stored_offsets
from archive.migrate import current_revision, upgrade
from archive.records import Batch
from archive.retention import apply_retention
from ioc.errors import ConfigError, IocError

__all__ = ["Fenced", "Store", "Unavailable", "default_url"]


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

    # --- schema (archive.migrate) ----------------------------------------------------------
    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (rows are kept); a database that cannot be
        reached is a :class:`~ioc.errors.ConfigError` naming the setting."""
        try:
            upgrade(self.engine, revision)
        except sa.exc.OperationalError as exc:
            raise ConfigError(f"{self.setting}: cannot open the archive database "
                              f"{self!r:.200}: {_first_line(exc)}") from None

    def revision(self) -> str | None:
        """The schema revision the database is at (None before the first migration)."""
        return current_revision(self.engine)

    # --- writing (archive.fencing, archive.batch_rows) -------------------------------------
    def offsets(self, consumer: str, topics: Iterable[str] | None = None
                ) -> dict[tuple[str, int], int]:
        """The stored next offset of every partition ``consumer`` has written."""
        with self.connect() as conn:
            return stored_offsets(conn, consumer, topics)

    def write(self, consumer: str, batch: Batch,
              expected: Mapping[tuple[str, int], int | None]) -> None:
        """Write ``batch`` and its offsets in one transaction, if the stored offsets of its
        partitions still equal ``expected`` (missing or None: no stored offset yet); raise
        :class:`Fenced` (nothing written) otherwise, :class:`Unavailable` when the database
        cannot be reached."""
        try:
            with self.engine.begin() as conn:
                advance(conn, consumer, batch.offsets, expected)
                write_rows(conn, self._insert, batch)
        except sa.exc.OperationalError as exc:
            raise Unavailable(_first_line(exc)) from None
        except sa.exc.IntegrityError:
            # two writers inserted a partition's first offset at once: the loser is fenced
            raise Fenced("another archive wrote the same partitions first") from None

    # --- retention (archive.retention) -----------------------------------------------------
    def apply_retention(self, now: float, *, hourly_days: float, daily_days: float,
                        alert_days: float) -> dict[str, int]:
        """Delete what is older than its retention (0 days: kept for ever); returns the rows
        deleted per table."""
        with self._begin() as conn:
            return apply_retention(conn, now, hourly_days=hourly_days,
                                   daily_days=daily_days, alert_days=alert_days)

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
