"""An incident's type (the playbook's `types`: outage, security...), or null for incidents
declared before types existed or with a playbook that has none. And who is posting a
checklist since when, so that a phase's checklist is posted once when a type change, a
status update and a second replica all reach it together.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.add_column(sa.Column("type", sa.String(20), nullable=True))
    with op.batch_alter_table("checklist_posts") as t:
        t.add_column(sa.Column("posting_since", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checklist_posts") as t:
        t.drop_column("posting_since")
    with op.batch_alter_table("incidents") as t:
        t.drop_column("type")
