"""Block Kit and message text builders: pure functions of domain objects.

Everything a person reads comes from here. User text is stored plain and escaped on the way
out (`text.escape`), so nothing typed into a title, update or summary becomes a live mention.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.durations import format_duration
from bot.incidents import stats
from bot.incidents.model import TEXT_LIMIT, TITLE_LIMIT, Incident, TimelineEntry, clip
from bot.incidents.postmortem import Style, describe
from bot.playbooks import Checklist, EscalationStep, Playbook, target_kind
from bot.slack.text import escape, escape_within, mention, truncate

Blocks = list[dict[str, Any]]

HEADER_LIMIT = 150
OPTION_TEXT = 75  # an option's text and description
TOPIC_LIMIT = 250  # conversations.setTopic
SECTION_LIMIT = 3000
MESSAGE_BLOCKS = 50
TIMELINE_ENTRY_LIMIT = 500

# action_id / callback_id constants shared with the listeners.
ROLE_TAKE = "role_take"
ROLE_PICK = "role_pick"
DECLARE_MODAL = "declare_modal"
DECLARE_BUTTON = "declare_open_modal"
REMINDER_UPDATE = "reminder_post_update"
REMINDER_SNOOZE = "reminder_snooze"  # each button's action_id: snooze_action_id(minutes)
UPDATE_MODAL = "update_modal"
POSTMORTEM_BUILD = "postmortem_build"
POSTMORTEM_DONE = "postmortem_done"
SNOOZE_MINUTES = (30, 60)
CHECKLIST_TICK = "checklist_tick"
RESOLVE_CONFIRM = "resolve_confirm"
CHECKBOXES_PER_ELEMENT = 10  # Block Kit's limit for one checkboxes element
HOME_INCIDENTS = 40  # open incidents with their own blocks on the App Home (2 blocks each)
HOME_MINE = 20  # lines under "Your incidents"
HOME_RESOLVED = 5


def snooze_action_id(minutes: int) -> str:
    """One action_id per snooze button: Slack refuses two equal action_ids in one block."""
    return f"{REMINDER_SNOOZE}_{minutes}"


SNOOZE_ACTION = re.compile(rf"^{REMINDER_SNOOZE}_\d+$")


def checklist_block_id(incident_id: int, checklist_id: str, chunk: int) -> str:
    return f"cl|{incident_id}|{checklist_id}|{chunk}"


def parse_checklist_block_id(block_id: str) -> tuple[int, str] | None:
    parts = block_id.split("|")
    if len(parts) != 4 or parts[0] != "cl" or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def role_block_id(incident_id: int, role_id: str) -> str:
    return f"role|{incident_id}|{role_id}"


def parse_role_block_id(block_id: str) -> tuple[int, str] | None:
    parts = block_id.split("|")
    if len(parts) != 3 or parts[0] != "role" or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def _plain(text: str, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": emoji}


def _md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": _md(truncate(text, SECTION_LIMIT)), **extra}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_md(truncate(text, SECTION_LIMIT))]}


def _fit_links(links: list[str]) -> str:
    """`Links: a · b · …` within one text object, never cutting a link in half."""
    text = "Links: "
    for n, link in enumerate(links):
        more = f" · …and {len(links) - n} more in the playbook"
        if len(text) + len(link) + 3 + len(more) > SECTION_LIMIT:
            return text.rstrip(" ·") + more
        text += link + " · "
    return text.rstrip(" ·")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Fill a playbook template; values are already mrkdwn-safe."""
    return string.Formatter().vformat(template, (), dict(values))


@dataclass(frozen=True)
class Presenter:
    playbook: Playbook
    tz: ZoneInfo

    # ----- small pieces -------------------------------------------------------------------
    def when(self, at: datetime) -> str:
        """Date and time in the configured zone: `2026-11-23 14:05 UTC`."""
        local = at.astimezone(self.tz)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"

    def severity_label(self, sev_id: str) -> str:
        sev = self.playbook.severity(sev_id)
        return f"{sev.id} ({sev.name})"

    def status_label(self, status_id: str) -> str:
        st = self.playbook.status(status_id)
        return f"{st.emoji} {st.name}".strip()

    def channel_link(self, inc: Incident) -> str:
        return f"<#{inc.channel_id}>" if inc.channel_id else "_(channel being created)_"

    def next_update(self, inc: Incident) -> str:
        every = self.playbook.severity(inc.severity).update_every
        if every is None or inc.is_resolved:
            return "none scheduled"
        return f"{self.when(inc.last_update_at + every)} (every {format_duration(every)})"

    def _values(self, inc: Incident) -> dict[str, str]:
        sev = self.playbook.severity(inc.severity)
        return {
            "incident_id": inc.label,
            "severity": sev.id,
            "severity_name": escape(sev.name),
            # Clipped again here: incidents stored before the limits existed can be longer.
            "title": escape(clip(inc.title, TITLE_LIMIT)),
            "description": escape(clip(inc.description, TEXT_LIMIT)) or "_to be assessed_",
            "status": self.status_label(inc.status),
            "channel": self.channel_link(inc),
            "declared_by": mention(inc.declared_by),
            "commander": mention(inc.commander, "_unassigned_"),
        }

    # ----- messages -----------------------------------------------------------------------
    def announcement(self, inc: Incident) -> str:
        return fill(self.playbook.templates.announcement, self._values(inc))

    def status_update(self, inc: Incident, message: str, author: str) -> str:
        values = self._values(inc) | {
            "message": escape(message),
            "author": mention(author),
            "next_update": self.next_update(inc),
        }
        return fill(self.playbook.templates.status_update, values)

    def resolution(self, inc: Incident) -> str:
        assert inc.resolved_at is not None
        sev = self.playbook.severity(inc.severity)
        values = self._values(inc) | {
            "duration": format_duration(inc.resolved_at - inc.declared_at),
            "summary": escape(inc.summary or "") or "_none given_",
            "resolved_by": mention(inc.resolved_by),
            "postmortem": "required for this severity" if sev.postmortem_required
            else "not required",
        }
        return fill(self.playbook.templates.resolution, values)

    def topic(self, inc: Incident) -> str:
        """The channel topic: escaped like every other surface (a title's `<!here>` stays
        text), and within the topic's 250 characters."""
        ic = f"<@{inc.commander}>" if inc.commander else "unassigned"
        head = (f"{inc.severity} · {escape(self.playbook.status(inc.status).name)} · "
                f"IC: {ic} · {inc.label} ")
        return head + escape_within(inc.title, TOPIC_LIMIT - len(head))

    def role_change(self, inc: Incident, role_id: str, user: str, previous: str | None,
                    by: str) -> str:
        role = self.playbook.role(role_id)
        name = role.name if role else role_id
        if previous:
            return (f":arrows_counterclockwise: <@{user}> takes over as *{name}* from "
                    f"<@{previous}> (set by <@{by}>).")
        who = "" if by == user else f" (assigned by <@{by}>)"
        return f":bust_in_silhouette: <@{user}> is now the *{name}*{who}."

    def role_brief(self, inc: Incident, role_id: str) -> str:
        role = self.playbook.role(role_id)
        if role is None:
            return f"You now hold the {role_id} role for {inc.label}."
        lines = [f"You are now the *{role.name}* for {inc.label}: {escape(inc.title)}"]
        if role.summary:
            lines.append(f"_{escape(role.summary)}_")
        lines += [f"• {escape(r)}" for r in role.responsibilities]
        return "\n".join(lines)

    def severity_change(self, inc: Incident, old: str, by: str) -> str:
        """Announce a severity change; `inc` already carries the new severity."""
        up = self.playbook.severity_rank(inc.severity) < self.playbook.severity_rank(old)
        arrow = ":arrow_up:" if up else ":arrow_down:"
        return (f"{arrow} Severity changed from *{self.severity_label(old)}* to "
                f"*{self.severity_label(inc.severity)}* by <@{by}>. "
                f"Next update due: {self.next_update(inc)}")

    # ----- the incident card --------------------------------------------------------------
    def card(self, inc: Incident) -> tuple[str, Blocks]:
        sev = self.playbook.severity(inc.severity)
        head = f"{inc.label} · {inc.title}"
        blocks: Blocks = [{"type": "header", "text": _plain(truncate(head, HEADER_LIMIT))}]
        if len(head) > HEADER_LIMIT:
            blocks.append(_section(f"*Title:* {escape(inc.title)}"))
        fields = [
            _md(f"*Severity*\n{sev.id} ({escape(sev.name)})"),
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
        links = self.playbook.links_for(inc.severity)
        if links:
            blocks.append(_context(" · ".join(
                f"<{k.url}|{escape(k.title)}>" for k in links)))
        blocks.append({"type": "divider"})
        if inc.is_resolved:
            blocks.append({"type": "section", "fields": [
                _md(f"*{escape(r.name)}*\n{mention(inc.roles.get(r.id), '_nobody_')}")
                for r in self.playbook.roles
            ][:10]})
        else:
            for r in self.playbook.roles:
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
        text = f"{inc.label} {sev.id} {self.playbook.status(inc.status).name}: {inc.title}"
        return escape(truncate(text, 300)), blocks

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
                    short = f"<{item.link}|open link>"
                    if len(short) <= OPTION_TEXT:
                        option["description"] = _md(short)
                    else:
                        long_links.append(f"<{item.link}|{escape_within(item.text, 60)}>")
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
        done = len([i for i in ticked if i < len(cl.items)])
        blocks.append(_context(f"{done} of {len(cl.items)} done · every tick is recorded in the "
                               "timeline"))
        return f"{cl.title} ({inc.label}): {done} of {len(cl.items)} done", blocks

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

    # ----- reminders ----------------------------------------------------------------------
    def _button(self, action_id: str, label: str, value: str, style: str | None = None
                ) -> dict[str, Any]:
        button = {"type": "button", "action_id": action_id, "text": _plain(label),
                  "value": value}
        if style:
            button["style"] = style
        return button

    def update_reminder(self, inc: Incident, since: timedelta) -> tuple[str, Blocks]:
        every = self.playbook.severity(inc.severity).update_every
        who = inc.roles.get("comms") or inc.commander or inc.declared_by
        cadence = f" ({inc.severity} updates are due every {format_duration(every)})" \
            if every else ""
        text = (f"Reminder: it has been {format_duration(since)} since the last update on "
                f"{inc.label}{cadence}. <@{who}>, please post an update.")
        snoozes = [self._button(snooze_action_id(m),
                                f"Snooze {format_duration(timedelta(minutes=m))}",
                                f"{inc.id}|{m}") for m in SNOOZE_MINUTES]
        return text, [_section(f":alarm_clock: {text}"), {
            "type": "actions", "block_id": f"reminder|{inc.id}",
            "elements": [self._button(REMINDER_UPDATE, "Post update", str(inc.id), "primary"),
                         *snoozes]}]

    def commander_nudge(self, inc: Incident, waited: timedelta) -> str:
        sev = self.playbook.severity(inc.severity)
        return (f":wave: Nobody has taken the Incident Commander role on {inc.label} after "
                f"{format_duration(waited)} (the {sev.id} response time is "
                f"{format_duration(sev.response_time)}). <@{inc.declared_by}>, take it on the "
                "card, or assign someone with `/incident role ic @person`.")

    def escalation(self, inc: Incident, step: EscalationStep, waited: timedelta) -> str:
        targets = ", ".join(self.target(t) for t in step.notify)
        note = f" {escape(step.note)}" if step.note else ""
        return (f":rotating_light: Escalation: {inc.label} ({inc.severity}) is still open after "
                f"{format_duration(waited)}. Notifying {targets}.{note}")

    def declared_notice(self, inc: Incident) -> str:
        return (f":rotating_light: {inc.label} {inc.severity} declared: "
                f"\u201c{escape(truncate(inc.title, 200))}\u201d in {self.channel_link(inc)}")

    def escalation_notice(self, inc: Incident, step: EscalationStep, waited: timedelta) -> str:
        note = f"\n{escape(step.note)}" if step.note else ""
        return (f":rotating_light: *Escalation:* {inc.label} {inc.severity} "
                f"\u201c{escape(truncate(inc.title, 200))}\u201d is still open after "
                f"{format_duration(waited)}: {self.channel_link(inc)}{note}")

    def channel_lost(self, inc: Incident, error: str) -> str:
        why = {"is_archived": "it was archived",
               "not_in_channel": "Foghorn was removed from it"}.get(error, "it is gone")
        return (f":warning: {inc.label} {inc.severity} \u201c{escape(truncate(inc.title, 200))}"
                f"\u201d is still open, but Foghorn can no longer post in "
                f"{self.channel_link(inc)}: {why}. Update reminders are paused; escalations "
                "go on. Unarchive the channel, or invite Foghorn back with `/invite "
                "@Foghorn`, and everything resumes.")

    @staticmethod
    def target(t: str) -> str:
        kind = target_kind(t)
        ref = t.lstrip("@#")
        if kind == "user":
            return f"<@{ref}>"
        if kind == "usergroup":
            return f"<!subteam^{ref}>"
        return f"<#{ref}>" if not t.startswith("#") else t

    def postmortem_reminder(self, inc: Incident) -> tuple[str, Blocks]:
        who = inc.commander or inc.declared_by
        when = self.when(inc.resolved_at) if inc.resolved_at else "recently"
        text = (f"Reminder: the postmortem for {inc.label} ({inc.severity}, resolved {when}) "
                f"is not written yet. <@{who}>, build the draft or mark it done.")
        return text, [_section(f":memo: {text}"), {
            "type": "actions", "block_id": f"postmortem|{inc.id}",
            "elements": [self._button(POSTMORTEM_BUILD, "Build the draft", str(inc.id),
                                      "primary"),
                         self._button(POSTMORTEM_DONE, "Mark done", str(inc.id))]}]

    def update_modal(self, inc: Incident) -> dict[str, Any]:
        options = [{"text": _plain(s.name), "value": s.id} for s in self.playbook.open_statuses]
        initial = next((o for o in options if o["value"] == inc.status), options[0])
        return {
            "type": "modal", "callback_id": UPDATE_MODAL,
            "private_metadata": json.dumps({"channel": inc.channel_id}),
            "title": _plain("Post an update"), "submit": _plain("Post"),
            "close": _plain("Cancel"),
            "blocks": [
                _context(f"{inc.label}: {escape(truncate(inc.title, 200))}"),
                {"type": "input", "block_id": "status", "label": _plain("Status"),
                 "element": {"type": "static_select", "action_id": "value",
                             "options": options, "initial_option": initial}},
                {"type": "input", "block_id": "message", "label": _plain("What we know"),
                 "element": {"type": "plain_text_input", "action_id": "value",
                             "multiline": True, "max_length": TEXT_LIMIT}},
            ],
        }

    # ----- the timeline -------------------------------------------------------------------
    def timeline(self, inc: Incident, entries: list[TimelineEntry], total: int
                 ) -> tuple[str, Blocks]:
        """The newest entries, oldest first, in sections that stay inside Block Kit's limits."""
        style = Style(person=lambda u: f"<@{u}>" if u else "Foghorn",
                      link=lambda name, url: f"<{url}|{escape(name).replace('|', '¦')}>",
                      text=escape)
        older = total - len(entries)
        head = f"*Timeline of {inc.label}: {escape(truncate(inc.title, 200))}*"
        head += (f"\nThe newest {len(entries)} of {total} entries; {older} older ones are in "
                 "`/incident postmortem`." if older else f"\n{total} entries.")
        lines = []
        for e in entries:
            who = f"<@{e.actor}>" if e.actor else "Foghorn"
            text = truncate(describe(e, self.playbook, style), TIMELINE_ENTRY_LIMIT)
            line = f"`{self.when(e.occurred_at)}` {who}: {text}"
            lines.append(f":pushpin: *{line}*" if e.key_event else line)
        blocks: Blocks = [_section(head)]
        chunk = ""
        for line in lines or ["_Nothing recorded yet._"]:
            if chunk and len(chunk) + len(line) + 1 > SECTION_LIMIT:
                blocks.append(_section(chunk))
                chunk = ""
            chunk = f"{chunk}\n{line}" if chunk else line
        blocks.append(_section(chunk))
        return f"Timeline of {inc.label}", blocks[:MESSAGE_BLOCKS]

    # ----- lists and help -----------------------------------------------------------------
    def incident_list(self, incidents: list[Incident], now: datetime, limit: int = 50) -> str:
        if not incidents:
            return ":white_check_mark: No open incidents."
        ordered = sorted(incidents, key=lambda i: (self.playbook.severity_rank(i.severity),
                                                   i.declared_at))
        lines = [f"*Open incidents ({len(ordered)})*"]
        for inc in ordered[:limit]:
            lines.append(
                f"• {self._headline(inc)}"
                f" · {self.playbook.status(inc.status).name}"
                f" · {format_duration(now - inc.declared_at)} old"
                f" · IC: {mention(inc.commander)}"
            )
        if len(ordered) > limit:
            lines.append(f"_…and {len(ordered) - limit} more._")
        return "\n".join(lines)

    def stats(self, st: stats.Stats) -> tuple[str, Blocks]:
        days = (st.until - st.since).days
        head = (f"Incident metrics, last {days} days "
                f"({st.since.astimezone(self.tz):%Y-%m-%d} to {self.when(st.until)})")
        lines = [f"*{label}:* {value}" for label, value in stats.rows(st, self.playbook)]
        return head, [
            {"type": "header", "text": _plain(truncate(head, HEADER_LIMIT))},
            _section("\n".join(lines)),
            _context("Periods: `/incident stats 7d`, `30d` or `90d`. MTTA: declared to first "
                     "Incident Commander; MTTR: declared to resolved; p90: 9 in 10 were "
                     "faster. Counts incidents declared in the period."),
        ]

    def help(self) -> str:
        sevs = ", ".join(f"`{s.id}`" for s in self.playbook.severities)
        roles = ", ".join(f"`{r.id}` ({escape(r.name)})" for r in self.playbook.roles)
        statuses = ", ".join(f"`{s.id}`" for s in self.playbook.open_statuses)
        return "\n".join([
            "*Foghorn: `/incident` commands*",
            "• `/incident declare [SEV] <title>`: declare an incident, e.g. "
            "`/incident declare sev1 Checkout API returning 500s` (no title opens a form)",
            "• `/incident role <role> @person`: assign a role, e.g. `/incident role ic @alice` "
            "(or `me`)",
            "• `/incident severity <SEV>`: change the severity, e.g. `/incident severity sev2`",
            "• `/incident update <status> <message>`: post a status update, e.g. "
            "`/incident update identified Bad deploy, rolling back`",
            "• `/incident resolve [summary]`: resolve, e.g. "
            "`/incident resolve Rolled back to v1.42`",
            "• `/incident note <text>`: add a note to the timeline, e.g. "
            "`/incident note Decided to fail over to eu-west-2`",
            "• `/incident timeline`: the newest 50 timeline entries (only you see them)",
            "• `/incident postmortem`: build the postmortem draft and upload it to the channel",
            "• `/incident checklist [id]`: post one of the playbook's checklists, or list them",
            "• `/incident list`: open incidents",
            "• `/incident stats [7d|30d|90d]`: MTTA, MTTR, update cadence and postmortems "
            "(only you see them)",
            "• `/incident help`: this list",
            f"Severities: {sevs}. Roles: {roles}. Statuses: {statuses}.",
            "Everything but `declare`, `list`, `stats` and `help` works inside an incident "
            "channel. Every message there goes into the timeline; react with :pushpin: or pin "
            "a message to make it a key event.",
        ])

    # ----- modal --------------------------------------------------------------------------
    def declare_modal(self, origin_channel: str | None, severity_id: str | None = None,
                      title: str = "") -> dict[str, Any]:
        default = self.playbook.severity(severity_id or self.playbook.default_severity.id)
        options = [
            {"text": _plain(truncate(f"{s.id} · {s.name}", 75)), "value": s.id,
             "description": _plain(truncate(s.description or s.name, 75))}
            for s in self.playbook.severities
        ]
        initial = next(o for o in options if o["value"] == default.id)
        title_input: dict[str, Any] = {"type": "plain_text_input", "action_id": "value",
                                       "max_length": TITLE_LIMIT,
                                       "placeholder": _plain("Checkout API returning 500s")}
        if title:
            title_input["initial_value"] = title[:TITLE_LIMIT]
        return {
            "type": "modal",
            "callback_id": DECLARE_MODAL,
            "private_metadata": json.dumps({"origin": origin_channel}),
            "title": _plain("Declare an incident"),
            "submit": _plain("Declare"),
            "close": _plain("Cancel"),
            "blocks": [
                {"type": "input", "block_id": "title", "label": _plain("Title"),
                 "element": title_input},
                {"type": "input", "block_id": "severity", "label": _plain("Severity"),
                 "element": {"type": "static_select", "action_id": "value",
                             "options": options, "initial_option": initial}},
                {"type": "input", "block_id": "description", "optional": True,
                 "label": _plain("Impact"),
                 "element": {"type": "plain_text_input", "action_id": "value",
                             "multiline": True, "max_length": TEXT_LIMIT,
                             "placeholder": _plain("Who is affected and how?")}},
                {"type": "input", "block_id": "private", "optional": True,
                 "label": _plain("Visibility"),
                 "element": {"type": "checkboxes", "action_id": "value", "options": [
                     {"text": _plain("Private incident (private channel, not announced)"),
                      "value": "private"}]}},
            ],
        }

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
                f" old · IC: {mention(inc.commander, '_unassigned_')} · last update "
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

    def _headline(self, inc: Incident) -> str:
        """`*SEV1* #channel Title`: an incident in a list."""
        return (f"*{inc.severity}* {self.channel_link(inc)} "
                f"{escape(truncate(inc.title, 120))}")

    def _role_name(self, role_id: str) -> str:
        role = self.playbook.role(role_id)
        return escape(role.name) if role else role_id
