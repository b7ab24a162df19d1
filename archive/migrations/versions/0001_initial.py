"""The first schema: alert and incident versions, commands, dead-letter counts, indicator
roll-ups, the archive's offsets and rejects.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 400


def upgrade() -> None:
    op.create_table(
        "alert_versions",
        sa.Column("alert_id", sa.String(ID), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("group_slug", sa.String(64), nullable=False),
        sa.Column("district", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("metric", sa.String(128), nullable=False),
        sa.Column("detector", sa.String(128), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("change", sa.String(32), nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("user_name", sa.String(128)),
        sa.Column("reason", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_alert_versions_updated", "alert_versions", ["updated_at"])
    for col in ("group_slug", "district", "source"):
        op.create_index(f"ix_alert_versions_{col.split('_')[0]}", "alert_versions",
                        [col, "updated_at"])
    op.create_index("ix_alert_versions_change", "alert_versions", ["change", "updated_at"])
    op.create_index("ix_alert_versions_episode", "alert_versions", ["alert_id", "first_seen"])

    op.create_table(
        "incident_versions",
        sa.Column("incident_id", sa.String(ID), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("district", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("groups", sa.Text, nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_incident_versions_updated", "incident_versions", ["updated_at"])

    op.create_table(
        "commands",
        sa.Column("command_id", sa.String(128), primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("alert_id", sa.String(ID)),
        sa.Column("reason", sa.Text),
        sa.Column("text", sa.Text),
        sa.Column("matchers", sa.Text),
        sa.Column("until", sa.Float),
        sa.Column("silence_id", sa.String(128)),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_commands_alert", "commands", ["alert_id", "ts"])
    op.create_index("ix_commands_position", "commands", ["topic", "partition", "offset"])

    op.create_table(
        "deadletter_counts",
        sa.Column("hour", sa.Float, primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("reason", sa.String(96), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )

    op.create_table(
        "indicator_rollups",
        sa.Column("resolution", sa.String(1), primary_key=True),
        sa.Column("bucket", sa.Float, primary_key=True),
        sa.Column("group_slug", sa.String(64), primary_key=True),
        sa.Column("district", sa.String(64), primary_key=True),
        sa.Column("metric", sa.String(160), primary_key=True),
        sa.Column("counted", sa.Boolean, nullable=False),
        sa.Column("windows", sa.Integer, nullable=False),
        sa.Column("readings", sa.Integer, nullable=False),
        sa.Column("total", sa.Float, nullable=False),
        sa.Column("min", sa.Float),
        sa.Column("max", sa.Float),
        sa.Column("last", sa.Float),
        sa.Column("last_ts", sa.Float),
    )
    op.create_index("ix_indicator_rollups_group", "indicator_rollups",
                    ["resolution", "group_slug", "bucket"])

    op.create_table(
        "archive_offsets",
        sa.Column("consumer", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )

    op.create_table(
        "archive_rejects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("archive_rejects", "archive_offsets", "indicator_rollups",
                  "deadletter_counts", "commands", "incident_versions", "alert_versions"):
        op.drop_table(table)
