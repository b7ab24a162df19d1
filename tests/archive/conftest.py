"""Every archive test runs on both back ends: a SQLite file and a fresh PostgreSQL database.

PostgreSQL comes from ``IOC_TEST_DATABASE_URL`` (``scripts/test.sh`` starts a throw-away
cluster and sets it); each test gets its own database on it, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive.store import Store


def _postgres_database() -> Iterator[str]:
    base = os.environ.get("IOC_TEST_DATABASE_URL", "").strip()
    if not base:
        pytest.skip("no PostgreSQL: run the suite with scripts/test.sh "
                    "(or set IOC_TEST_DATABASE_URL)")
    url = sa.engine.make_url(base)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database on each back end."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each back end."""
    s = Store(database_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()
