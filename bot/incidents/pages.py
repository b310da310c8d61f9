"""Paging on-call from an incident: the targets the playbook names (at declare, at each
escalation step) and `/incident page` on demand. What paging does is in bot.paging."""

from __future__ import annotations

import uuid

from bot.incidents.base import ServiceBase
from bot.incidents.errors import UserError
from bot.incidents.model import Incident
from bot.playbooks import is_pager


class Pages(ServiceBase):
    async def page_targets(self, inc: Incident, targets: tuple[str, ...], *, key: str,
                           reason: str) -> None:
        events = [await self.pager.page(inc, target, key=key, reason=reason)
                  for target in targets if is_pager(target)]
        # Sent in the background: a pager that is slow or failing never holds up the
        # declare or the escalation that asked for it.
        self.reactions.soon([e for e in events if e is not None])

    async def page_on_demand(self, channel_id: str, target: str, message: str, by: str
                             ) -> Incident:
        inc = self.require_open(await self.in_channel(channel_id, "page"))
        if not is_pager(target):
            raise UserError(f"`{target}` is not a pager: use `pagerduty:<service>` or "
                            "`opsgenie:<team>`.")
        known = self.pager.targets()
        if target not in known:  # refused before anything is stored or said
            raise UserError(f"`{target}` has no key here. " + (
                "Pagers: " + ", ".join(f"`{t}`" for t in known) + "." if known else
                "Paging is not set up: set PAGERDUTY_KEYS or OPSGENIE_KEYS."))
        reason = message or f"paged from Slack by a responder of {inc.label}"
        # Each page asked for is its own page: a key of its own (counting the pages made so
        # far gave two pages asked for at once the same key, and the second was dropped).
        event = await self.pager.page(inc, target, key=f"manual-{uuid.uuid4().hex[:12]}",
                                      reason=reason, by=by)
        self.reactions.soon([event] if event is not None else [])
        return inc
