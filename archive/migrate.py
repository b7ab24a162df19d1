"""The archive's schema brought up to date with Alembic (the revisions in
``archive/migrations``), one process at a time."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, Engine

__all__ = ["MIGRATIONS", "alembic_config", "current_revision", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PG_LOCK_KEY = 7031977   # the advisory lock migrations hold on PostgreSQL


def alembic_config(connection: Connection) -> AlembicConfig:
    """Alembic's configuration for running the archive's revisions on ``connection``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of ``engine`` to ``revision`` (rows are kept); the driver's errors
    pass through."""
    with migration_lock(engine), engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # held until this transaction ends
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})"))
        alembic_command.upgrade(alembic_config(conn), revision)


@contextlib.contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Processes starting together migrate one at a time (PostgreSQL: an advisory lock in the
    migration's transaction, taken by :func:`upgrade`; SQLite: a lock file beside the
    database)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
