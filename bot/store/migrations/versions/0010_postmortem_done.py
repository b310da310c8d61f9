"""A postmortem is done when someone says so, not when its draft is built: `postmortem_at`
stays the time of the last draft, `postmortem_done_at` is when someone marked it done.
Incidents already marked done keep that (their `postmortem_done` timeline entry).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.add_column(sa.Column("postmortem_done_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE incidents SET postmortem_done_at = ("
        " SELECT MIN(e.occurred_at) FROM timeline_entries e"
        " WHERE e.incident_id = incidents.id AND e.kind = 'postmortem_done')"
    )


def downgrade() -> None:
    with op.batch_alter_table("incidents") as t:
        t.drop_column("postmortem_done_at")
