"""Incident types: what one kind of incident (an outage, a security breach, a payment failure)
adds to the general flow: its own checklists (the runbook's steps, by phase), roles, who to
tell and escalate to, links, and the runbook's commands to copy.

A type refers to severities, statuses and roles by id; `check_types` validates every
reference with the path of the field, as the rest of the playbook is validated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import Field

from bot.playbooks.parts import (
    Checklist,
    EscalationStep,
    Link,
    Role,
    Strict,
    check_notify,
    normalize_key,
    unique,
)


class RunbookCommand(Strict):
    """A snippet from the runbook (shell, SQL...), shown as a code block to copy."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    title: str = Field(min_length=1, max_length=100)
    language: str = Field(default="", pattern=r"^[a-z0-9]{0,12}$")
    code: str = Field(min_length=1, max_length=2500)


class IncidentType(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,19}$")
    name: str = Field(min_length=1, max_length=40)
    description: str = Field(default="", max_length=150)
    aliases: tuple[str, ...] = ()
    # Words in a title that suggest this type (suggested, never chosen for the person).
    keywords: tuple[str, ...] = ()
    default: bool = False  # the type of an incident declared without one
    default_severity: str | None = None
    private: bool = False  # declares of this type get a private channel unless told otherwise
    roles: tuple[Role, ...] = Field(default=(), max_length=5)  # added to the general roles
    checklists: tuple[Checklist, ...] = ()
    notify: tuple[str, ...] = ()  # told at declare, on top of the severity's
    escalation: tuple[EscalationStep, ...] = ()  # on top of the severity's...
    replace_escalation: bool = False  # ...or instead of it
    links: tuple[Link, ...] = ()
    commands: tuple[RunbookCommand, ...] = Field(default=(), max_length=20)

    def match_keys(self) -> set[str]:
        return {normalize_key(k) for k in (self.id, self.name, *self.aliases)}

    def command(self, command_id: str) -> RunbookCommand | None:
        return next((c for c in self.commands if c.id == command_id), None)


def check_types(types: tuple[IncidentType, ...], *, roles: Iterable[Role],
                checklists: Iterable[Checklist], statuses: set[str],
                severities: set[str]) -> None:
    """Raise ValueError naming the first bad reference, e.g. `types[2].checklists[0].when`."""
    if not types:
        return
    defaults = [t.id for t in types if t.default]
    if len(defaults) != 1:
        raise ValueError("types: exactly one type must have `default: true` (found "
                         f"{len(defaults)}: {', '.join(defaults) or 'none'})")
    unique("types", [(t.id, t.match_keys()) for t in types])
    role_ids = {r.id: "roles" for r in roles}
    checklist_ids = {c.id: "checklists" for c in checklists}
    for i, t in enumerate(types):
        where = f"types[{i}]"
        if t.default_severity is not None and t.default_severity not in severities:
            raise ValueError(f"{where}.default_severity: unknown severity "
                             f"{t.default_severity!r}")
        try:
            check_notify(t.notify)
        except ValueError as exc:
            raise ValueError(f"{where}.notify: {exc}") from None
        for j, role in enumerate(t.roles):
            if role.commands:
                raise ValueError(f"{where}.roles[{j}]: a type's role cannot command the "
                                 "incident (the playbook's commanding role does)")
            if role.id in role_ids:
                raise ValueError(f"{where}.roles[{j}].id: {role.id!r} is already a role "
                                 f"(in {role_ids[role.id]})")
            role_ids[role.id] = f"{where}.roles"
        commands = {c.id for c in t.commands}
        for j, cl in enumerate(t.checklists):
            at = f"{where}.checklists[{j}]"
            if cl.id in checklist_ids:
                raise ValueError(f"{at}.id: {cl.id!r} is already a checklist (in "
                                 f"{checklist_ids[cl.id]})")
            checklist_ids[cl.id] = f"{where}.checklists"
            if cl.when not in statuses | {"declare", "demand"}:
                raise ValueError(f"{at}.when: {cl.when!r} is not `declare`, `demand` or a "
                                 f"status ({', '.join(sorted(statuses))})")
            if cl.owner is not None and cl.owner not in {r.id for r in roles} | {
                    r.id for r in t.roles}:
                raise ValueError(f"{at}.owner: {cl.owner!r} is not a role id")
            for sev in cl.severities:
                if sev not in severities:
                    raise ValueError(f"{at}.severities: unknown severity {sev!r}")
            for k, item in enumerate(cl.items):
                if item.command is not None and item.command not in commands:
                    raise ValueError(f"{at}.items[{k}].command: {item.command!r} is not one "
                                     f"of this type's commands")
        for j, link in enumerate(t.links):
            for sev in link.severities:
                if sev not in severities:
                    raise ValueError(f"{where}.links[{j}].severities: unknown severity "
                                     f"{sev!r}")
        steps = [s.after for s in t.escalation]
        if steps != sorted(steps):
            raise ValueError(f"{where}.escalation: steps must be in order of `after`")
        type_roles = {r.id for r in roles} | {r.id for r in t.roles}
        for j, step in enumerate(t.escalation):
            for k, target in enumerate(step.notify):
                if target.startswith("role:") and target[5:] not in type_roles:
                    raise ValueError(f"{where}.escalation[{j}].notify[{k}]: {target[5:]!r} "
                                     "is not a role of this type or of the playbook")
        unique(f"{where}.commands", [(c.id, {c.id}) for c in t.commands])


_WORD = re.compile(r"[a-z0-9]+")


def suggest(types: tuple[IncidentType, ...], title: str) -> IncidentType | None:
    """The type whose keywords a title uses most (ties: the first in the playbook); None
    when no keyword appears. Keywords match whole words, or a word's start ("login" in
    "logins")."""
    words = _WORD.findall(title.lower())
    best, score = None, 0
    for t in types:
        hits = sum(any(w.startswith(k.lower()) for w in words) for k in t.keywords)
        if hits > score:
            best, score = t, hits
    return best
