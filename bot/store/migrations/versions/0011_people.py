"""People's display names as Slack gave them, so that the postmortem draft and `foghorn
export` can name people from the database alone.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("people")
