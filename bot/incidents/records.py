"""Notes in the timeline, and the postmortem draft."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.incidents import reminders as plan
from bot.incidents.base import ServiceBase
from bot.incidents.errors import UserError
from bot.incidents.model import Incident, TimelineEntry
from bot.offload import heavy, heavy_turn
from bot.store import entry_rows, people, reminder_rows, repo

log = logging.getLogger(__name__)


class Records(ServiceBase):
    # ----- timeline and postmortem -------------------------------------------------------
    async def add_note(self, channel_id: str, text: str, by: str) -> TimelineEntry:
        inc = await self.in_channel(channel_id, "note")
        entry = await self.timeline.note(inc, by, text)
        await self.notes.note_added(inc, by, entry.text)
        return entry

    async def draft_postmortem(self, inc: Incident, *, ask_chat: bool = True) -> str:
        """The postmortem Markdown, with people's names: remembered ones, and (`ask_chat`)
        those the chat side knows, remembered from now on."""
        async with heavy_turn():  # read and built one at a time, the build in a thread:
            # a 20,000-entry draft would otherwise hold other requests' acks
            entries = await self.timeline.entries(inc.id)
            names = await self.people_names(inc, _people_in(inc, entries), ask_chat=ask_chat)
            return await heavy(self.postmortems.build, inc, entries, names, self.clock(),
                               await self.checklist_state(inc.id))

    async def people_names(self, inc: Incident, users: set[str], *, ask_chat: bool = True
                           ) -> dict[str, str]:
        async with self.db.read() as s:
            known = await people.names(s, inc.team_id, users)
        missing = users - set(known)
        if ask_chat and missing:
            learned = await self.notes.display_names(inc, missing)
            if learned:
                async with self.db.write() as s:
                    await people.remember(s, inc.team_id, learned, self.clock())
                known |= learned
        return known

    async def remember_people(self, inc: Incident) -> None:
        """Store the names of everyone in the incident (the `people` subscriber, at
        resolve), so that the postmortem and `foghorn export` can name them later without
        asking Slack. Raises when Slack does not answer: the outbox tries again."""
        await self.people_names(inc, _people_in(inc, await self.timeline.entries(inc.id)))

    async def publish_postmortem(self, channel_id: str, by: str) -> Incident:
        """Build the draft, upload it to the incident channel and remember that it exists.
        A draft is not a postmortem: the reminders go on until someone marks it done."""
        inc = await self.in_channel(channel_id, "postmortem")
        document = await self.draft_postmortem(inc)
        filename = f"postmortem-{inc.channel_name or inc.label.lower()}.md"
        await self.notes.upload_postmortem(inc, filename, document)
        now = self.clock()
        async with self.db.write() as s:
            await repo.update_incident(s, inc.id, postmortem_at=now)
            await entry_rows.add_entry(s, inc.id, "postmortem", now, by, filename)
        return replace(inc, postmortem_at=now)

    async def postmortem_done_here(self, channel_id: str, by: str) -> Incident:
        """`/incident postmortem done` in the incident's channel."""
        inc = await self.in_channel(channel_id, "postmortem done")
        return await self.mark_postmortem_done(inc.id, by)

    async def mark_postmortem_done(self, incident_id: int, by: str) -> Incident:
        """The postmortem is written (from the draft or elsewhere): it counts as done and the
        postmortem reminders stop."""
        now = self.clock()
        async with self.db.write() as s:
            inc = await repo.lock_incident(s, incident_id)
            if inc is None:
                raise UserError("That incident no longer exists.")
            if inc.postmortem_done_at is not None:
                raise UserError(f"The postmortem for {inc.label} is already marked done "
                                f"(on {self.postmortems.when(inc.postmortem_done_at)}).")
            if not inc.is_resolved:
                raise UserError(f"{inc.label} is still open: resolve it before marking its "
                                "postmortem done.")
            await repo.update_incident(s, inc.id, postmortem_done_at=now)
            await entry_rows.add_entry(s, inc.id, "postmortem_done", now, by, "")
            await reminder_rows.cancel_reminders(s, inc.id, (plan.POSTMORTEM,))
        done = replace(inc, postmortem_done_at=now)
        await self.notes.postmortem_done(done, by)
        return done


def _people_in(inc: Incident, entries: list[TimelineEntry]) -> set[str]:
    found = {inc.declared_by, *(e.actor for e in entries if e.actor)}
    found |= {str(e.data[k]) for e in entries for k in ("user", "previous")
              if e.kind == "role_assigned" and e.data.get(k)}
    return found
