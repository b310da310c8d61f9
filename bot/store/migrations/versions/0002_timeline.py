"""Timeline capture: message keys, threads, key events, edits and deletions; event dedup.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timeline_entries") as t:
        t.add_column(sa.Column("thread_ts", sa.String(32), nullable=True))
        t.add_column(sa.Column("key_event", sa.Boolean(), nullable=False,
                               server_default=sa.false()))
        t.add_column(sa.Column("deleted", sa.Boolean(), nullable=False,
                               server_default=sa.false()))
        t.add_column(sa.Column("edited_at", UTCDateTime(), nullable=True))
    op.create_index("uq_timeline_entries_message", "timeline_entries",
                    ["incident_id", "slack_ts"], unique=True)
    with op.batch_alter_table("incidents") as t:
        t.add_column(sa.Column("postmortem_at", UTCDateTime(), nullable=True))
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_processed_events_received_at", "processed_events", ["received_at"])


def downgrade() -> None:
    op.drop_table("processed_events")
    with op.batch_alter_table("incidents") as t:
        t.drop_column("postmortem_at")
    op.drop_index("uq_timeline_entries_message", "timeline_entries")
    with op.batch_alter_table("timeline_entries") as t:
        for column in ("edited_at", "deleted", "key_event", "thread_ts"):
            t.drop_column(column)
