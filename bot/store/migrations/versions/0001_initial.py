"""Incidents, role assignments and the timeline.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("setup_done", sa.Boolean(), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=True, unique=True),
        sa.Column("channel_name", sa.String(80), nullable=True),
        sa.Column("card_ts", sa.String(32), nullable=True),
        sa.Column("announcement_ts", sa.String(32), nullable=True),
        sa.Column("declared_by", sa.String(32), nullable=False),
        sa.Column("declared_at", UTCDateTime(), nullable=False),
        sa.Column("origin_channel_id", sa.String(32), nullable=True),
        sa.Column("dedup_key", sa.String(64), nullable=True),
        sa.Column("last_update_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(32), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_dedup_key", "incidents", ["dedup_key"])
    op.create_table(
        "role_assignments",
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("role", sa.String(20), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("assigned_by", sa.String(32), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False, server_default=""),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("slack_ts", sa.String(32), nullable=True),
    )
    op.create_index("ix_timeline_entries_incident_id", "timeline_entries", ["incident_id"])


def downgrade() -> None:
    op.drop_table("timeline_entries")
    op.drop_table("role_assignments")
    op.drop_index("ix_incidents_dedup_key", "incidents")
    op.drop_index("ix_incidents_status", "incidents")
    op.drop_table("incidents")
