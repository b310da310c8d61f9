"""Incident types on screen: the runbook (a type's steps and commands), the type change, and
a runbook command as a code block."""

from __future__ import annotations

from bot.incidents.model import Incident
from bot.playbooks import Checklist, IncidentType, RunbookCommand
from bot.slack.blocks.common import (
    HEADER_LIMIT,
    MESSAGE_BLOCKS,
    SECTION_LIMIT,
    Blocks,
    PresenterBase,
    _context,
    _plain,
    _section,
)
from bot.slack.text import escape, truncate

FENCE_ROOM = len("*``*\n``````") + 40  # a command's title and fences around its code


class Runbooks(PresenterBase):
    def code_block(self, cmd: RunbookCommand) -> str:
        """A command to copy: its title, then its code fenced (Slack shows no language, so
        the language goes in the title). Clipped, with a note, to fit one section."""
        lang = f" ({cmd.language})" if cmd.language else ""
        code = cmd.code.replace("```", "'''")
        room = SECTION_LIMIT - FENCE_ROOM - len(cmd.title)
        if len(code) > room:
            code = code[:room] + "\n… (cut: see the playbook for the rest)"
        return f"*{escape(cmd.title)}*{lang}\n```{code}```"

    def type_of_checklist(self, cl: Checklist) -> IncidentType | None:
        return next((t for t in self.playbook.types if cl in t.checklists), None)

    def checklist_commands(self, cl: Checklist) -> Blocks:
        """Code blocks for the runbook commands a type's checklist items name."""
        kind = self.type_of_checklist(cl)
        if kind is None:
            return []
        wanted = dict.fromkeys(i.command for i in cl.items if i.command)
        return [_section(self.code_block(cmd)) for c in wanted
                if c and (cmd := kind.command(c)) is not None]

    def runbook(self, kind: IncidentType, inc: Incident | None) -> tuple[str, Blocks]:
        head = f"Runbook: {kind.name}"
        blocks: Blocks = [{"type": "header", "text": _plain(truncate(head, HEADER_LIMIT))}]
        if kind.description:
            blocks.append(_section(escape(kind.description)))
        shown: set[str] = set()
        for cl in kind.checklists:
            when = "on demand" if cl.when == "demand" else (
                "at declare" if cl.when == "declare" else
                f"when {self.playbook.status(cl.when).name.lower()}")
            lines = [f"*{escape(cl.title)}* ({when})"]
            lines += [f"• {escape(item.text)}" for item in cl.items]
            blocks.append(_section(truncate("\n".join(lines), SECTION_LIMIT)))
            for item in cl.items:
                cmd = kind.command(item.command) if item.command else None
                if cmd is not None and cmd.id not in shown:
                    shown.add(cmd.id)
                    blocks.append(_section(self.code_block(cmd)))
        for cmd in kind.commands:
            if cmd.id not in shown:
                blocks.append(_section(self.code_block(cmd)))
        roles = ", ".join(escape(r.name) for r in kind.roles)
        extra = [f"Roles: {roles}" if roles else "",
                 "Private by default" if kind.private else "",
                 f"`/incident type {kind.id}` applies it to an incident" if inc is None or
                 inc.type != kind.id else ""]
        blocks = blocks[:MESSAGE_BLOCKS - 1]
        blocks.append(_context(" · ".join(e for e in extra if e) or kind.name))
        return head, blocks

    def type_changed(self, inc: Incident, old: str | None, by: str) -> str:
        new = self.playbook.incident_type(inc.type)
        name = new.name if new else inc.type
        before = self.playbook.type_name(old) if old else "none"
        roles = ", ".join(r.name for r in (new.roles if new else ()))
        joined = f" {escape(roles)} joined the card." if roles else ""
        return (f":label: <@{by}> changed {inc.label}'s type from *{escape(before)}* to "
                f"*{escape(name or '')}*. Its checklists follow.{joined} "
                f"`/incident runbook` shows its steps and commands.")
