"""Databases for the archive's tests: a SQLite file, or a fresh database on the PostgreSQL
server of ``IOC_TEST_DATABASE_URL`` (``scripts/test.sh`` starts one and sets it)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

BACKENDS = ("sqlite", "postgresql")


@contextlib.contextmanager
def fresh_database(base_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of ``base_url``; dropped afterwards."""
    url = sa.engine.make_url(base_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on ``backend`` (PostgreSQL: skipped when there is none)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive.db'}"
        return
    base = os.environ.get("IOC_TEST_DATABASE_URL", "").strip()
    if not base:
        pytest.skip("no PostgreSQL: run the suite with scripts/test.sh "
                    "(or set IOC_TEST_DATABASE_URL)")
    with fresh_database(base) as url:
        yield url
