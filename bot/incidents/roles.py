"""Roles: taking, assigning and handing over, and telling a racing click who won."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.incidents import reminders as plan
from bot.incidents.base import ANYONE, ServiceBase
from bot.incidents.errors import UserError
from bot.incidents.events import Kind
from bot.incidents.model import Incident
from bot.store import entry_rows, reminder_rows, repo

log = logging.getLogger(__name__)


class Roles(ServiceBase):
    async def assign_role(self, incident_id: int, role_id: str, user: str, by: str, *,
                          seen: str | object | None = ANYONE) -> Incident:
        """Give the role to `user`. `seen`: who held it on the card where the click was made
        (None: nobody); if someone else took it meanwhile, the click was a race, not a
        handover, and the person is told who holds it now."""
        role = self.playbook.role(role_id)
        if role is None:
            raise UserError(f"Unknown role `{role_id}`. Roles: {self.role_names()}.")
        now = self.clock()
        async with self.db.write() as s:
            inc = self.require_open(await repo.lock_incident(s, incident_id))
            if user != by:  # taking a role yourself is always allowed
                self._require_allowed(inc, "role", by)
            holder = inc.roles.get(role.id)
            if holder == user:
                raise UserError(f"<@{user}> is already the {role.name} for {inc.label}.")
            if seen is not ANYONE and holder != seen:
                raise UserError(f"<@{holder}> took the {role.name} role for {inc.label} a "
                                "moment ago. To take it over, click again or use "
                                f"`/incident role {role.id} me`.")
            previous = await repo.set_role(s, inc.id, role.id, user, by, now)
            if role.id == self.playbook.commander.id:
                await reminder_rows.cancel_reminders(s, inc.id, (plan.IC_NUDGE,))
            await entry_rows.add_entry(
                s, inc.id, "role_assigned", now, by, f"{role.name}: <@{user}>",
                {"role": role.id, "user": user, "previous": previous},
            )
            event = self.record(s, inc, Kind.ROLE_CHANGED, {
                "role": role.id, "user": user, "previous": previous, "by": by}, now)
            inc = replace(inc, roles={**inc.roles, role.id: user})
        await self.react(event)
        return inc
