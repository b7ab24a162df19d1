"""The notifier's durable outbox, groups, escalations and audit, and accounts' contact
details and notification preferences (issue 14).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = 400


def upgrade() -> None:
    op.create_table(
        "notify_outbox",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer),
        sa.Column("alert_id", sa.String(ID)),
        sa.Column("receiver", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("claimed_until", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("record_ts", sa.Float, nullable=False),
        sa.Column("sent_at", sa.Float),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_notify_outbox_due", "notify_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_notify_outbox_alert", "notify_outbox", ["alert_id"])

    op.create_table(
        "notify_groups",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("alerts", sa.Text, nullable=False),
        sa.Column("notified", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("next_flush_at", sa.Float),
        sa.Column("last_sent_at", sa.Float),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_notify_groups_flush", "notify_groups", ["next_flush_at"])

    op.create_table(
        "notify_escalations",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("alert_id", sa.String(ID), nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("next_at", sa.Float),
        sa.Column("item", sa.Text, nullable=False),
        sa.Column("stopped_at", sa.Float),
        sa.Column("stop_reason", sa.String(32)),
    )
    op.create_index("ix_notify_escalations_due", "notify_escalations", ["next_at"])

    op.create_table(
        "notify_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("alert_id", sa.String(ID)),
        sa.Column("step", sa.Integer),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("receiver", sa.String(128)),
        sa.Column("channel", sa.String(16)),
        sa.Column("outbox_key", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_notify_audit_alert", "notify_audit", ["alert_id", "ts"])

    op.create_table(
        "user_contacts",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(32)),
        sa.Column("channels", sa.Text, nullable=False),
        sa.Column("min_severity", sa.String(16), nullable=False),
        sa.Column("quiet_hours", sa.String(16), nullable=False),
        sa.Column("quiet_critical", sa.Boolean, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("user_contacts", "notify_audit", "notify_escalations", "notify_groups",
                  "notify_outbox"):
        op.drop_table(table)
