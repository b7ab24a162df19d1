"""Operator labels on alerts and shadow detectors' alerts (issue 16).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = 400


def upgrade() -> None:
    op.create_table(
        "alert_labels",
        sa.Column("alert_id", sa.String(ID), primary_key=True),
        sa.Column("first_seen", sa.Float, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("detector", sa.String(128), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("group_slug", sa.String(64), nullable=False),
        sa.Column("district", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("metric", sa.String(128), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("user_name", sa.String(128)),
        sa.Column("display_name", sa.String(128)),
        sa.Column("labelled_at", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
    )
    op.create_index("ix_alert_labels_first_seen", "alert_labels", ["first_seen"])
    op.create_table(
        "shadow_alerts",
        sa.Column("alert_id", sa.String(ID), primary_key=True),
        sa.Column("window_end", sa.Float, primary_key=True),
        sa.Column("window_start", sa.Float, nullable=False),
        sa.Column("detector", sa.String(128), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("group_slug", sa.String(64), nullable=False),
        sa.Column("district", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("metric", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("side", sa.String(8)),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_shadow_alerts_detector", "shadow_alerts", ["detector", "window_end"])


def downgrade() -> None:
    op.drop_index("ix_shadow_alerts_detector", "shadow_alerts")
    op.drop_table("shadow_alerts")
    op.drop_index("ix_alert_labels_first_seen", "alert_labels")
    op.drop_table("alert_labels")
