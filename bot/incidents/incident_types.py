"""Incident types: what happens when an incident's type changes, and the runbook on demand.

Changing the type: the change and its timeline entry are stored together with the new type's
escalation path (steps still to come); then the card shows the type and its roles, the
type's notices go out, and its checklists for the incident's phase so far (at declare, and
the current status) are posted, each once (`post_checklists` is keyed by checklist). A type
that is private by default is not applied to a public channel without saying so: Slack
cannot make a public channel private.
"""

from __future__ import annotations

from dataclasses import replace

from bot.incidents import reminders as plan
from bot.incidents.base import ServiceBase
from bot.incidents.errors import UserError
from bot.incidents.events import Kind
from bot.incidents.model import Incident
from bot.playbooks import IncidentType
from bot.store import entry_rows, reminder_rows, repo


class IncidentTypes(ServiceBase):
    def type_of(self, type_id: str) -> IncidentType:
        found = self.playbook.incident_type(type_id)
        if found is None:
            raise UserError(f"That type is not in the playbook. Types: {self.type_names()}.")
        return found

    def type_names(self) -> str:
        return ", ".join(f"`{t.id}` ({t.name})" for t in self.playbook.types) or "none"

    async def change_type(self, channel_id: str, type_id: str, by: str, *,
                          keep_public: bool = False) -> Incident:
        inc = self.require_open(await self.in_channel(channel_id, "type"))
        self._require_allowed(inc, "type", by)
        new = self.type_of(type_id)
        if inc.type == new.id:
            raise UserError(f"{inc.label} is already of type {new.name}.")
        if new.private and not inc.is_private and not keep_public:
            raise UserError(
                f"{new.name} incidents are private, but {inc.label}'s channel is public and "
                "Slack cannot make a public channel private. Either declare a private "
                f"follow-up and move the work there: `/incident declare --type {new.id} "
                f"<title>` (private by default), or keep this channel public: `/incident "
                f"type {new.id} --public`.")
        now = self.clock()
        async with self.db.write() as s:
            current = self.require_open(await repo.lock_incident(s, inc.id))
            if current.type == new.id:
                raise UserError(f"{inc.label} is already of type {new.name}.")
            old = self.playbook.type_name(current.type) or "none"
            await repo.update_incident(s, inc.id, type=new.id)
            await entry_rows.add_entry(s, inc.id, "type_changed", now, by, f"{old} → {new.name}",
                                       {"from": current.type, "to": new.id})
            # The new type's escalation path, for the steps still to come.
            await reminder_rows.cancel_reminders(s, inc.id, (plan.ESCALATION,))
            sev = self.playbook.severity_for(current.severity, new.id)
            for i, step in enumerate(sev.escalation):
                if current.declared_at + step.after > now:
                    await reminder_rows.add_reminder(s, inc.id, plan.ESCALATION,
                                                     current.declared_at + step.after, i)
            event = self.record(s, inc, Kind.TYPE_CHANGED, {
                "old": current.type, "new": new.id, "by": by}, now)
        self.reminders_changed()
        await self.react(event)
        return replace(current, type=new.id)

    async def post_runbook(self, inc: Incident, kind: IncidentType) -> None:
        await self.channels.post_runbook(inc, kind)

    async def runbook(self, channel_id: str | None, type_id: str) -> tuple[Incident | None,
                                                                            IncidentType]:
        """The type to show (`type_id`, or the incident's own in its channel) and the
        incident whose channel it is posted in (None: shown to the asker only)."""
        async with self.db.read() as s:
            inc = await repo.get_by_channel(s, channel_id) if channel_id else None
        if type_id:
            return inc, self.type_of(type_id)
        if inc is None:
            raise UserError(f"Name a type, e.g. `/incident runbook security`, or ask in an "
                            f"incident channel. Types: {self.type_names()}.")
        if inc.type is None or self.playbook.incident_type(inc.type) is None:
            raise UserError(f"{inc.label} has no type. Set one with `/incident type <type>`; "
                            f"types: {self.type_names()}.")
        return inc, self.type_of(inc.type)
