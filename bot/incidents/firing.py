"""What happens when a reminder row falls due (update reminder, nudge, escalation, postmortem
reminder), and snoozing."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from bot.incidents import reminders as plan
from bot.incidents.base import SNOOZE_SLACK, ServiceBase
from bot.incidents.errors import ChatError, UserError
from bot.incidents.model import CHANNEL_GONE, Incident, Reminder
from bot.store import entry_rows, reminder_rows, repo

log = logging.getLogger(__name__)


class Firing(ServiceBase):
    # ----- reminders ----------------------------------------------------------------------
    async def cancel_team_reminders(self, team_id: str) -> int:
        """Cancel every pending reminder of a workspace's incidents (it uninstalled
        Foghorn); how many were cancelled."""
        async with self.db.write() as s:
            return await reminder_rows.cancel_team_reminders(s, team_id)

    async def adopt_unteamed(self, team_id: str, enterprise_id: str | None) -> int:
        """Token mode: incidents stored without a workspace belong to the token's (how
        many)."""
        if not team_id:
            return 0
        async with self.db.write() as s:
            return await repo.adopt_unteamed(s, team_id, enterprise_id)

    async def snooze(self, incident_id: int, minutes: int, by: str) -> datetime:
        """Push the update reminder back; recorded in the timeline."""
        now = self.clock()
        until = now + timedelta(minutes=minutes)
        async with self.db.write() as s:
            inc = self.require_open(await repo.lock_incident(s, incident_id))
            pending = await reminder_rows.pending_reminders(s, inc.id, (plan.UPDATE,))
            if pending and pending[0].due_at >= until - SNOOZE_SLACK:
                raise UserError(f"Update reminders for {inc.label} are already quiet until "
                                f"{pending[0].due_at.astimezone(self.tz):%H:%M %Z}.")
            await reminder_rows.set_reminder(s, inc.id, plan.UPDATE, until)
            await entry_rows.add_entry(s, inc.id, "snoozed", now, by, f"{minutes}m",
                                       {"until": until.isoformat(), "minutes": minutes})
        self.reminders_changed()
        await self.reminding.snoozed(inc, by, until)
        return until

    async def fire_reminder(self, r: Reminder) -> tuple[str, list[plan.Planned]]:
        """Say what a due reminder row asks for, if its condition still holds.

        Returns the row's outcome (`sent` or `skipped`) and the rows to plan after it, which
        the dispatcher stores in the same transaction that closes this one. A channel Foghorn
        can no longer post in (archived, Foghorn removed) is no reason to retry: the people
        concerned are told once, reminders pause until the channel is back, and escalations
        still reach their other targets.
        """
        inc = await self.get(r.incident_id)
        if inc is None or not inc.channel_id:
            return reminder_rows.SKIPPED, []
        try:
            return await self._fire(inc, r)
        except ChatError as exc:
            if exc.error not in CHANNEL_GONE:
                raise
            await self.channel_gone(inc.channel_id, exc.error)
            return (reminder_rows.SENT if r.kind == plan.ESCALATION else
                    reminder_rows.SKIPPED), []

    async def _fire(self, inc: Incident, r: Reminder) -> tuple[str, list[plan.Planned]]:
        if inc.channel_lost and r.kind != plan.ESCALATION:
            return reminder_rows.SKIPPED, []  # resumed when the channel is back
        sev = self.playbook.severity_for(inc.severity, inc.type)
        now = self.clock()
        if r.kind == plan.POSTMORTEM:
            if inc.postmortem_done_at is not None:
                return reminder_rows.SKIPPED, []
            follow = [plan.Planned(plan.POSTMORTEM, now + plan.POSTMORTEM_REPEAT, r.step + 1)]
            if not await self._posted_before(inc, r):
                await self.reminding.remind_postmortem(inc, r.id)
            return reminder_rows.SENT, follow
        if inc.is_resolved:
            return reminder_rows.SKIPPED, []
        if r.kind == plan.UPDATE:
            due = plan.next_update(sev, inc.last_update_at, now)
            if due is None or sev.update_every is None:  # (no cadence: no due time either)
                return reminder_rows.SKIPPED, []
            # Repeat on the cadence from now: after downtime, one reminder, not a pile.
            follow = [plan.Planned(plan.UPDATE, now + sev.update_every)]
            if not await self._posted_before(inc, r):
                await self.reminding.remind_update(inc, r.id, now - inc.last_update_at)
            return reminder_rows.SENT, follow
        if r.kind == plan.IC_NUDGE:
            later = sev.response_time * (r.step + 1)
            if self.commander_of(inc) is not None or (r.step in plan.IC_NUDGES[:-1]
                                             and now >= inc.declared_at + later):
                # After downtime the next nudge is due too: it alone speaks, saying how
                # long it has been.
                return reminder_rows.SKIPPED, []
            if not await self._posted_before(inc, r):
                await self.reminding.nudge_commander(inc, r.id, now - inc.declared_at)
            return reminder_rows.SENT, []
        if r.kind == plan.ESCALATION and r.step < len(sev.escalation):
            step = sev.escalation[r.step]
            if inc.channel_lost or not await self._posted_before(inc, r):
                await self.reminding.escalate(inc, r.id, step, in_channel=inc.channel_lost is None)
            await self.page_targets(inc, step.notify, key=f"escalation-{r.step}",
                                    reason=step.note or f"still open after the {inc.severity} "
                                                        "escalation time")
            return reminder_rows.SENT, []
        return reminder_rows.SKIPPED, []

    async def _posted_before(self, inc: Incident, r: Reminder) -> bool:
        """A row claimed before (its claimer died after posting, before recording it): look
        in the channel for the message carrying this reminder's id instead of posting again."""
        if r.attempts <= 1:
            return False
        return await self.reminding.reminder_already_posted(inc, r.id, r.due_at)

    # ----- the channel going away and coming back ----------------------------------------
    async def channel_gone(self, channel_id: str, error: str) -> Incident | None:
        """Foghorn can no longer post in an incident's channel (`is_archived`,
        `not_in_channel`, `channel_not_found`): recorded once, and the declarer, the
        Incident Commander and (for a public incident) the incidents channel are told."""
        now = self.clock()
        async with self.db.write() as s:
            found = await repo.get_by_channel(s, channel_id)
            inc = await repo.lock_incident(s, found.id) if found else None
            if inc is None or inc.is_resolved or inc.channel_lost == error:
                return None
            await repo.update_incident(s, inc.id, channel_lost=error)
            await entry_rows.add_entry(s, inc.id, "channel_lost", now, None, error,
                                       {"error": error})
        log.warning("%s: Foghorn cannot post in its channel any more (%s)", inc.label, error)
        inc = replace(inc, channel_lost=error)
        await self.reminding.channel_lost(inc, error)
        return inc

    async def channel_back(self, channel_id: str) -> Incident | None:
        """The channel is usable again (unarchived, Foghorn invited back): reminders resume
        on the severity's cadence, and the card and topic show the stored state."""
        now = self.clock()
        async with self.db.write() as s:
            found = await repo.get_by_channel(s, channel_id)
            inc = await repo.lock_incident(s, found.id) if found else None
            if inc is None or inc.channel_lost is None:
                return None
            await repo.update_incident(s, inc.id, channel_lost=None)
            await entry_rows.add_entry(s, inc.id, "channel_back", now, None, "", {})
            due = (None if inc.is_resolved else plan.next_update(
                self.playbook.severity(inc.severity), inc.last_update_at, now))
            if due is not None:
                await reminder_rows.set_reminder(s, inc.id, plan.UPDATE, max(due, now))
        self.reminders_changed()
        inc = replace(inc, channel_lost=None)
        log.info("%s: its channel is usable again", inc.label)
        await self.reminding.refresh_card(inc)
        return inc
