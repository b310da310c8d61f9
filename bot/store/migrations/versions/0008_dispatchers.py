"""Dispatchers' heartbeats: a replica that stops beating loses its reminder claims within
about 30 s instead of at the end of each claim's 5-minute lease. Incidents' versions: every
change counts one up, so a Slack rendering can tell it is behind the stored state.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispatchers",
        sa.Column("owner", sa.String(100), primary_key=True),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("incidents") as t:
        t.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.drop_column("version")
    op.drop_table("dispatchers")
