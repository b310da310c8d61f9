"""Shows incident changes in Slack: the `ChatPort` the incident service talks to.

Independent calls run side by side. Card updates for one incident are serialised and always
render the freshest stored state, so two quick changes can never leave a stale card behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from weakref import WeakValueDictionary

from bot.incidents.errors import ChatError
from bot.incidents.model import Incident
from bot.playbooks import Checklist, EscalationStep, IncidentType, target_kind
from bot.slack.blocks import Presenter
from bot.slack.gateway import HISTORY_PAGE, SlackGateway
from bot.slack.text import escape
from bot.slack.text import link as slack_link
from bot.store import checklist_rows, repo
from bot.store.db import Database

log = logging.getLogger(__name__)

REMINDER_EVENT = "foghorn_reminder"
EVENT_MESSAGE = "foghorn_event"  # metadata of a message an incident event made
CHANNEL, INCIDENTS = "channel", "incidents"  # where an event's message goes
RENDER_ATTEMPTS = 5  # renderings of one change, while newer versions keep arriving


class SlackPublisher:
    def __init__(self, gateway: SlackGateway, presenter: Presenter, db: Database,
                 incidents_channel: str) -> None:
        self.gateway = gateway
        self.present = presenter
        self.db = db
        self.incidents_channel = incidents_channel
        self._card_locks: WeakValueDictionary[int, asyncio.Lock] = WeakValueDictionary()
        self._checklist_locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()
        self._topics: dict[int, str] = {}  # what this process last set, per incident

    # ----- declaring ----------------------------------------------------------------------
    async def create_channel(self, inc: Incident, name: str) -> str:
        return await self.gateway.create_channel(name, is_private=inc.is_private)

    async def own_channel(self, inc: Incident, name: str, since: datetime) -> str | None:
        """A channel called `name` that this bot created at or after `since` (one a crash
        left behind mid-declare), or None."""
        ch = await self.gateway.find_channel(name)
        if ch is None or ch.get("creator") != await self.gateway.bot_user_id():
            return None
        return str(ch["id"]) if int(ch.get("created", 0)) >= int(since.timestamp()) else None

    async def post_card(self, inc: Incident) -> str:
        text, blocks = self.present.card(inc)
        return await self.gateway.post(_channel(inc), text, blocks,
                                       metadata=_tag("card", inc))

    async def find_posted(self, inc: Incident, what: str) -> str | None:
        """The ts of this incident's card or announcement if it was already posted."""
        channel = _channel(inc) if what == "card" else await self.gateway.resolve_channel_id(
            self.incidents_channel)
        # Every page since the declare: under Slack's 2025 history limits a page holds 15
        # messages, and a busy #incidents channel many more.
        async for m in self.gateway.pages("conversations.history", "messages", channel=channel,
                                          oldest=f"{inc.declared_at.timestamp() - 60:.6f}",
                                          limit=HISTORY_PAGE, include_all_metadata=True):
            if (m.get("metadata") or {}) == _tag(what, inc):
                return str(m["ts"])
        return None

    async def pin_card(self, inc: Incident) -> None:
        if inc.card_ts:
            await self.gateway.pin(_channel(inc), inc.card_ts)

    async def is_member(self, inc: Incident, user: str) -> bool:
        async for member in self.gateway.members(_channel(inc)):
            if member == user:
                return True
        return False

    async def invite(self, inc: Incident, users: list[str]) -> None:
        await self.gateway.invite(_channel(inc), users)

    async def set_topic(self, inc: Incident) -> None:
        """Set the topic, unless this process last set it to the same text (every change
        of topic also posts a line in the channel, and setTopic is Tier 2). A stale topic
        set elsewhere meanwhile is corrected by that renderer's own version check."""
        topic = self.present.topic(inc)
        if self._topics.get(inc.id) == topic:
            return
        await self.gateway.set_topic(_channel(inc), topic)
        self._topics[inc.id] = topic

    async def announce_declared(self, inc: Incident) -> str:
        return await self.gateway.post_to_channel_ref(
            self.incidents_channel, self.present.announcement(inc),
            metadata=_tag("announcement", inc))

    async def withdraw_announcement(self, inc: Incident) -> None:
        """The incident was made private: its announcement in the incidents channel keeps
        only its label (the title and details stay in its own channel)."""
        if inc.announcement_ts:
            channel = await self.gateway.resolve_channel_id(self.incidents_channel)
            await self.gateway.update(channel, inc.announcement_ts,
                                      self.present.made_private(inc))

    async def refresh_card(self, inc: Incident) -> None:
        """Show the stored state on the card and in the topic: read after the change
        committed, one rendering at a time per incident in this process, and again while
        the incident's version moved on meanwhile (another change, perhaps on another
        replica, committed while this one was rendering): the last rendering to land is
        always of the newest state. A card someone deleted is posted (and pinned) again."""
        lock = self._card_locks.get(inc.id)
        if lock is None:
            lock = self._card_locks[inc.id] = asyncio.Lock()
        async with lock:
            for _ in range(RENDER_ATTEMPTS):
                async with self.db.read() as s:
                    fresh = await repo.get_incident(s, inc.id)
                if fresh is None or not fresh.channel_id:
                    return
                await _all([self._show_card(fresh), self.set_topic(fresh)])
                async with self.db.read() as s:
                    if await repo.version_of(s, inc.id) == fresh.version:
                        return

    async def _show_card(self, fresh: Incident) -> None:
        if not fresh.card_ts:
            return
        text, blocks = self.present.card(fresh)
        try:
            await self.gateway.update(_channel(fresh), fresh.card_ts, text, blocks)
        except ChatError as exc:
            if exc.error != "message_not_found":
                raise
            log.info("%s: its card was deleted; posting it again", fresh.label)
            ts = await self.post_card(fresh)
            async with self.db.write() as s:  # where the card now is (a rendering detail)
                await repo.update_incident(s, fresh.id, card_ts=ts)
            await self.gateway.pin(_channel(fresh), ts)

    # ----- changes ------------------------------------------------------------------------
    async def _say(self, inc: Incident, text: str) -> None:
        await self.gateway.post(_channel(inc), text)

    async def _brief(self, inc: Incident, role_id: str, user: str) -> None:
        await self.gateway.invite(_channel(inc), [user])
        await self.gateway.tell(inc.channel_id, user, self.present.role_brief(inc, role_id))

    # ----- the reactions to incident events (bot.slack.reactions) ---------------------------
    async def say_for_event(self, inc: Incident, event_id: int, text: str, *,
                            where: str = CHANNEL) -> None:
        """Post what an event says, tagged with the event, in the incident's channel or (for
        INCIDENTS) the incidents channel."""
        meta = {"event_type": EVENT_MESSAGE, "event_payload": {"event_id": event_id,
                                                               "where": where}}
        if where == INCIDENTS:
            await self.gateway.post_to_channel_ref(self.incidents_channel, text,
                                                   metadata=meta)
        else:
            await self.gateway.post(_channel(inc), text, metadata=meta)

    async def said_for_event(self, inc: Incident, event_id: int, since: datetime, *,
                             where: str = CHANNEL) -> bool:
        """Whether a message tagged with this event was posted already (a retry after a
        crash, or a lost answer, must not say it twice)."""
        channel = (await self.gateway.resolve_channel_id(self.incidents_channel)
                   if where == INCIDENTS else _channel(inc))

        def tagged(meta: dict) -> bool:
            payload = meta.get("event_payload") or {}
            return (meta.get("event_type") == EVENT_MESSAGE
                    and payload.get("event_id") == event_id and payload.get("where") == where)

        return await self.gateway.posted_since(channel, since, tagged,
                                               key=f"event-{event_id}-{where}")

    async def brief(self, inc: Incident, role_id: str, user: str) -> None:
        """Invite a role's new holder and tell them, privately, what the role does."""
        await self.gateway.invite(_channel(inc), [user])
        await self.gateway.tell(inc.channel_id, user, self.present.role_brief(inc, role_id))

    async def type_extras(self, inc: Incident) -> None:
        """Bookmark the new type's links and tell whoever the type (not the severity: told
        at declare) names."""
        kind = self.present.playbook.incident_type(inc.type)
        if kind is None:
            return
        channel = _channel(inc)
        jobs: list[Awaitable[object]] = [
            self.gateway.call("bookmarks.add", channel_id=channel, title=link.title,
                              type="link", link=link.url)
            for link in kind.links if not link.severities or inc.severity in link.severities]
        jobs += self._notices(inc, kind.notify, f"now a {kind.name} incident")
        await _all(jobs)

    async def note_added(self, inc: Incident, user: str, text: str) -> None:
        await self._say(inc, f":memo: Note from <@{user}>: {escape(text)}")

    async def display_names(self, inc: Incident, users: set[str]) -> dict[str, str]:
        found = await asyncio.gather(*(self.gateway.display_name(u) for u in sorted(users)))
        return {u: n for u, n in zip(sorted(users), found, strict=True) if n}

    async def upload_postmortem(self, inc: Incident, filename: str, content: str) -> None:
        await self.gateway.upload(
            _channel(inc), filename, content, title=f"Postmortem draft: {inc.label}",
            comment=":page_facing_up: Postmortem draft: fill in the _italic_ prompts, then "
                    "share it. The timeline and figures are filled in from this channel. "
                    "When the postmortem is written, mark it done with `/incident postmortem "
                    "done`: until then it counts as a draft and the reminders go on.")

    async def postmortem_done(self, inc: Incident, by: str) -> None:
        await self._say(inc, f":white_check_mark: <@{by}> marked the postmortem for "
                             f"{inc.label} done.")


    async def links_and_notices(self, inc: Incident, *, resumed: bool) -> None:
        """Bookmark the playbook's links (and post the war room), and tell whoever the
        severity names. A resumed declare skips bookmarks that already exist."""
        channel = _channel(inc)
        links = self.present.playbook.links_for(inc.severity, inc.type)
        existing: set[str] = set()
        if resumed and links:
            listed = await self.gateway.call("bookmarks.list", channel_id=channel)
            existing = {b.get("link", "") for b in listed.get("bookmarks", [])}
        jobs: list[Awaitable[object]] = [
            self.gateway.call("bookmarks.add", channel_id=channel, title=link.title,
                              type="link", link=link.url)
            for link in links if link.url not in existing]
        for link in links:
            if link.war_room and not resumed:
                room = slack_link(link.url, escape(link.title))
                jobs.append(self._say(inc, f":telephone_receiver: War room for {inc.label}: "
                                           f"{room}"))
        targets = self.present.playbook.severity_for(inc.severity, inc.type).notify
        jobs += self._notices(inc, targets, f"{inc.severity} declared", resumed=resumed)
        await _all(jobs)

    def _notices(self, inc: Incident, targets: tuple[str, ...], what: str, *,
                 resumed: bool = False) -> list[Awaitable[object]]:
        """Tell the targets: people are invited, user groups mentioned in the channel,
        channels sent a notice (a private incident's only when cleared to hear)."""
        channel = _channel(inc)
        notice = self.present.declared_notice(inc)
        jobs: list[Awaitable[object]] = []
        groups = []
        for target in targets:
            kind = target_kind(target)
            if kind == "user":
                jobs.append(self.gateway.invite(channel, [target.lstrip("@")]))
            elif kind == "usergroup":
                groups.append(self.present.target(target))
            elif kind == "channel" and self._may_hear(inc, target):
                jobs.append(self.gateway.post_to_channel_ref(target.lstrip("#"), notice))
            # pagerduty: and opsgenie: targets are paged by the service (bot.paging)
        if groups and not resumed:
            jobs.append(self._say(inc, f"{' '.join(groups)}: {what}, you are asked to join."))
        return jobs

    async def pager_said(self, inc: Incident, text: str) -> None:
        await self._say(inc, text)

    async def post_runbook(self, inc: Incident, kind: IncidentType) -> None:
        text, blocks = self.present.runbook(kind, inc)
        await self.gateway.post(_channel(inc), text, blocks)

    # ----- checklists ---------------------------------------------------------------------
    async def post_checklist(self, inc: Incident, checklist: Checklist, ticked: set[int]
                             ) -> str:
        text, blocks = self.present.checklist(inc, checklist, ticked)
        return await self.gateway.post(_channel(inc), text, blocks)

    async def refresh_checklist(self, inc: Incident, checklist: Checklist) -> None:
        """Re-render from the stored ticks, one update at a time per checklist, so the
        message always ends in the stored (final) state."""
        key = f"{inc.id}|{checklist.id}"
        lock = self._checklist_locks.get(key)
        if lock is None:
            lock = self._checklist_locks[key] = asyncio.Lock()
        async with lock:
            async with self.db.read() as s:
                row = await checklist_rows.post_of(s, inc.id, checklist.id)
            if row is None or row.message_ts is None:
                return
            text, blocks = self.present.checklist(inc, checklist, set(row.ticked))
            await self.gateway.update(_channel(inc), row.message_ts, text, blocks)

    # ----- reminders ----------------------------------------------------------------------
    async def _post_reminder(self, inc: Incident, reminder_id: int, text: str,
                             blocks: list[dict] | None = None) -> None:
        """Post with the reminder's id in the message metadata, so that a replica taking
        over a dead claim can see the message was already posted."""
        await self.gateway.post(_channel(inc), text, blocks, metadata={
            "event_type": REMINDER_EVENT, "event_payload": {"reminder_id": reminder_id}})

    async def reminder_already_posted(self, inc: Incident, reminder_id: int,
                                      since: datetime) -> bool:
        """Whether a message carrying this reminder's id was posted since it fell due."""
        return await self.gateway.posted_since(_channel(inc), since, lambda meta: (
            meta.get("event_type") == REMINDER_EVENT
            and (meta.get("event_payload") or {}).get("reminder_id") == reminder_id),
            key=f"reminder-{reminder_id}")

    async def remind_update(self, inc: Incident, reminder_id: int, since: timedelta) -> None:
        text, blocks = self.present.update_reminder(inc, since)
        await self._post_reminder(inc, reminder_id, text, blocks)

    async def nudge_commander(self, inc: Incident, reminder_id: int, waited: timedelta
                              ) -> None:
        by_bot = inc.declared_by == await self.gateway.bot_user_id()
        await self._post_reminder(inc, reminder_id, self.present.commander_nudge(
            inc, waited, declared_by_bot=by_bot))

    async def escalate(self, inc: Incident, reminder_id: int, step: EscalationStep, *,
                       in_channel: bool = True) -> None:
        """The escalation in the incident channel and to each target, side by side: a
        channel Foghorn can no longer post in does not keep the others from hearing."""
        notice = self.present.escalation_notice(inc, step, step.after)
        jobs: list[Awaitable[object]] = []
        if in_channel:
            jobs.append(self._post_reminder(inc, reminder_id,
                                            self.present.escalation(inc, step, step.after)))
        for target in step.notify:
            kind = target_kind(target)
            if kind == "user":  # a direct message
                jobs.append(self.gateway.post(target.lstrip("@"), notice))
            elif kind == "role" and inc.roles.get(target[5:]):  # its holder, directly
                jobs.append(self.gateway.post(inc.roles[target[5:]], notice))
            elif kind == "channel" and self._may_hear(inc, target):
                jobs.append(self.gateway.post_to_channel_ref(target.lstrip("#"), notice))
            # A user group is mentioned in the escalation message itself, in the channel;
            # what is held back is named there too (Presenter.escalation).
        await _all(jobs)

    def _may_hear(self, inc: Incident, channel_target: str) -> bool:
        """A channel outside a private incident never hears of it (not even its title),
        unless the playbook clears that channel in `private_channels` (the one rule, which
        the escalation message also states: Playbook.reaches)."""
        if self.present.playbook.reaches(channel_target, private=inc.is_private):
            return True
        log.debug("%s is private: not telling %s", inc.label, channel_target)
        return False

    async def channel_lost(self, inc: Incident, error: str) -> None:
        """Tell the declarer and the Incident Commander (a DM each) and, for a public
        incident, the incidents channel, that Foghorn cannot post in the channel."""
        text = self.present.channel_lost(inc, error)
        told = (inc.declared_by, self.present.commander_of(inc))
        jobs: list[Awaitable[object]] = [self.gateway.post(user, text)
                                         for user in dict.fromkeys(u for u in told if u)]
        if not inc.is_private:
            jobs.append(self.gateway.post_to_channel_ref(self.incidents_channel, text))
        await _all(jobs)

    async def remind_postmortem(self, inc: Incident, reminder_id: int) -> None:
        text, blocks = self.present.postmortem_reminder(inc)
        await self._post_reminder(inc, reminder_id, text, blocks)

    async def snoozed(self, inc: Incident, by: str, until: datetime) -> None:
        await self._say(inc, f":zzz: <@{by}> snoozed update reminders until "
                             f"{self.present.when(until)}.")


def _tag(what: str, inc: Incident) -> dict:
    """Message metadata naming what a message is, so a resumed declare can find it."""
    return {"event_type": f"foghorn_{what}", "event_payload": {"incident_id": inc.id}}


def _channel(inc: Incident) -> str:
    if not inc.channel_id:
        raise ChatError("channel", "channel_not_created")
    return inc.channel_id


async def _all(jobs: list[Awaitable[object]]) -> None:
    """Run side by side; when some fail, let the others finish, then raise the first."""
    results = await asyncio.gather(*jobs, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    for err in errors:
        log.warning("slack step failed: %s", err)
    if errors:
        raise errors[0]
