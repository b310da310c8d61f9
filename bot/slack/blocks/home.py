"""The App Home."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.durations import format_duration
from bot.incidents.model import Incident
from bot.slack.blocks.common import (
    DECLARE_BUTTON,
    HOME_INCIDENTS,
    HOME_MINE,
    Blocks,
    PresenterBase,
    _context,
    _plain,
    _section,
)
from bot.slack.text import mention


class Home(PresenterBase):
    def home(self, viewer: str, incidents: list[Incident], resolved: list[Incident],
             now: datetime) -> dict[str, Any]:
        """The App Home: the viewer's incidents, every open one (most severe first), the
        last resolved ones. At most HOME_INCIDENTS open incidents get a block pair, so the
        view stays within Block Kit's 100 blocks however many are open."""
        ordered = sorted(incidents, key=lambda i: (self.playbook.severity_rank(i.severity),
                                                   i.declared_at))
        mine = [i for i in ordered if viewer in i.roles.values()]
        view: Blocks = [
            {"type": "header", "text": _plain("Foghorn: incidents")},
            {"type": "actions", "elements": [
                {"type": "button", "action_id": DECLARE_BUTTON, "style": "danger",
                 "text": _plain("Declare incident")}]},
            _section("*Your incidents*\n" + ("\n".join(
                f"• {self._headline(i)}: you are "
                + " and ".join(self._role_name(r) for r, u in i.roles.items() if u == viewer)
                for i in mine[:HOME_MINE]) if mine else "_You hold no role in an open "
                                                        "incident._")),
            {"type": "divider"},
            {"type": "header", "text": _plain(f"Open incidents ({len(ordered)})")},
        ]
        if not ordered:
            view.append(_section(":white_check_mark: No open incidents."))
        for inc in ordered[:HOME_INCIDENTS]:
            view.append(_section(self._headline(inc)))
            view.append(_context(
                f"{self.status_label(inc.status)} · {format_duration(now - inc.declared_at)}"
                f" old · {self.commander_label}: "
                f"{mention(self.commander_of(inc), '_unassigned_')} · last update "
                f"{format_duration(now - inc.last_update_at)} ago"))
        if len(ordered) > HOME_INCIDENTS:
            view.append(_section(f"_…and {len(ordered) - HOME_INCIDENTS} more: "
                                 "`/incident list` shows them all._"))
        view.append({"type": "divider"})
        view.append({"type": "header", "text": _plain("Recently resolved")})
        view.append(_section("\n".join(
            f"• {self._headline(i)} · resolved "
            f"{format_duration(now - i.resolved_at)} ago after "
            f"{format_duration(i.resolved_at - i.declared_at)}"
            for i in resolved if i.resolved_at) or "_Nothing resolved yet._"))
        view.append(_context(f"Updated {self.when(now)}. Private incidents are shown only "
                             "to the people involved in them."))
        return {"type": "home", "blocks": view}
