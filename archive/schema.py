"""The archive's tables (SQLAlchemy Core): one schema for SQLite and PostgreSQL.

Times are epoch seconds (double precision), as on the topics. Every table a query filters on
has the index that query needs; the comment on each index names the query.

* ``alert_versions``   every version of every alert: queryable columns + the whole record
* ``incident_versions`` every version of every incident
* ``commands``         every operator command (the audit trail: who, what, when, result)
* ``deadletter_counts`` dead letters per hour, topic and kind of reason
* ``indicator_rollups`` window summaries and group indicators rolled up per hour (``h``) and
  per day (``d``) for each (group, district, metric): windows, readings, sum, min, max, last
* ``archive_offsets``   the next offset of each topic partition, written in the same
  transaction as the rows it covers (exactly once into the database)
* ``archive_rejects``   records the archive could not decode: reason, offset, raw bytes
* ``users``            personal accounts: login, display name, role, scope, Argon2id hash
* ``web_sessions``     the dashboard's server-side sign-in sessions (token stored hashed)
* ``api_keys``         named, revocable keys of machine clients (stored hashed)
* ``sign_ins``         the audit log of sign-ins: every success and refusal, with the reason
* ``sign_in_links``    one-time sign-in links (token stored hashed, single use, expiring)
* ``alert_labels``     operators' labels on alert episodes (detector feedback, issue 16)
* ``shadow_alerts``    the windows shadow detectors fired on (``ioc.shadow``)
* ``notify_*``         the notifier's outbox, groups, escalation chains and audit (issue 14);
  its Kafka offsets are rows of ``archive_offsets`` under its own consumer name
* ``user_contacts``    an account's email, phone and notification preferences

``alert_versions`` and ``commands`` name people: ``user_name`` is ``role:login`` as the record
gave it, ``login`` the login part and ``display_name`` the person's name (NULL in rows of
automatic changes, shared tokens and records from before names were carried).

The ``commands`` table is the audit trail of what people did on ``ioc.commands``; sign-ins
never pass through Kafka (no topic, partition or offset), so they have their own table.

The migrations (:mod:`archive.migrations`) create exactly these tables; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "alert_versions",
    "api_keys",
    "archive_offsets",
    "archive_rejects",
    "commands",
    "deadletter_counts",
    "incident_versions",
    "indicator_rollups",
    "metadata",
    "notify_audit",
    "notify_escalations",
    "notify_groups",
    "notify_outbox",
    "sign_in_links",
    "sign_ins",
    "user_contacts",
    "users",
    "web_sessions",
]

metadata = MetaData()

ID = 400  # an alert id: detector:group:source:metric, each part up to 128 characters

alert_versions = Table(
    "alert_versions", metadata,
    Column("alert_id", String(ID), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("category", String(16), nullable=False),
    Column("group_slug", String(64), nullable=False),
    Column("district", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    Column("metric", String(128), nullable=False),
    Column("detector", String(128), nullable=False),
    Column("title", Text, nullable=False),
    Column("change", String(32), nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("user_name", String(128)),
    Column("reason", Text),
    Column("note", Text),  # the newest note's text, when this version added one
    Column("record", Text, nullable=False),  # the whole Alert as JSON
    Column("login", String(64)),          # the login in user_name (role:login), if any
    Column("display_name", String(128)),  # the name of that person, as the record gave it
)
# history search: newest first, filtered by group / district / source / status / severity
Index("ix_alert_versions_updated", alert_versions.c.updated_at)
Index("ix_alert_versions_group", alert_versions.c.group_slug, alert_versions.c.updated_at)
Index("ix_alert_versions_district", alert_versions.c.district, alert_versions.c.updated_at)
Index("ix_alert_versions_source", alert_versions.c.source, alert_versions.c.updated_at)
# reports: openings per period, group and district
Index("ix_alert_versions_change", alert_versions.c.change, alert_versions.c.updated_at)
# reports: an episode's versions share the opening's first_seen (its ack and resolution)
Index("ix_alert_versions_episode", alert_versions.c.alert_id, alert_versions.c.first_seen)
# the trail: what one person did, newest first
Index("ix_alert_versions_login", alert_versions.c.login, alert_versions.c.updated_at)

incident_versions = Table(
    "incident_versions", metadata,
    Column("incident_id", String(ID), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("district", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("groups", Text, nullable=False),  # comma-separated group slugs
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("record", Text, nullable=False),
)
Index("ix_incident_versions_updated", incident_versions.c.updated_at)  # reports

commands = Table(
    "commands", metadata,
    Column("command_id", String(128), primary_key=True),
    Column("action", String(16), nullable=False),
    Column("user_name", String(128), nullable=False),
    Column("ts", Float, nullable=False),
    Column("alert_id", String(ID)),
    Column("reason", Text),
    Column("text", Text),
    Column("matchers", Text),  # JSON object
    Column("until", Float),
    Column("silence_id", String(128)),
    Column("topic", String(255), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("result", Text),  # NULL: accepted; "refused: <reason>" when a worker refused it
    Column("record", Text, nullable=False),
    Column("login", String(64)),          # the login in user_name (role:login), if any
    Column("display_name", String(128)),  # the person's name, as the command gave it
)
Index("ix_commands_alert", commands.c.alert_id, commands.c.ts)  # an alert's history
Index("ix_commands_position", commands.c.topic, commands.c.partition, commands.c.offset)

deadletter_counts = Table(
    "deadletter_counts", metadata,
    Column("hour", Float, primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("reason", String(96), primary_key=True),
    Column("n", Integer, nullable=False),
)

indicator_rollups = Table(
    "indicator_rollups", metadata,
    Column("resolution", String(1), primary_key=True),  # "h" hourly, "d" daily
    Column("bucket", Float, primary_key=True),           # start of the hour / day (UTC)
    Column("group_slug", String(64), primary_key=True),
    Column("district", String(64), primary_key=True),
    Column("metric", String(160), primary_key=True),
    Column("counted", Boolean, nullable=False),
    Column("windows", Integer, nullable=False),
    Column("readings", Integer, nullable=False),
    Column("total", Float, nullable=False),  # sum of values (measured: of mean * count)
    Column("min", Float),
    Column("max", Float),
    Column("last", Float),
    Column("last_ts", Float),
)
# report charts: one group's metrics over a period
Index("ix_indicator_rollups_group", indicator_rollups.c.resolution,
      indicator_rollups.c.group_slug, indicator_rollups.c.bucket)

archive_offsets = Table(
    "archive_offsets", metadata,
    Column("consumer", String(255), primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
)

archive_rejects = Table(
    "archive_rejects", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("topic", String(255), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),  # at most 64 KiB of the record
    Column("ts", Float, nullable=False),
)

# --- accounts (archive.accounts, archive.access) ---------------------------------------------
users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("login", String(64), nullable=False),
    Column("display_name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("districts", Text, nullable=False),  # comma-separated; empty: every district
    Column("groups", Text, nullable=False),     # comma-separated slugs; empty: every group
    Column("password_hash", Text, nullable=False),  # Argon2id, PHC string
    Column("disabled", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ux_users_login", users.c.login, unique=True)  # sign-in: the account of a login

web_sessions = Table(
    "web_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the cookie's token
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False),
)
Index("ix_web_sessions_user", web_sessions.c.user_id)  # end a user's sessions at once

api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("districts", Text, nullable=False),
    Column("groups", Text, nullable=False),
    Column("key_hash", String(64), nullable=False),  # SHA-256 of the key
    Column("created_at", Float, nullable=False),
    Column("last_used", Float),
    Column("revoked_at", Float),
)
Index("ux_api_keys_name", api_keys.c.name, unique=True)
Index("ux_api_keys_hash", api_keys.c.key_hash, unique=True)  # a bearer key's row

sign_ins = Table(
    "sign_ins", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("login", String(128), nullable=False),  # as tried (may name no account)
    Column("address", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # "ok" or "refused"
    Column("reason", String(32), nullable=False),
)
Index("ix_sign_ins_ts", sign_ins.c.ts)  # the audit log, newest first

sign_in_links = Table(
    "sign_in_links", metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the link's token
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float),  # NULL until the link signs in (then never again)
)
Index("ix_sign_in_links_user", sign_in_links.c.user_id)

# --- notifications (notify/: issue 14) -------------------------------------------------------
# notify_outbox: every delivery, keyed by its idempotency key (a delivery is planned once and
# sent until it succeeds or fails for good: the audit of who was told, how, when, and why not)
notify_outbox = Table(
    "notify_outbox", metadata,
    Column("key", String(64), primary_key=True),   # idempotency key (sent with the delivery)
    Column("kind", String(16), nullable=False),    # group, escalation, digest
    Column("route", String(64), nullable=False),
    Column("step", Integer),                        # escalation step (0-based), else NULL
    Column("alert_id", String(ID)),                 # escalation: the alert; group: NULL
    Column("receiver", String(128), nullable=False),
    Column("channel", String(16), nullable=False),  # email, webhook, sms
    Column("address", Text, nullable=False),
    Column("message", Text, nullable=False),        # the rendered message (JSON)
    Column("status", String(16), nullable=False),   # pending, sent, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float, nullable=False),  # a dispatcher holds it until then
    Column("created_at", Float, nullable=False),
    Column("record_ts", Float, nullable=False),     # when the newest alert record was made
    Column("sent_at", Float),
    Column("reason", Text),                         # the last failure's reason
)
Index("ix_notify_outbox_due", notify_outbox.c.status, notify_outbox.c.next_attempt_at)
Index("ix_notify_outbox_alert", notify_outbox.c.alert_id)  # an alert's escalation audit

# notify_groups: the alerts of one route's group (Alertmanager's aggregation group) and when
# it is next flushed
notify_groups = Table(
    "notify_groups", metadata,
    Column("key", String(64), primary_key=True),
    Column("route", String(64), nullable=False),
    Column("labels", Text, nullable=False),    # the group_by labels (JSON)
    Column("alerts", Text, nullable=False),    # alert id -> the newest item (JSON)
    Column("notified", Text, nullable=False),  # alert id -> status last told (JSON)
    Column("seq", Integer, nullable=False),    # notifications sent so far
    Column("next_flush_at", Float),            # NULL: nothing to do until a record comes
    Column("last_sent_at", Float),
    Column("updated_at", Float, nullable=False),
)
Index("ix_notify_groups_flush", notify_groups.c.next_flush_at)

# notify_escalations: one alert episode's chain on one route: the next step and when
notify_escalations = Table(
    "notify_escalations", metadata,
    Column("key", String(64), primary_key=True),
    Column("route", String(64), nullable=False),
    Column("alert_id", String(ID), nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("step", Integer, nullable=False),   # the next step to run
    Column("next_at", Float),                  # NULL: stopped or done
    Column("item", Text, nullable=False),      # the newest item (JSON)
    Column("stopped_at", Float),
    Column("stop_reason", String(32)),         # acknowledged, resolved, done
)
Index("ix_notify_escalations_due", notify_escalations.c.next_at)

# notify_audit: escalation steps and stops, and suppressed deliveries (quiet hours, scope)
notify_audit = Table(
    "notify_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("route", String(64), nullable=False),
    Column("alert_id", String(ID)),
    Column("step", Integer),
    Column("event", String(32), nullable=False),  # notified, stopped, suppressed
    Column("receiver", String(128)),
    Column("channel", String(16)),
    Column("outbox_key", String(64)),
    Column("detail", Text),
)
Index("ix_notify_audit_alert", notify_audit.c.alert_id, notify_audit.c.ts)

# user_contacts: an account's addresses and notification preferences
user_contacts = Table(
    "user_contacts", metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("email", String(254)),
    Column("phone", String(32)),
    Column("channels", Text, nullable=False),       # comma-separated; empty: every one
    Column("min_severity", String(16), nullable=False),
    Column("quiet_hours", String(16), nullable=False),  # "22:00-06:00" (Da Nang); empty: none
    Column("quiet_critical", Boolean, nullable=False),  # critical still comes in quiet hours
    Column("language", String(8), nullable=False),       # vi, en
    Column("updated_at", Float, nullable=False),
)

# --- detector feedback and shadow mode (issue 16) -------------------------------------------
# alert_labels: an operator's label on an alert episode (alert_id, first_seen), the latest
# labelling version wins; the feedback report reads it by detector, metric and period
alert_labels = Table(
    "alert_labels", metadata,
    Column("alert_id", String(ID), primary_key=True),
    Column("first_seen", Float, primary_key=True),  # the episode
    Column("version", Integer, nullable=False),     # the alert version that labelled it
    Column("detector", String(128), nullable=False),
    Column("category", String(16), nullable=False),
    Column("group_slug", String(64), nullable=False),
    Column("district", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    Column("metric", String(128), nullable=False),
    Column("label", String(16), nullable=False),  # real, false_alarm, sensor_fault, planned
    Column("note", Text),
    Column("user_name", String(128)),
    Column("display_name", String(128)),
    Column("labelled_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
)
Index("ix_alert_labels_first_seen", alert_labels.c.first_seen)  # feedback since a date

# shadow_alerts: one row per window a shadow detector fired on (the ioc.shadow topic)
shadow_alerts = Table(
    "shadow_alerts", metadata,
    Column("alert_id", String(ID), primary_key=True),
    Column("window_end", Float, primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("detector", String(128), nullable=False),
    Column("category", String(16), nullable=False),
    Column("group_slug", String(64), nullable=False),
    Column("district", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    Column("metric", String(128), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("side", String(8)),
    Column("record", Text, nullable=False),
)
Index("ix_shadow_alerts_detector", shadow_alerts.c.detector, shadow_alerts.c.window_end)
