"""Whether Foghorn can still post in an incident's channel: archived, or Foghorn removed.
Reminders stop retrying into it, and people are told, until it is back.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.add_column(sa.Column("channel_lost", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.drop_column("channel_lost")
