"""Recording the incident timeline from channel messages, exactly once.

Plain values in (no Slack types): a message's own Slack timestamp keys its entry, so a
retried or repeated delivery never makes a second one, and an Events API `event_id` seen
before is dropped whole. Every change is stored before the caller returns, so it can
acknowledge Slack only after it is stored; new messages arriving together share one
transaction (group commit), which is what lets one SQLite file take hundreds a second.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.incidents.errors import UserError
from bot.incidents.model import TEXT_LIMIT, Clock, Incident, TimelineEntry, clip, utcnow
from bot.store import entry_rows, repo
from bot.store.batch import GroupWriter
from bot.store.db import Database

log = logging.getLogger(__name__)

MESSAGE_KINDS = frozenset({"message", "file"})
# Channels found not to be an incident's are skipped for this long without asking the
# database (then asked again: a safety net, see Timeline.claimed); at most this many.
NOT_INCIDENT_FOR = 600.0  # seconds
NOT_INCIDENT_MAX = 10_000
EVENT_MEMORY = timedelta(days=2)  # Slack retries within minutes; keep ids well past that


def ts_micros(ts: str) -> int:
    """A Slack timestamp (`"1700000000.000100"`) as exact integer microseconds.

    Floats cannot hold ten digits of seconds and six of fraction exactly, so Slack timestamps
    are compared and converted with integers. Raises ValueError for a malformed one."""
    seconds, _, fraction = ts.partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > 6:
        raise ValueError(f"not a Slack timestamp: {ts!r}")
    return int(seconds) * 1_000_000 + int(fraction.ljust(6, "0") or 0)


def ts_to_datetime(ts: str) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_micros(ts))


@dataclass(frozen=True)
class SharedFile:
    name: str
    permalink: str


@dataclass(frozen=True)
class ChatMessage:
    """A person's message in a channel."""

    channel: str
    ts: str
    user: str
    text: str
    thread_ts: str | None = None
    files: tuple[SharedFile, ...] = field(default=())


def _message_row(incident_id: int, msg: ChatMessage) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if msg.files:
        data["files"] = [{"name": f.name, "permalink": f.permalink} for f in msg.files]
    return {"incident_id": incident_id, "kind": "file" if msg.files else "message",
            "occurred_at": ts_to_datetime(msg.ts), "actor": msg.user, "text": msg.text,
            "slack_ts": msg.ts,
            "thread_ts": msg.thread_ts if msg.thread_ts and msg.thread_ts != msg.ts else None,
            "data": data}


class Timeline:
    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock
        self._messages = GroupWriter(db, self._store, name="timeline")
        # Incident channels never change hands, so a found mapping can be kept for good.
        self._incident_by_channel: dict[str, int] = {}
        # Channels found not to be an incident's (#incidents, others Foghorn was invited
        # to), until when: their messages are skipped without a transaction or a query.
        # Safe because an incident's channel is always one Foghorn has just created, and
        # nobody can post in it before it is stored as the incident's (people are invited
        # after that), so no process can have found it "not an incident's" before.
        self._not_incident: dict[str, float] = {}

    def claimed(self, channel: str, incident_id: int) -> None:
        """An incident's channel is stored (this process's declare made it)."""
        self._incident_by_channel[channel] = incident_id
        self._not_incident.pop(channel, None)

    def elsewhere(self, channel: str) -> bool:
        """Known not to be an incident's channel (its messages are not recorded)."""
        return channel not in self._incident_by_channel and self._not_an_incidents(channel)

    def _not_an_incidents(self, channel: str) -> bool:
        until = self._not_incident.get(channel)
        if until is None:
            return False
        if until < time.monotonic():
            self._not_incident.pop(channel, None)
            return False
        return True

    def _found_not_incidents(self, channels: list[str]) -> None:
        if len(self._not_incident) + len(channels) > NOT_INCIDENT_MAX:
            self._not_incident.clear()
        until = time.monotonic() + NOT_INCIDENT_FOR
        self._not_incident.update(dict.fromkeys(channels, until))

    async def _incident_id(self, session: Any, channel: str) -> int | None:
        if channel in self._incident_by_channel:
            return self._incident_by_channel[channel]
        if self._not_an_incidents(channel):
            return None
        self._incident_by_channel.update(
            await session.run_sync(repo.incident_ids_by_channel, [channel]))
        if channel not in self._incident_by_channel:
            self._found_not_incidents([channel])
        return self._incident_by_channel.get(channel)

    async def _fresh_event(self, session: Any, event_id: str | None) -> bool:
        return event_id is None or await entry_rows.claim_event(session, event_id, self.clock())

    # ----- capture ------------------------------------------------------------------------
    async def record(self, msg: ChatMessage, *, event_id: str | None = None) -> bool:
        """Store a message of an incident channel; False if it was not new or not ours.
        Messages arriving together share a transaction (see GroupWriter); a message in a
        channel known not to be an incident's costs nothing more."""
        if self.elsewhere(msg.channel):
            return False
        return await self._messages.submit((msg, event_id))

    def _store(self, s: Session, items: list[tuple[ChatMessage, str | None]]) -> list[bool]:
        """Many messages in one transaction: claim their event ids, insert the new ones, and
        say for each whether it was stored."""
        known = self._incident_by_channel  # incident channels never change hands
        unknown = [c for c in dict.fromkeys(m.channel for m, _ in items) if c not in known]
        if unknown:
            known.update(repo.incident_ids_by_channel(s, unknown))
            self._found_not_incidents([c for c in unknown if c not in known])
        fresh = entry_rows.claim_events(s, [e for m, e in items if e and m.channel in known],
                                        self.clock())
        keys: list[tuple[int, str] | None] = []
        rows = []
        for msg, event_id in items:
            incident_id = known.get(msg.channel)
            if incident_id is None or (event_id is not None and event_id not in fresh):
                keys.append(None)
                continue
            fresh.discard(event_id or "")  # a second copy of one delivery is a retry
            keys.append((incident_id, msg.ts))
            rows.append(_message_row(incident_id, msg))
        inserted = entry_rows.insert_messages(s, rows)
        results = []
        for key in keys:  # each new entry is reported once, to its first sender
            results.append(key in inserted)
            inserted.discard(key)
        return results

    async def edit(self, msg: ChatMessage, *, edited_at: datetime,
                   event_id: str | None = None) -> bool:
        """A message was edited: keep its previous text in the entry's history."""
        async with self.db.write(urgent=True) as s:
            incident_id = await self._incident_id(s, msg.channel)
            if incident_id is None or not await self._fresh_event(s, event_id):
                return False
            row = await entry_rows.entry_by_ts(s, incident_id, msg.ts)
            if row is None:  # the original never reached us: store it as it reads now
                await entry_rows.insert_message(
                    s, incident_id, kind="message", at=ts_to_datetime(msg.ts), actor=msg.user,
                    text_=msg.text, slack_ts=msg.ts, thread_ts=msg.thread_ts,
                    data={"history": []})
                row = await entry_rows.entry_by_ts(s, incident_id, msg.ts)
                assert row is not None
                row.edited_at = edited_at
                return True
            if row.deleted or row.text == msg.text:
                return False
            history = [*row.data.get("history", []),
                       {"text": row.text, "replaced_at": edited_at.isoformat()}]
            row.data = {**row.data, "history": history}
            row.text, row.edited_at = msg.text, edited_at
            return True

    async def delete(self, channel: str, ts: str, *, event_id: str | None = None) -> bool:
        """A person's message was deleted: drop its text (and its edit history) everywhere;
        keep who and when. A message never stored leaves only a hidden marker, so that a
        late or retried delivery of it cannot bring the text back; nothing is shown."""
        async with self.db.write(urgent=True) as s:
            incident_id = await self._incident_id(s, channel)
            if incident_id is None or not await self._fresh_event(s, event_id):
                return False
            row = await entry_rows.entry_by_ts(s, incident_id, ts)
            if row is None:
                await entry_rows.insert_message(s, incident_id, kind=entry_rows.UNSEEN_DELETION,
                                                at=ts_to_datetime(ts), actor=None, text_="",
                                                slack_ts=ts, thread_ts=None, data={})
                return False
            if row.deleted:
                return False
            row.text, row.deleted, row.key_event = "", True, False
            row.data = {}
            return True

    async def mark(self, channel: str, ts: str, mark: str, on: bool, *,
                   event_id: str | None = None) -> bool:
        """Add or remove a key-event mark (a 📌 by someone, or a pin); the entry is a key
        event while any mark remains."""
        async with self.db.write(urgent=True) as s:
            incident_id = await self._incident_id(s, channel)
            if incident_id is None or not await self._fresh_event(s, event_id):
                return False
            row = await entry_rows.entry_by_ts(s, incident_id, ts)
            if row is None or row.deleted:
                return False
            marks = set(row.data.get("key_marks", []))
            marks = marks | {mark} if on else marks - {mark}
            row.data = {**row.data, "key_marks": sorted(marks)}
            row.key_event = bool(marks)
            return True

    async def note(self, inc: Incident, user: str, text: str) -> TimelineEntry:
        text = clip(text.strip(), TEXT_LIMIT)
        if not text:
            raise UserError("Add the note's text, e.g. `/incident note Decided to fail over "
                            "to eu-west-2`.")
        now = self.clock()
        async with self.db.write(urgent=True) as s:
            entry_id = await entry_rows.add_entry(s, inc.id, "note", now, user, text)
        return TimelineEntry(entry_id, inc.id, "note", now, user, text, {})

    async def forget_old_events(self) -> None:
        async with self.db.write() as s:
            await entry_rows.forget_events_before(s, self.clock() - EVENT_MEMORY)

    # ----- reading ------------------------------------------------------------------------
    async def recent(self, incident_id: int, limit: int) -> tuple[list[TimelineEntry], int]:
        async with self.db.read() as s:
            return await entry_rows.latest_entries(s, incident_id, limit)

    async def entries(self, incident_id: int) -> list[TimelineEntry]:
        async with self.db.read() as s:
            return await entry_rows.list_entries(s, incident_id)

    async def synced(self, incident_id: int, ts: str) -> None:
        """Channel history up to `ts` is stored (after a complete catch-up)."""
        async with self.db.write() as s:
            await repo.update_incident(s, incident_id, history_synced_ts=ts)

    async def thread_roots(self, incident_id: int, recent: int = 20) -> set[str]:
        async with self.db.read() as s:
            return await entry_rows.thread_roots(s, incident_id, recent)
