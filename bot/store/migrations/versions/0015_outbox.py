"""The outbox of incident events and each subscriber's progress on them (bot.outbox); the
alert intake's retry state and the signed webhook deliveries already taken.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer(),
                  sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "outbox_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer(),
                  sa.ForeignKey("outbox_events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subscriber", sa.String(40), nullable=False),
        sa.Column("stream", sa.String(80), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=True),
    )
    op.create_index("uq_outbox_deliveries", "outbox_deliveries", ["event_id", "subscriber"],
                    unique=True)
    op.create_index("ix_outbox_deliveries_stream", "outbox_deliveries",
                    ["subscriber", "stream", "event_id"])
    op.create_index("ix_outbox_deliveries_due", "outbox_deliveries", ["status", "due_at"])
    # Signed webhook deliveries already taken: a replayed request is stored once.
    op.create_table(
        "alert_deliveries",
        sa.Column("source", sa.String(20), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_alert_deliveries_received_at", "alert_deliveries", ["received_at"])
    # Alert notifications: attempts and the last error, so one that keeps failing is parked
    # instead of holding every notification behind it.
    with op.batch_alter_table("alert_notifications") as t:
        t.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        t.add_column(sa.Column("next_try_at", UTCDateTime(), nullable=True))
        t.add_column(sa.Column("last_error", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_notifications") as t:
        t.drop_column("last_error")
        t.drop_column("next_try_at")
        t.drop_column("attempts")
    op.drop_table("alert_deliveries")
    op.drop_table("outbox_deliveries")
    op.drop_table("outbox_events")
