"""The archive: the city's durable memory of alerts, commands, incidents, dead letters and
indicator roll-ups, in SQLite (embedded default) or PostgreSQL (``IOC_DATABASE_URL``).

One schema and one code path for both back ends (SQLAlchemy Core, Alembic migrations):

* :mod:`archive.schema`    the tables and their indexes
* :mod:`archive.store`     the engine, migrations, batched exactly-once writes, retention
* :mod:`archive.records`   pure: Kafka records -> rows (and roll-ups of window summaries)
* :mod:`archive.consumer`  ``ioc archive``: the consumer group that feeds the store
* :mod:`archive.queries`   read side: alert history, search, report figures

Imports only :mod:`ioc` (the kernel); the dashboard reads the store through
:mod:`archive.queries` and never writes it.
"""
