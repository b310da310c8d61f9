"""The postmortem draft: a Markdown document built from the incident and its timeline.

A pure function of stored state. It fills in what the bot knows (times, severity history, who
held which role, the figures, key events and the full log) and leaves the playbook template's
prompts for the sections only people can write.
"""

from __future__ import annotations

import itertools
import json
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.durations import format_duration
from bot.incidents.model import Incident, TimelineEntry
from bot.playbooks import Playbook


@dataclass(frozen=True)
class Style:
    """How one kind of document writes a person, a link and user-typed text."""

    person: Callable[[str | None], str]
    link: Callable[[str, str], str]
    text: Callable[[str], str]


def describe(e: TimelineEntry, playbook: Playbook, style: Style) -> str:
    """What an entry says, in words (shared by `/incident timeline` and the postmortem)."""
    d = e.data
    if e.deleted:
        return "_(message deleted)_"
    match e.kind:
        case "declared":
            return f"declared the incident as {d.get('severity', '?')}: {style.text(e.text)}"
        case "severity_changed":
            return f"changed the severity from {d.get('from')} to {d.get('to')}"
        case "role_assigned":
            role = playbook.role(str(d.get("role")))
            role_name = role.name if role else str(d.get("role"))
            new = style.person(d.get("user"))
            if d.get("previous"):
                return f"handed {role_name} from {style.person(d['previous'])} to {new}"
            return f"made {new} {role_name}"
        case "status_update":
            status = playbook.status(str(d.get("status"))).name
            return f"status update ({status}): {style.text(e.text)}"
        case "resolved":
            return "resolved the incident" + (f": {style.text(e.text)}" if e.text else "")
        case "note":
            return f"note: {style.text(e.text)}"
        case "postmortem":
            return f"built the postmortem draft ({style.text(e.text)})"
        case "postmortem_done":
            return "marked the postmortem done"
        case "file":
            files = ", ".join(style.link(f["name"], f["permalink"]) for f in d.get("files", []))
            return f"{style.text(e.text)} (shared {files})" if e.text else f"shared {files}"
    edited = " _(edited)_" if e.edited_at else ""
    return f"{style.text(e.text)}{edited}"


@dataclass(frozen=True)
class Figures:
    time_to_commander: timedelta | None
    time_to_first_update: timedelta | None
    time_to_resolve: timedelta | None
    updates: int
    longest_gap: timedelta
    time_to_detect: timedelta | None = None  # detected (the first alert) → declared
    alert_links: list[tuple[str, str]] = field(default_factory=list)


def compute_figures(inc: Incident, entries: list[TimelineEntry], now: datetime,
                    commander_role: str) -> Figures:
    first_ic = next((e.occurred_at for e in entries if e.kind == "role_assigned"
                     and e.data.get("role") == commander_role), None)
    updates = [e.occurred_at for e in entries if e.kind == "status_update"]
    end = inc.resolved_at or now
    points = [inc.declared_at, *updates, end]
    gap = max((b - a for a, b in itertools.pairwise(points)), default=timedelta(0))
    return Figures(
        time_to_commander=first_ic - inc.declared_at if first_ic else None,
        time_to_first_update=updates[0] - inc.declared_at if updates else None,
        time_to_resolve=inc.resolved_at - inc.declared_at if inc.resolved_at else None,
        updates=len(updates),
        longest_gap=gap,
        time_to_detect=(inc.declared_at - inc.detected_at
                        if inc.detected_at and inc.detected_at <= inc.declared_at else None),
        alert_links=list(dict.fromkeys(
            (str(name), str(url)) for e in entries if e.kind == "alert"
            for name, url in e.data.get("links", []))),
    )


class PostmortemWriter:
    def __init__(self, playbook: Playbook, tz: ZoneInfo) -> None:
        self.playbook = playbook
        self.tz = tz

    def when(self, at: datetime) -> str:
        local = at.astimezone(self.tz)
        return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"

    def _name(self, names: Mapping[str, str], user: str | None) -> str:
        if not user:
            return "Foghorn"
        return "@" + names.get(user, user)

    def _style(self, names: Mapping[str, str]) -> Style:
        return Style(person=lambda u: self._name(names, u),
                     link=lambda name, url: f"[{name}]({url})", text=lambda t: t)

    def _line(self, e: TimelineEntry, names: Mapping[str, str]) -> str:
        who = self._name(names, e.actor)
        text = describe(e, self.playbook, self._style(names))
        mark = " 📌" if e.key_event else ""
        reply = "↳ " if e.thread_ts else ""
        body = f"- `{self.when(e.occurred_at)}` {reply}**{who}**{mark}: {text}"
        return body.replace("\n", "\n  ")

    def build(self, inc: Incident, entries: list[TimelineEntry], names: Mapping[str, str],
              now: datetime, checklists: Mapping[str, set[int]] | None = None) -> str:
        sev = self.playbook.severity(inc.severity)
        figures = compute_figures(inc, entries, now, self.playbook.commander.id)
        values = {
            "title": inc.title,
            "incident_id": inc.label,
            "severity": sev.id,
            "severity_name": sev.name,
            "severity_history": self._severity_history(inc, entries, names),
            "status": self.playbook.status(inc.status).name,
            "channel": inc.channel_name or "",
            "started": self.when(inc.declared_at),
            "ended": self.when(inc.resolved_at) if inc.resolved_at else "_still open_",
            "duration": format_duration((inc.resolved_at or now) - inc.declared_at)
            + ("" if inc.resolved_at else " so far"),
            "impact": inc.description or "_Who was affected, how many, for how long?_",
            "summary": inc.summary or "_What fixed it?_",
            "roles": self._roles(inc, entries, names),
            "figures": self._figures(figures),
            "key_events": "\n".join(self._line(e, names) for e in entries if e.key_event)
            or "_None marked. React with :pushpin: or pin a message to mark one._",
            "timeline": "\n".join(self._line(e, names) for e in entries) or "_Empty._",
            "timezone": str(self.tz),
            "generated": self.when(now),
            "checklists": self._checklists(checklists or {}),
            "type": self.playbook.type_name(inc.type) or "none",
        }
        return string.Formatter().vformat(self.playbook.templates.postmortem, (), values)

    def _severity_history(self, inc: Incident, entries: list[TimelineEntry],
                          names: Mapping[str, str]) -> str:
        declared = next((e for e in entries if e.kind == "declared"), None)
        start = declared.data.get("severity", inc.severity) if declared else inc.severity
        steps = [f"{start} at declaration"]
        steps += [f"{e.data.get('to')} at {self.when(e.occurred_at)} "
                  f"(by {self._name(names, e.actor)})"
                  for e in entries if e.kind == "severity_changed"]
        return " → ".join(steps)

    def _roles(self, inc: Incident, entries: list[TimelineEntry],
               names: Mapping[str, str]) -> str:
        lines = []
        for role in self.playbook.roles_for(inc.type):
            held = [e for e in entries
                    if e.kind == "role_assigned" and e.data.get("role") == role.id]
            if not held:
                lines.append(f"- **{role.name}:** _nobody_")
                continue
            chain = ", then ".join(f"{self._name(names, e.data.get('user'))} "
                                   f"(from {self.when(e.occurred_at)})" for e in held)
            lines.append(f"- **{role.name}:** {chain}")
        return "\n".join(lines)

    def _checklists(self, state: Mapping[str, set[int]]) -> str:
        parts = []
        for cl in self.playbook.all_checklists:  # the type's too, and a former type's
            if cl.id not in state:
                continue
            lines = [f"- [{'x' if i in state[cl.id] else ' '}] {item.text}"
                     for i, item in enumerate(cl.items)]
            parts.append(f"**{cl.title}** ({len(state[cl.id])} of {len(cl.items)} done)\n"
                         + "\n".join(lines))
        return "\n\n".join(parts) or "_No checklists were posted._"

    def _figures(self, f: Figures) -> str:
        def show(d: timedelta | None, missing: str) -> str:
            return format_duration(d) if d is not None else missing

        detected = ([f"- **Time to declare (detected → declared):** "
                     f"{format_duration(f.time_to_detect)}"]
                    if f.time_to_detect is not None else [])
        alerts = (["- **Alerts:** " + ", ".join(f"[{name}]({url})"
                                                  for name, url in f.alert_links[:10])]
                  if f.alert_links else [])
        return "\n".join([
            *detected,
            f"- **Time to {self.playbook.commander.name}:** "
            f"{show(f.time_to_commander, 'never assigned')}",
            f"- **Time to first status update:** {show(f.time_to_first_update, 'no updates')}",
            f"- **Time to resolve:** {show(f.time_to_resolve, 'not resolved yet')}",
            f"- **Status updates:** {f.updates}",
            f"- **Longest time without a status update:** {format_duration(f.longest_gap)}",
            *alerts,
        ])


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def timeline_json(inc: Incident, entries: list[TimelineEntry]) -> str:
    """The raw timeline for `foghorn export --format json`."""
    return json.dumps({
        "incident": {
            "id": inc.id, "label": inc.label, "title": inc.title, "severity": inc.severity,
            "status": inc.status, "channel_id": inc.channel_id, "channel_name": inc.channel_name,
            "declared_by": inc.declared_by, "declared_at": inc.declared_at.isoformat(),
            "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None,
            "roles": inc.roles, "summary": inc.summary, "type": inc.type,
            "private": inc.is_private, "shared": inc.is_shared,
            "postmortem_draft_at": _iso(inc.postmortem_at),
            "postmortem_done_at": _iso(inc.postmortem_done_at),
        },
        "entries": [{
            "kind": e.kind, "at": e.occurred_at.isoformat(), "actor": e.actor,
            "text": e.text, "slack_ts": e.slack_ts, "thread_ts": e.thread_ts,
            "key_event": e.key_event, "deleted": e.deleted,
            "edited_at": e.edited_at.isoformat() if e.edited_at else None,
            "data": e.data,
        } for e in entries],
    }, indent=2, ensure_ascii=False)
