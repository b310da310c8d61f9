"""The incident card: what it shows, and a row per role with Take and a picker."""

from __future__ import annotations

from typing import Any

from bot.durations import format_duration
from bot.incidents.model import Incident
from bot.slack.blocks.common import (
    HEADER_LIMIT,
    ROLE_PICK,
    ROLE_TAKE,
    Blocks,
    PresenterBase,
    _context,
    _md,
    _plain,
    _section,
    role_block_id,
)
from bot.slack.text import escape, link, mention, truncate


class Card(PresenterBase):
    # ----- the incident card --------------------------------------------------------------
    def card(self, inc: Incident) -> tuple[str, Blocks]:
        sev = self.playbook.severity(inc.severity)
        head = f"{inc.label} · {inc.title}"
        blocks: Blocks = [{"type": "header", "text": _plain(truncate(head, HEADER_LIMIT))}]
        if len(head) > HEADER_LIMIT:
            blocks.append(_section(f"*Title:* {escape(inc.title)}"))
        kind = self.playbook.incident_type(inc.type)
        fields = [
            _md(f"*Severity*\n{sev.id} ({escape(sev.name)})"),
            *([_md(f"*Type*\n{escape(kind.name)}")] if kind else []),
            _md(f"*Status*\n{self.status_label(inc.status)}"),
            _md(f"*Declared by*\n<@{inc.declared_by}>"),
            _md(f"*Declared*\n{self.when(inc.declared_at)}"),
        ]
        if inc.resolved_at is not None:
            fields.append(_md(f"*Resolved*\n{self.when(inc.resolved_at)} "
                              f"({format_duration(inc.resolved_at - inc.declared_at)})"))
        blocks.append({"type": "section", "fields": fields})
        if inc.description:
            blocks.append(_section(f"*Impact:* {escape(inc.description)}"))
        if inc.summary:
            blocks.append(_section(f"*Resolution:* {escape(inc.summary)}"))
        links = self.playbook.links_for(inc.severity, inc.type)
        if links:
            blocks.append(_context(" · ".join(
                link(k.url, escape(k.title)) for k in links)))
        blocks.append({"type": "divider"})
        if inc.is_resolved:
            blocks.append({"type": "section", "fields": [
                _md(f"*{escape(r.name)}*\n{mention(inc.roles.get(r.id), '_nobody_')}")
                for r in self.playbook.roles_for(inc.type)
            ][:10]})
        else:
            for r in self.playbook.roles_for(inc.type):
                holder = inc.roles.get(r.id)
                blocks.append(_section(f"*{escape(r.name)}*: {mention(holder)}"))
                picker: dict[str, Any] = {
                    "type": "users_select",
                    "action_id": ROLE_PICK,
                    "placeholder": _plain(truncate(f"Assign {r.name}…", 150)),
                }
                if holder:
                    picker["initial_user"] = holder
                blocks.append({
                    "type": "actions",
                    "block_id": role_block_id(inc.id, r.id),
                    "elements": [
                        {"type": "button", "action_id": ROLE_TAKE,
                         "text": _plain(truncate(f"Take {r.name}", 75)),
                         "value": f"{inc.id}|{r.id}"},
                        picker,
                    ],
                })
        footer = f"{inc.label} · last update {self.when(inc.last_update_at)}"
        if not inc.is_resolved:
            footer += f" · next update due {self.next_update(inc)}"
        blocks.append(_context(footer))
        kind_name = f" {kind.name}" if kind else ""
        text = (f"{inc.label} {sev.id}{kind_name} {self.playbook.status(inc.status).name}: "
                f"{inc.title}")
        return escape(truncate(text, 300)), blocks
