"""Checklists as checkboxes (within Block Kit's option limits), and the resolve question."""

from __future__ import annotations

from typing import Any

from bot.incidents.model import Incident
from bot.playbooks import Checklist
from bot.slack.blocks.common import (
    CHECKBOXES_PER_ELEMENT,
    CHECKLIST_TICK,
    OPTION_TEXT,
    RESOLVE_CONFIRM,
    SEVERITY_CONFIRM,
    Blocks,
    PresenterBase,
    _context,
    _fit_links,
    _md,
    _section,
    checklist_block_id,
)
from bot.slack.text import escape, escape_within, link, truncate


class Checklists(PresenterBase):
    # ----- checklists ---------------------------------------------------------------------
    def checklist(self, inc: Incident, cl: Checklist, ticked: set[int]) -> tuple[str, Blocks]:
        owner = ""
        if cl.owner:
            role = self.playbook.role(cl.owner)
            holder = inc.roles.get(cl.owner)
            name = role.name if role else cl.owner
            owner = f" · for <@{holder}> ({name})" if holder else f" · for the {name}"
        title = f":clipboard: *{escape(cl.title)}* ({inc.label}){owner}"
        blocks: Blocks = [_section(title)]
        long_links: list[str] = []  # links too long for an option's 75 characters
        for chunk in range(0, len(cl.items), CHECKBOXES_PER_ELEMENT):
            options = []
            for index, item in enumerate(cl.items[chunk:chunk + CHECKBOXES_PER_ELEMENT], chunk):
                text = escape_within(item.text, OPTION_TEXT)
                option: dict[str, Any] = {"text": _md(text), "value": str(index)}
                if item.link:
                    short = link(item.link, "open link")
                    if len(short) <= OPTION_TEXT:
                        option["description"] = _md(short)
                    else:
                        long_links.append(link(item.link, escape_within(item.text, 60)))
                options.append(option)
            element: dict[str, Any] = {"type": "checkboxes", "action_id": CHECKLIST_TICK,
                                       "options": options}
            chosen = [o for o in options if int(o["value"]) in ticked]
            if chosen:
                element["initial_options"] = chosen
            blocks.append({"type": "actions", "elements": [element],
                           "block_id": checklist_block_id(inc.id, cl.id,
                                                          chunk // CHECKBOXES_PER_ELEMENT)})
        if long_links:
            blocks.append(_context(_fit_links(long_links)))
        blocks += self.checklist_commands(cl)  # a type's runbook commands, to copy
        done = len([i for i in ticked if i < len(cl.items)])
        blocks.append(_context(f"{done} of {len(cl.items)} done · every tick is recorded in the "
                               "timeline"))
        return f"{cl.title} ({inc.label}): {done} of {len(cl.items)} done", blocks

    def confirm_severity(self, old: str, new: str, confirmation_id: int
                         ) -> tuple[str, Blocks]:
        text = (f"Change the severity from *{self.severity_label(old)}* to "
                f"*{self.severity_label(new)}*? That is a big step; one more click, please.")
        return text, [
            _section(f":warning: {text}"),
            {"type": "actions", "elements": [self._button(
                SEVERITY_CONFIRM, f"Change to {new}", str(confirmation_id), "danger")]},
        ]

    def confirm_resolve(self, open_items: list[str], confirmation_id: int
                        ) -> tuple[str, Blocks]:
        """The button carries only the stored question's id: the summary stays server-side,
        whatever its length or script."""
        listed = "\n".join(f"• {escape(truncate(item, 200))}" for item in open_items[:30])
        text = f"These checklist items are still open:\n{listed}"
        return text + "\nResolve anyway?", [
            _section(f":warning: {text}"),
            {"type": "actions", "elements": [self._button(
                RESOLVE_CONFIRM, "Resolve anyway", str(confirmation_id), "danger")]},
        ]
