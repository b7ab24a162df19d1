"""Alembic migrations of the archive (run by :meth:`archive.store.Store.migrate`).

A schema change is a new file in ``versions/`` (``alembic revision`` with this folder as the
script location, or by hand) that changes the tables of :mod:`archive.schema` exactly as that
module then declares them; ``tests/archive/test_migrations.py`` checks that a database
migrated to head matches the declared schema, on SQLite and PostgreSQL, and that an upgrade
keeps the rows written under the first schema.
"""
