"""Alerts in Slack: what changed in an incident's alert group, and alerts posted for triage
with Declare incident / Dismiss buttons. Label and annotation values are escaped: an alert
never pings anyone or renders markup it carries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.alerts.payloads import Notification
from bot.incidents.model import Incident
from bot.playbooks import AlertRoute
from bot.slack.blocks import Presenter
from bot.slack.blocks.common import _context, _plain, _section
from bot.slack.gateway import SlackGateway
from bot.slack.text import escape, link, truncate

ALERT_DECLARE = "alert_declare"
ALERT_DISMISS = "alert_dismiss"
ALERTS_MONITOR = "alerts_resolved_monitor"
ALERTS_RESOLVE = "alerts_resolved_resolve"
TRIAGE_EVENT = "foghorn_triage"  # metadata of a triage post
CHANGES_EVENT = "foghorn_alert_changes"  # metadata of a post of alert changes
MONITORING = "monitoring"  # the status the first button moves to, when the playbook has it


class AlertPoster:
    def __init__(self, gateway: SlackGateway, presenter: Presenter, incidents_channel: str
                 ) -> None:
        self.gateway, self.present, self.incidents_channel = (gateway, presenter,
                                                              incidents_channel)

    async def changes_posted(self, inc: Incident, event_id: int, since: datetime) -> bool:
        """Whether a post of alert changes covering this event is in the channel already."""
        if not inc.channel_id:
            return False
        return await self.gateway.posted_since(inc.channel_id, since, lambda meta: (
            meta.get("event_type") == CHANGES_EVENT
            and event_id in ((meta.get("event_payload") or {}).get("events") or [])),
            key=f"changes-{event_id}")

    async def alert_changes(self, inc: Incident, lines: list[str], all_resolved: bool,
                            auto_resolve: bool, *, events: list[int]) -> None:
        """Post what changed, tagged with the events it covers."""
        if not inc.channel_id:
            return
        shown = "\n".join(f"• {escape(truncate(line, 200))}" for line in lines[:20])
        more = f"\n_…and {len(lines) - 20} more._" if len(lines) > 20 else ""
        text = f":rotating_light: Alerts for {inc.label}:\n{shown}{more}" if lines else ""
        blocks: list[dict[str, Any]] = []
        if all_resolved and not auto_resolve and not inc.is_resolved:
            who = self.present.commander_of(inc)
            ask = f"<@{who}>" if who else "Incident Commander"
            text += (f"\n:white_check_mark: Every alert of this group is resolved. {ask}, move "
                     "to monitoring or resolve? Foghorn does not resolve on an alert alone.")
            buttons = [{"type": "button", "action_id": ALERTS_RESOLVE, "style": "primary",
                        "text": _plain("Resolve"), "value": str(inc.id)}]
            if self.present.playbook.find_status(MONITORING) is not None:
                buttons.insert(0, {"type": "button", "action_id": ALERTS_MONITOR,
                                   "text": _plain("Move to monitoring"), "value": str(inc.id)})
            blocks = [_section(truncate(text.strip(), 2900)),
                      {"type": "actions", "block_id": f"alerts-resolved|{inc.id}",
                       "elements": buttons}]
        if text.strip():
            await self.gateway.post(inc.channel_id, text.strip(), blocks or None, metadata={
                "event_type": CHANGES_EVENT, "event_payload": {"events": events}})

    def triage_blocks(self, note: Notification, route: AlertRoute, group_id: int
                      ) -> tuple[str, list[dict[str, Any]]]:
        sev = route.severity_for(note.labels) or self.present.playbook.default_severity.id
        head = f"Alert to triage ({sev}): {note.title}"
        labels = ", ".join(f"`{escape(k)}={escape(truncate(v, 80))}`"
                           for k, v in sorted(note.labels.items())[:15])
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": _plain(truncate(head, 150))},
            _section(truncate(f"*Labels:* {labels}", 2900)),
        ]
        described = note.annotation("description")
        if described:
            blocks.append(_section(truncate(f"*Description:* {escape(described)}", 2900)))
        links = " · ".join(link(url, escape(truncate(name, 60))) for name, url in note.links)
        if links:
            blocks.append(_context(truncate(links, 2900)))
        blocks.append({"type": "actions", "block_id": f"alert|{group_id}", "elements": [
            {"type": "button", "action_id": ALERT_DECLARE, "style": "primary",
             "text": _plain("Declare incident"), "value": str(group_id)},
            {"type": "button", "action_id": ALERT_DISMISS, "text": _plain("Dismiss"),
             "value": str(group_id)}]})
        return escape(truncate(head, 300)), blocks

    async def triage(self, note: Notification, route: AlertRoute, group_id: int, *,
                     event_id: int, since: datetime | None) -> None:
        """Post the alert for triage, tagged with its event; `since` (a retry): first look
        for the post since then, so that an answer lost on the way is not posted twice."""
        text, blocks = self.triage_blocks(note, route, group_id)
        where = (route.channel or self.incidents_channel).lstrip("#")
        meta = {"event_type": TRIAGE_EVENT, "event_payload": {"event_id": event_id}}
        if since is not None and await self.gateway.posted_since(
                await self.gateway.resolve_channel_id(where), since, meta.__eq__,
                key=f"triage-{event_id}"):
            return
        await self.gateway.post_to_channel_ref(where, text, blocks, metadata=meta)
