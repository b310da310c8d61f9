"""Workspaces: who has the App Home open, slack_sdk's installation and OAuth state tables for
multi-workspace installs, and an index for per-workspace reads.

The installation tables are built by slack_sdk's own table builders, so they have exactly the
shape its `AsyncSQLAlchemyInstallationStore` and `AsyncSQLAlchemyOAuthStateStore` expect.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _slack_tables() -> sa.MetaData:
    metadata = sa.MetaData()
    SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations")
    SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")
    return metadata


def upgrade() -> None:
    op.create_table(
        "home_viewers",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_home_viewers_opened", "home_viewers", ["team_id", "opened_at"])
    op.create_index("ix_incidents_team_declared", "incidents", ["team_id", "declared_at"])
    _slack_tables().create_all(bind=op.get_bind())


def downgrade() -> None:
    _slack_tables().drop_all(bind=op.get_bind())
    op.drop_index("ix_incidents_team_declared", "incidents")
    op.drop_table("home_viewers")
