"""An incident's type (the playbook's `types`: outage, security...), or null for incidents
declared before types existed or with a playbook that has none.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.add_column(sa.Column("type", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.drop_column("type")
