"""Alerts in: every webhook notification as received (stored before it is answered, then
processed), the alert groups and the open incident each maps to (at most one: a partial
unique index), and when an incident was detected.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("group_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("incident_id", sa.Integer(),
                  sa.ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_alert_notifications_unprocessed", "alert_notifications",
                    ["processed_at", "id"])
    op.create_table(
        "alert_groups",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("group_hash", sa.String(64), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("incident_id", sa.Integer(),
                  sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=True),
        sa.Column("alerts", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("posted_through", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("uq_alert_groups_open", "alert_groups", ["source", "group_hash"],
                    unique=True, sqlite_where=sa.text("is_open"),
                    postgresql_where=sa.text("is_open"))
    op.create_index("ix_alert_groups_incident", "alert_groups", ["incident_id"])
    with op.batch_alter_table("incidents") as t:
        t.add_column(sa.Column("detected_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.drop_column("detected_at")
    op.drop_table("alert_groups")
    op.drop_table("alert_notifications")
