"""Every archive test runs on both back ends: a SQLite file and a fresh PostgreSQL database.

PostgreSQL comes from ``IOC_TEST_DATABASE_URL`` (``scripts/test.sh`` starts a throw-away
cluster and sets it); each test gets its own database on it, dropped afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _archive_db import fresh_database

from archive.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database on each back end."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive.db'}"
    else:
        base = os.environ.get("IOC_TEST_DATABASE_URL", "").strip()
        if not base:
            pytest.skip("no PostgreSQL: run the suite with scripts/test.sh "
                        "(or set IOC_TEST_DATABASE_URL)")
        with fresh_database(base) as url:
            yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each back end."""
    s = Store(database_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()
