"""Table definitions. Every change here needs a new Alembic revision in migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime, dict[str, Any]: JSON, list[int]: JSON
    }


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # The workspace's Enterprise Grid organisation, when it has one: Slack keys
    # installations by (organisation, workspace).
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    severity: Mapped[str] = mapped_column(String(20))
    type: Mapped[str | None] = mapped_column(String(20))  # the playbook type's id
    detected_at: Mapped[datetime | None]  # the earliest alert's start, for alert incidents
    status: Mapped[str] = mapped_column(String(20))
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    # Declaring is a sequence of Slack calls; each result is stored as soon as it exists so an
    # interrupted declare can be completed instead of repeated.
    setup_done: Mapped[bool] = mapped_column(Boolean, default=False)
    channel_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    announcement_ts: Mapped[str | None] = mapped_column(String(32))
    declared_by: Mapped[str] = mapped_column(String(32))
    declared_at: Mapped[datetime]
    origin_channel_id: Mapped[str | None] = mapped_column(String(32))
    dedup_key: Mapped[str | None] = mapped_column(String(64), index=True)
    last_update_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(Text)
    postmortem_at: Mapped[datetime | None]  # the last draft built
    postmortem_done_at: Mapped[datetime | None]  # someone marked the postmortem done
    # Channel history up to this Slack ts is stored (advanced only by a finished catch-up;
    # live events may leave gaps before it, e.g. when the channel was not yet linked).
    history_synced_ts: Mapped[str | None] = mapped_column(String(32))
    # Counted up by every change (in its transaction): a rendering of an older version in
    # Slack is known to be stale and is done again.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Why Foghorn cannot post in the channel (`is_archived`, `not_in_channel`...), or None.
    channel_lost: Mapped[str | None] = mapped_column(String(20))
    # The channel is shared with another organisation (Slack Connect).
    is_shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (Index("ix_incidents_status", "status"),
                      Index("ix_incidents_team_declared", "team_id", "declared_at"))


class RoleAssignmentRow(Base):
    """The current holder of each role; the history is in the timeline."""

    __tablename__ = "role_assignments"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    assigned_by: Mapped[str] = mapped_column(String(32))
    assigned_at: Mapped[datetime]


class TimelineEntryRow(Base):
    """One thing that happened: a channel message (keyed by its Slack ts) or a bot event."""

    __tablename__ = "timeline_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    key_event: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    edited_at: Mapped[datetime | None]

    __table_args__ = (
        # One entry per Slack message, however often Slack delivers it.
        Index("uq_timeline_entries_message", "incident_id", "slack_ts", unique=True),
    )


class ProcessedEventRow(Base):
    """Events API deliveries already handled, so a retry (same event_id) is dropped."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class ReminderRow(Base):
    """Something the bot must say at `due_at`: an update reminder, a nudge, an escalation or
    a postmortem reminder. Changed in the same transaction as the incident change causing it;
    a dispatcher claims due rows (status `claimed`, with a lease) before sending."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    step: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_reminders_status_due", "status", "due_at"),)


class DispatcherRow(Base):
    """A running dispatcher's heartbeat: its claims are taken over once it falls silent."""

    __tablename__ = "dispatchers"

    owner: Mapped[str] = mapped_column(String(100), primary_key=True)
    beat_at: Mapped[datetime]


class ChecklistPostRow(Base):
    """A checklist posted in an incident channel, and which of its items are ticked."""

    __tablename__ = "checklist_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    checklist_id: Mapped[str] = mapped_column(String(40))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    ticked: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Someone is posting it (by phase) since then: others wait for its message_ts rather
    # than post it again; a claim older than a lease is taken over (its poster died).
    posting_since: Mapped[datetime | None]

    __table_args__ = (
        Index("uq_checklist_posts", "incident_id", "checklist_id", unique=True),
    )


class ConfirmationRow(Base):
    """A question waiting for the asker's click ("Resolve anyway?") and what was asked; the
    button carries only this row's id."""

    __tablename__ = "confirmations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    asked_by: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    asked_at: Mapped[datetime]


class HomeViewerRow(Base):
    """Who opened Foghorn's App Home, and when: their Home is refreshed when incidents
    change (with the people involved in the incident)."""

    __tablename__ = "home_viewers"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    opened_at: Mapped[datetime]

    __table_args__ = (Index("ix_home_viewers_opened", "team_id", "opened_at"),)


class AlertNotificationRow(Base):
    """A webhook notification as received: stored before it is answered, processed after
    (`processed_at`), kept for `foghorn export` and the logs whatever its route said."""

    __tablename__ = "alert_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(20))
    group_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"))
    # Processing that failed: tried again from `next_try_at`; parked (outcome "parked")
    # after alert_rows.MAX_ATTEMPTS, so it never holds the notifications behind it.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_try_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_alert_notifications_unprocessed", "processed_at", "id"),)


class AlertDeliveryRow(Base):
    """A signed webhook delivery already taken (its sender's id, or a hash of what was
    signed): the same request replayed is answered but stored once."""

    __tablename__ = "alert_deliveries"

    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class AlertGroupRow(Base):
    """An alert group and the incident it opened; at most one open row per group."""

    __tablename__ = "alert_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(20))
    group_hash: Mapped[str] = mapped_column(String(64))
    group_key: Mapped[str] = mapped_column(Text)
    is_open: Mapped[bool] = mapped_column(Boolean)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"))
    alerts: Mapped[dict[str, Any]] = mapped_column(JSON)  # alert key → firing | resolved
    created_at: Mapped[datetime]
    posted_through: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("uq_alert_groups_open", "source", "group_hash", unique=True,
              sqlite_where=text("is_open"), postgresql_where=text("is_open")),
        Index("ix_alert_groups_incident", "incident_id"),
    )


class PageRow(Base):
    """A page to PagerDuty or Opsgenie (see bot.paging): once per incident, target and key."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(80))
    dedup_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10))  # pending, sent, failed, resolved
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]

    __table_args__ = (Index("uq_pages", "incident_id", "target", "dedup_key", unique=True),)


class OutboxEventRow(Base):
    """Something that happened to an incident (bot.incidents.events), written in the same
    transaction as the change; each subscriber's progress on it is a DeliveryRow."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime]
    deliveries: Mapped[list[DeliveryRow]] = relationship(
        back_populates="event", cascade="all, delete-orphan", passive_deletes=True)


class DeliveryRow(Base):
    """One subscriber's progress on one event: pending (due at `due_at`), claimed by a
    relay under a lease, done, or parked after its last attempt. Within a `stream` (an
    incident) a subscriber takes events in order."""

    __tablename__ = "outbox_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    subscriber: Mapped[str] = mapped_column(String(40))
    stream: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(10))  # pending, claimed, done, parked
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    due_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    done_at: Mapped[datetime | None]
    event: Mapped[OutboxEventRow] = relationship(back_populates="deliveries")

    __table_args__ = (
        Index("uq_outbox_deliveries", "event_id", "subscriber", unique=True),
        Index("ix_outbox_deliveries_stream", "subscriber", "stream", "event_id"),
        Index("ix_outbox_deliveries_due", "status", "due_at"),
    )


class PersonRow(Base):
    """A person's display name as Slack last gave it: the postmortem and `foghorn export`
    name people from here, without asking Slack."""

    __tablename__ = "people"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    seen_at: Mapped[datetime]


# slack_sdk's tables for multi-workspace installs (the installation store and the OAuth state
# store read and write them; Foghorn's migrations create them).
INSTALLATIONS_TABLE, BOTS_TABLE, OAUTH_STATES_TABLE = (
    "slack_installations", "slack_bots", "slack_oauth_states")
SQLAlchemyInstallationStore.build_installations_table(Base.metadata, INSTALLATIONS_TABLE)
SQLAlchemyInstallationStore.build_bots_table(Base.metadata, BOTS_TABLE)
SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, OAUTH_STATES_TABLE)
