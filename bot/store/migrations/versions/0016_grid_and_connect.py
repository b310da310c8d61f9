"""Incidents remember their Enterprise Grid organisation (Slack's installations are keyed by
organisation and workspace) and whether their channel is shared with another organisation
(Slack Connect).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: a batch (copy-and-move) rebuild of `incidents` on SQLite would drop
    # the table its timeline rows cascade from.
    op.add_column("incidents", sa.Column("enterprise_id", sa.String(32), nullable=True))
    op.add_column("incidents", sa.Column("is_shared", sa.Boolean(), nullable=False,
                                         server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("incidents", "is_shared")
    op.drop_column("incidents", "enterprise_id")
