"""Message texts: announcements, updates, resolution, topic, role and severity changes,
nudges and escalations, lists and help."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.durations import format_duration
from bot.incidents.model import Incident
from bot.playbooks import EscalationStep
from bot.slack.blocks.common import TOPIC_LIMIT, PresenterBase, fill
from bot.slack.text import escape, escape_within, mention, truncate


class Messages(PresenterBase):
    # ----- messages -----------------------------------------------------------------------
    def announcement(self, inc: Incident) -> str:
        return fill(self.playbook.templates.announcement, self._values(inc))

    def made_private(self, inc: Incident) -> str:
        return (f":lock: {inc.label} was made private; its details are kept in its own "
                "channel.")

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
        holder = self.commander_of(inc)
        ic = f"<@{holder}>" if holder else "unassigned"
        head = (f"{inc.severity} · {escape(self.playbook.status(inc.status).name)} · "
                f"{self.commander_label}: {ic} · {inc.label} ")
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

    def commander_nudge(self, inc: Incident, waited: timedelta, *,
                        declared_by_bot: bool = False) -> str:
        """Addressed to the declarer; for an incident an alert declared (Foghorn itself is
        the declarer), to whoever is in the channel."""
        sev = self.playbook.severity(inc.severity)
        role = self.playbook.commander
        who = "<!here>: someone" if declared_by_bot else f"<@{inc.declared_by}>,"
        return (f":wave: Nobody has taken the {role.name} role on {inc.label} after "
                f"{format_duration(waited)} (the {sev.id} response time is "
                f"{format_duration(sev.response_time)}). {who} take it on the "
                f"card, or assign someone with `/incident role {role.id} @person`.")

    def escalation(self, inc: Incident, step: EscalationStep, waited: timedelta) -> str:
        """Says whom the escalation reached, and what it held back and why: a private
        incident's escalation never claims to have told a channel it did not."""
        reached, unheld, private_held = [], [], []
        for t in step.notify:
            if t.startswith("role:"):
                holder = inc.roles.get(t[5:])
                role = self.playbook.role(t[5:])
                name = role.name if role else t[5:]
                if holder:
                    reached.append(f"the {name} (<@{holder}>)")
                else:
                    unheld.append(name)
            elif self.playbook.reaches(t, private=inc.is_private):
                reached.append(self.target(t))
            else:
                private_held.append(self.target(t))
        note = f" {escape(step.note)}" if step.note else ""
        told = (f"Notifying {', '.join(reached)}." if reached
                else "Nobody outside this channel was notified.")
        held = ""
        if private_held:
            held += (f" Not told, as this incident is private: {', '.join(private_held)} (a "
                     "channel hears of private incidents only when the playbook lists it in "
                     "`private_channels`).")
        if unheld:
            held += f" Nobody holds {' or '.join(unheld)} yet."
        return (f":rotating_light: Escalation: {inc.label} ({inc.severity}) is still open after "
                f"{format_duration(waited)}. {told}{held}{note}")

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

    # ----- lists and help -----------------------------------------------------------------
    def incident_list(self, incidents: list[Incident], now: datetime, limit: int = 50, *,
                      of_type: str = "") -> str:
        kind = f" of type {escape(self.playbook.type_name(of_type))}" if of_type else ""
        if not incidents:
            return f":white_check_mark: No open incidents{kind}."
        ordered = sorted(incidents, key=lambda i: (self.playbook.severity_rank(i.severity),
                                                   i.declared_at))
        lines = [f"*Open incidents{kind} ({len(ordered)})*"]
        for inc in ordered[:limit]:
            lines.append(
                f"• {self._headline(inc)}"
                f" · {self.playbook.status(inc.status).name}"
                f" · {format_duration(now - inc.declared_at)} old"
                f" · {self.commander_label}: {mention(self.commander_of(inc))}"
            )
        if len(ordered) > limit:
            lines.append(f"_…and {len(ordered) - limit} more._")
        return "\n".join(lines)

    def help(self) -> str:
        sevs = ", ".join(f"`{s.id}`" for s in self.playbook.severities)
        roles = ", ".join(f"`{r.id}` ({escape(r.name)})" for r in self.playbook.roles)
        statuses = ", ".join(f"`{s.id}`" for s in self.playbook.open_statuses)
        types = ", ".join(f"`{t.id}`" for t in self.playbook.types)
        return "\n".join([
            "*Foghorn: `/incident` commands*",
            "• `/incident declare [SEV] [type:] <title>`: declare an incident, e.g. "
            "`/incident declare sev1 Checkout API returning 500s` or `/incident declare sev1 "
            "security: Suspicious admin logins` (no title opens a form; `--private`, "
            "`--public`, `--type <type>`)",
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
            "• `/incident postmortem`: build the postmortem draft and upload it to the channel; "
            "`/incident postmortem done` once the postmortem is written",
            "• `/incident checklist [id]`: post one of the playbook's checklists, or list them",
            "• `/incident list [type]`: open incidents (of one type)",
            "• `/incident type <type>`: change the incident's type (its checklists and roles "
            "join)",
            "• `/incident runbook [type]`: post a type's steps and commands in the channel",
            "• `/incident page <pagerduty:service | opsgenie:team> [message]`: page on-call",
            "• `/incident stats [7d|30d|90d]`: MTTA, MTTR, update cadence and postmortems "
            "(only you see them)",
            "• `/incident help`: this list",
            f"Severities: {sevs} (also typed `SEV 1`, `sev-1`, `S1`, `P0`, `P 0`, or a name "
            f"such as `critical`). Roles: {roles} (ids or names, e.g. `Incident Commander`). "
            f"Statuses: {statuses}." + (f" Types: {types}." if types else ""),
            "Everything but `declare`, `list`, `stats` and `help` works inside an incident "
            "channel. Every message there goes into the timeline; react with :pushpin: or pin "
            "a message to make it a key event.",
        ])
