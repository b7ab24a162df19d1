"""The archive: the city's durable memory of alerts, commands, incidents, dead letters and
indicator roll-ups, in SQLite (embedded default) or PostgreSQL (``IOC_DATABASE_URL``).

One schema and one code path for both back ends (SQLAlchemy Core, Alembic migrations):

* :mod:`archive.schema`    the tables and their indexes
* :mod:`archive.store`     the engine, and the doors to: :mod:`archive.migrate` (Alembic,
  one process at a time), :mod:`archive.fencing` and :mod:`archive.batch_rows` (batched
  exactly-once writes), :mod:`archive.retention`
* :mod:`archive.records`   pure: Kafka records -> rows (and roll-ups of window summaries)
* :mod:`archive.consumer`  ``ioc archive``: the consumer group that feeds the store
* :mod:`archive.queries`   read side: alert history, search, report figures
* :mod:`archive.accounts`  personal accounts: roles, scopes, Argon2id password hashes
* :mod:`archive.access`    sign-in sessions, API keys and the sign-in audit log in one
  object, from :mod:`archive.web_sessions`, :mod:`archive.sign_in_links`,
  :mod:`archive.api_keys`, :mod:`archive.sign_in_log` and :mod:`archive.tokens`

Imports only :mod:`ioc` (the kernel); the dashboard reads the archive's records through
:mod:`archive.queries` and never writes them; it writes only sessions and sign-ins.
"""
