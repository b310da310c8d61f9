"""Severity changes, status updates and resolving (with the checklist gate and its stored
question)."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.incidents import reminders as plan
from bot.incidents.base import ServiceBase
from bot.incidents.errors import NeedsConfirmation, SeverityNeedsConfirmation, UserError
from bot.incidents.events import Kind
from bot.incidents.model import RESOLVED, TEXT_LIMIT, Incident, clip
from bot.store import confirmations, entry_rows, reminder_rows, repo

log = logging.getLogger(__name__)


class Updates(ServiceBase):
    async def change_severity(self, channel_id: str, severity_text: str, by: str, *,
                              confirmed: bool = False) -> Incident:
        severity = self.playbook.find_severity(severity_text)
        if severity is None:
            raise UserError(f"Unknown severity `{severity_text}`. Use one of: "
                            f"{self.severity_names()}.")
        inc = self.require_open(await self.in_channel(channel_id, "severity"))
        self._require_allowed(inc, "severity", by)
        if inc.severity == severity.id:
            raise UserError(f"{inc.label} is already {severity.id}.")
        if not confirmed and self._big_change(inc.severity, severity.id):
            async with self.db.write() as s:
                asked = await confirmations.ask(s, inc.id, "severity", by,
                                                {"to": severity.id}, self.clock())
            raise SeverityNeedsConfirmation(inc.id, inc.severity, severity.id, asked)
        now = self.clock()
        async with self.db.write() as s:
            current = self.require_open(await repo.lock_incident(s, inc.id))
            await repo.update_incident(s, inc.id, severity=severity.id)
            await entry_rows.add_entry(s, inc.id, "severity_changed", now, by,
                                       f"{current.severity} → {severity.id}",
                                       {"from": current.severity, "to": severity.id})
            await reminder_rows.cancel_reminders(s, inc.id, (plan.UPDATE, plan.IC_NUDGE,
                                                             plan.ESCALATION))
            for p in plan.on_severity_change(self.playbook.severity_for(severity.id,
                                                                         current.type),
                                             current.declared_at,
                                             current.last_update_at, now,
                                             has_commander=self.commander_of(current) is not None):
                await reminder_rows.add_reminder(s, inc.id, p.kind, p.due_at, p.step)
            event = self.record(s, inc, Kind.SEVERITY_CHANGED, {
                "old": current.severity, "new": severity.id, "by": by}, now)
        self.reminders_changed()
        await self.react(event)
        return replace(current, severity=severity.id)

    def _big_change(self, old: str, new: str) -> bool:
        """Lowering by two levels or more at once, or lowering the top severity: worth one
        more click (unless the playbook says `confirm_severity_changes: false`). Raising a
        severity never waits: in an outage, more urgency must cost nothing."""
        if not self.playbook.confirm_severity_changes:
            return False
        rank_old, rank_new = (self.playbook.severity_rank(old),
                              self.playbook.severity_rank(new))
        return rank_new - rank_old >= 2 or (rank_old == 0 and rank_new > 0)

    async def severity_confirmed(self, channel_id: str, confirmation_id: int, by: str
                                 ) -> Incident:
        """"Change severity" clicked: make the change that was asked about."""
        payload = await self._answered(channel_id, confirmation_id, by, "severity")
        return await self.change_severity(channel_id, str(payload["to"]), by, confirmed=True)

    async def _answered(self, channel_id: str, confirmation_id: int, by: str, kind: str
                        ) -> dict[str, object]:
        """The stored question a click answers, taken (once): it must be about the incident
        of the channel clicked in, of this kind, and asked of this person."""
        inc = await self.acting_in(channel_id, by)
        async with self.db.write() as s:
            asked = await confirmations.take(s, confirmation_id, incident_id=inc.id,
                                             kind=kind, asked_by=by)
        if asked is None:
            self.require_open(inc)  # resolved meanwhile: say so
            raise UserError("That question has expired, or was asked of someone else. Ask "
                            "again with the command.")
        return dict(asked.payload)

    async def post_update(self, channel_id: str, status_text: str, message: str, by: str
                          ) -> Incident:
        status = self.playbook.find_status(status_text)
        if status is None or status.id == RESOLVED:
            hint = " To resolve, use `/incident resolve [summary]`." if status else ""
            raise UserError(f"Unknown status `{status_text}`. Use one of: "
                            f"{self.status_names()}.{hint}")
        message = clip(message.strip(), TEXT_LIMIT)
        if not message:
            raise UserError("Add what you know, e.g. `/incident update identified Bad deploy, "
                            "rolling back`.")
        inc = self.require_open(await self.in_channel(channel_id, "update"))
        self._require_allowed(inc, "update", by)
        now = self.clock()
        async with self.db.write() as s:
            current = self.require_open(await repo.lock_incident(s, inc.id))
            await repo.update_incident(s, inc.id, status=status.id, last_update_at=now)
            await entry_rows.add_entry(s, inc.id, "status_update", now, by, message,
                                       {"status": status.id, "previous_status": current.status})
            due = plan.next_update(self.playbook.severity(current.severity), now, now)
            if due is None:
                await reminder_rows.cancel_reminders(s, inc.id, (plan.UPDATE,))
            else:
                await reminder_rows.set_reminder(s, inc.id, plan.UPDATE, due)
            event = self.record(s, inc, Kind.STATUS_UPDATED, {
                "status": status.id, "previous": current.status, "message": message,
                "by": by}, now)
        self.reminders_changed()
        await self.react(event)
        return replace(current, status=status.id, last_update_at=now)

    async def resolve(self, channel_id: str, summary: str, by: str, *,
                      confirmed: bool = False) -> Incident:
        inc = await self.in_channel(channel_id, "resolve")
        if not confirmed and not inc.is_resolved:
            self._require_allowed(inc, "resolve", by)
            open_items = await self._open_before_resolve(inc)
            if open_items:
                async with self.db.write() as s:
                    asked = await confirmations.ask(s, inc.id, "resolve", by,
                                                    {"summary": summary}, self.clock())
                raise NeedsConfirmation(inc.id, open_items, asked)
        now = self.clock()
        async with self.db.write() as s:
            current = self.require_open(await repo.lock_incident(s, inc.id))
            self._require_allowed(current, "resolve", by)
            await confirmations.forget(s, inc.id)
            summary = clip(summary.strip(), TEXT_LIMIT)
            await repo.update_incident(s, inc.id, status=RESOLVED, resolved_at=now,
                                       resolved_by=by, summary=summary or None,
                                       last_update_at=now)
            await entry_rows.add_entry(s, inc.id, "resolved", now, by, summary,
                                       {"previous_status": current.status})
            await reminder_rows.cancel_reminders(s, inc.id)
            for p in plan.on_resolve(self.playbook.severity(current.severity), now):
                await reminder_rows.add_reminder(s, inc.id, p.kind, p.due_at, p.step)
            # Each reaction to this (the resolution posts, the card, the resolve-phase
            # checklists, remembering the people, resolving the pages) is delivered and
            # retried on its own: Slack failing never keeps a page open.
            event = self.record(s, inc, Kind.RESOLVED, {
                "by": by, "previous_status": current.status}, now)
        self.reminders_changed()
        await self.react(event)
        return replace(current, status=RESOLVED, resolved_at=now, resolved_by=by,
                       summary=summary or None, last_update_at=now)

    async def resolve_confirmed(self, channel_id: str, confirmation_id: int, by: str
                                ) -> Incident:
        """"Resolve anyway" clicked: resolve with the summary that was given when asked."""
        payload = await self._answered(channel_id, confirmation_id, by, "resolve")
        return await self.resolve(channel_id, str(payload.get("summary", "")), by,
                                  confirmed=True)
