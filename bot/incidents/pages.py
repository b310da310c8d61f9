"""Paging on-call from an incident: the targets the playbook names (at declare, at each
escalation step) and `/incident page` on demand. What paging does is in bot.paging."""

from __future__ import annotations

from bot.incidents.base import ServiceBase
from bot.incidents.errors import UserError
from bot.incidents.model import Incident
from bot.playbooks import is_pager


class Pages(ServiceBase):
    async def page_targets(self, inc: Incident, targets: tuple[str, ...], *, key: str,
                           reason: str) -> None:
        for target in targets:
            if is_pager(target):
                await self.pager.page(inc, target, key=key, reason=reason)

    async def page_on_demand(self, channel_id: str, target: str, message: str, by: str
                             ) -> Incident:
        inc = self.require_open(await self.in_channel(channel_id, "page"))
        if not is_pager(target):
            raise UserError(f"`{target}` is not a pager: use `pagerduty:<service>` or "
                            "`opsgenie:<team>`.")
        async with self.db.read() as s:
            from sqlalchemy import func, select

            from bot.store.tables import PageRow

            count = await s.scalar(select(func.count()).select_from(PageRow).where(
                PageRow.incident_id == inc.id))
        reason = message or f"paged from Slack by a responder of {inc.label}"
        await self.pager.page(inc, target, key=f"manual-{(count or 0) + 1}", reason=reason,
                              by=by)
        return inc
