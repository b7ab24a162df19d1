"""The trail names people: the login and display name of whoever an alert version or a
command names (issue 12). Older rows keep NULL in both.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("alert_versions", "commands"):
        op.add_column(table, sa.Column("login", sa.String(64)))
        op.add_column(table, sa.Column("display_name", sa.String(128)))
    op.create_index("ix_alert_versions_login", "alert_versions", ["login", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_versions_login", "alert_versions")
    for table in ("alert_versions", "commands"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("display_name")
            batch.drop_column("login")
