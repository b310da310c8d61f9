"""Checklists posted in incident channels and their ticked items.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checklist_posts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer(),
                  sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("checklist_id", sa.String(40), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("ticked", sa.JSON(), nullable=False),
    )
    op.create_index("uq_checklist_posts", "checklist_posts", ["incident_id", "checklist_id"],
                    unique=True)


def downgrade() -> None:
    op.drop_table("checklist_posts")
