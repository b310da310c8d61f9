"""Playbook checklists: posted by phase (once each), ticked as diffs, listed on demand."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.incidents.base import ServiceBase
from bot.incidents.errors import UserError
from bot.incidents.model import Incident
from bot.playbooks import Checklist
from bot.store import checklist_rows, entry_rows, repo

log = logging.getLogger(__name__)

POSTING_LEASE = timedelta(seconds=30)  # longer than any one post, retries included
POLL = 0.25  # seconds between looks while another poster holds a checklist
POSTED, CLAIMED, BUSY = "posted", "claimed", "busy"


class Checklists(ServiceBase):
    # ----- checklists ---------------------------------------------------------------------
    async def checklist_state(self, incident_id: int) -> dict[str, set[int]]:
        """Ticked items of every checklist posted for the incident."""
        async with self.db.read() as s:
            return {r.checklist_id: set(r.ticked)
                    for r in await checklist_rows.posts_of(s, incident_id) if r.message_ts}

    async def _open_before_resolve(self, inc: Incident) -> list[str]:
        state = await self.checklist_state(inc.id)
        return [f"{c.title}: {item.text}" for c in self.playbook.all_checklists
                if c.before_resolve and c.id in state
                for i, item in enumerate(c.items) if i not in state[c.id]]

    async def post_checklists(self, inc: Incident, when: str) -> None:
        """Post the playbook's checklists for this moment (the general ones and the type's),
        each once per incident: whoever claims a checklist posts it; anyone else reaching
        the same phase (a type change with a status update, a retry, another replica) waits
        for that post, and takes over only if the claim outlives POSTING_LEASE."""
        for checklist in self.playbook.checklists_for(when, inc.severity, inc.type):
            async with self.db.read() as s:  # posted already, the usual case: no write
                row = await checklist_rows.post_of(s, inc.id, checklist.id)
            if row is not None and row.message_ts is not None:
                continue
            loop = asyncio.get_running_loop()
            deadline = loop.time() + POSTING_LEASE.total_seconds() + 5
            while True:
                verdict = await self._claim_posting(inc.id, checklist.id)
                if verdict == POSTED:
                    break
                if verdict == CLAIMED:
                    try:
                        await self._post_checklist(inc, checklist)
                    except BaseException:
                        await self._release_posting(inc.id, checklist.id)
                        raise
                    break
                if loop.time() > deadline:  # the claim is taken over on the next look
                    log.warning("checklist %s of %s: another poster held it too long",
                                checklist.id, inc.label)
                    break
                await asyncio.sleep(POLL)

    async def _claim_posting(self, incident_id: int, checklist_id: str) -> str:
        now = self.clock()
        async with self.db.write() as s:
            row = await checklist_rows.claim(s, incident_id, checklist_id)
            if row.message_ts is not None:
                return POSTED
            if row.posting_since is not None and now - row.posting_since < POSTING_LEASE:
                return BUSY
            row.posting_since = now
            return CLAIMED

    async def _release_posting(self, incident_id: int, checklist_id: str) -> None:
        async with self.db.write() as s:
            row = await checklist_rows.claim(s, incident_id, checklist_id)
            if row.message_ts is None:
                row.posting_since = None

    async def _post_checklist(self, inc: Incident, checklist: Checklist) -> None:
        async with self.db.write() as s:
            ticked = set((await checklist_rows.claim(s, inc.id, checklist.id)).ticked)
        ts = await self.checklist_chat.post_checklist(inc, checklist, ticked)
        async with self.db.write() as s:
            row = await checklist_rows.claim(s, inc.id, checklist.id)
            row.message_ts = ts
            row.posting_since = None

    async def checklist_on_demand(self, channel_id: str, checklist_id: str) -> None:
        """`/incident checklist <id>`: post it (again, with its ticks, if it was posted)."""
        inc = await self.in_channel(channel_id, "checklist")
        checklist = self.playbook.checklist(checklist_id)
        if checklist is None:
            raise UserError(f"That checklist is not in the playbook. {self.checklist_names()}")
        await self._post_checklist(inc, checklist)

    def checklist_names(self) -> str:
        if not self.playbook.checklists:
            return "This playbook has no checklists."
        return "Checklists: " + ", ".join(
            f"`{c.id}` ({c.title}, {'on demand' if c.when == 'demand' else 'on ' + c.when})"
            for c in self.playbook.checklists) + "."

    async def tick(self, incident_id: int, checklist_id: str, selected: set[int],
                   seen: set[int], by: str) -> set[int]:
        """Apply what this person changed (their selection against what their copy of the
        message showed), so two people ticking at once both end up seeing both ticks.
        Recorded in the timeline, even on a resolved incident."""
        checklist = self.playbook.checklist(checklist_id)
        if checklist is None:
            raise UserError("That checklist is no longer in the playbook.")
        valid = set(range(len(checklist.items)))
        added, removed = (selected - seen) & valid, (seen - selected) & valid
        now = self.clock()
        async with self.db.write() as s:
            inc = await repo.lock_incident(s, incident_id)
            if inc is None:
                raise UserError("That incident no longer exists.")
            row = await checklist_rows.claim(s, incident_id, checklist_id)
            before = set(row.ticked)
            after = (before | added) - removed
            for index in sorted(after ^ before):
                done = index in after
                await entry_rows.add_entry(
                    s, incident_id, "checklist", now, by,
                    f"{checklist.title}: {'ticked' if done else 'unticked'} "
                    f"\u201c{checklist.items[index].text}\u201d",
                    {"checklist": checklist_id, "item": index, "ticked": done})
            row.ticked = sorted(after)
        await self.checklist_chat.refresh_checklist(inc, checklist)
        return after
