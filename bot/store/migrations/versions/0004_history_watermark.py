"""How far each incident channel's history is known to be stored.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.add_column(sa.Column("history_synced_ts", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.drop_column("history_synced_ts")
