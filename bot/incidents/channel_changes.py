"""What people do to an incident's channel in Slack itself, tracked on the incident: a new
name (so `foghorn export` and the Home find it by it), a conversion to private or public
(its privacy follows its channel from then on: announcements, escalations, exports, stats,
the Home), and sharing with another organisation (Slack Connect)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from bot.incidents.base import ServiceBase
from bot.incidents.events import Kind
from bot.incidents.model import Incident
from bot.store import entry_rows, repo

log = logging.getLogger(__name__)


class ChannelChanges(ServiceBase):
    async def channel_changed(self, channel_id: str, *, name: str | None = None,
                              private: bool | None = None, shared: bool | None = None,
                              by: str | None = None) -> Incident | None:
        """Record what changed about an incident's channel (nothing when nothing did, as on
        a second delivery of the same event): the row, a timeline entry and a
        `channel_changed` event, whose reactions redraw the card, topic and Homes."""
        now = self.clock()
        async with self.db.write() as s:
            found = await repo.get_by_channel(s, channel_id)
            inc = await repo.lock_incident(s, found.id) if found else None
            if inc is None:
                return None
            fields: dict[str, Any] = {}
            said: list[str] = []
            if name and name != inc.channel_name:
                fields["channel_name"] = name
                said.append(f"renamed the channel to #{name}")
            if private is not None and private != inc.is_private:
                fields["is_private"] = private
                said.append("made the channel private: the incident is private from now on"
                            if private else "made the channel public: the incident is "
                            "public from now on")
            if shared is not None and shared != inc.is_shared:
                fields["is_shared"] = shared
                said.append("shared the channel with another organisation" if shared
                            else "stopped sharing the channel with another organisation")
            if not fields:
                return None
            await repo.update_incident(s, inc.id, **fields)
            await entry_rows.add_entry(s, inc.id, "channel_changed", now, by, "; ".join(said),
                                       {**fields, "previous": {
                                           "channel_name": inc.channel_name,
                                           "is_private": inc.is_private,
                                           "is_shared": inc.is_shared}})
            recorded = self.record(s, inc, Kind.CHANNEL_CHANGED, {**fields, "by": by}, now)
        log.info("%s: its channel changed (%s)", inc.label, ", ".join(sorted(fields)))
        await self.react(recorded, quiet=True)
        return replace(inc, **fields)
