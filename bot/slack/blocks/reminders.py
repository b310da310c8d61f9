"""Update and postmortem reminders, with their buttons."""

from __future__ import annotations

from datetime import timedelta

from bot.durations import format_duration
from bot.incidents.model import Incident
from bot.slack.blocks.common import (
    POSTMORTEM_BUILD,
    POSTMORTEM_DONE,
    REMINDER_UPDATE,
    SNOOZE_MINUTES,
    Blocks,
    PresenterBase,
    _section,
    snooze_action_id,
)


class Reminders(PresenterBase):
    # ----- reminders ---
    def update_reminder(self, inc: Incident, since: timedelta) -> tuple[str, Blocks]:
        every = self.playbook.severity(inc.severity).update_every
        who = inc.roles.get("comms") or self.commander_of(inc) or inc.declared_by
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

    def postmortem_reminder(self, inc: Incident) -> tuple[str, Blocks]:
        who = self.commander_of(inc) or inc.declared_by
        when = self.when(inc.resolved_at) if inc.resolved_at else "recently"
        if inc.postmortem_at is None:
            text = (f"Reminder: the postmortem for {inc.label} ({inc.severity}, resolved "
                    f"{when}) is not written yet. <@{who}>, build the draft or mark it done.")
            build = self._button(POSTMORTEM_BUILD, "Build the draft", str(inc.id), "primary")
            done = self._button(POSTMORTEM_DONE, "Mark done", str(inc.id))
        else:
            text = (f"Reminder: the postmortem for {inc.label} ({inc.severity}, resolved "
                    f"{when}) has a draft from {self.when(inc.postmortem_at)} but is not "
                    f"marked done. <@{who}>, finish it, then mark it done.")
            done = self._button(POSTMORTEM_DONE, "Mark done", str(inc.id), "primary")
            build = self._button(POSTMORTEM_BUILD, "Rebuild the draft", str(inc.id))
        return text, [_section(f":memo: {text}"), {
            "type": "actions", "block_id": f"postmortem|{inc.id}",
            "elements": [build, done] if inc.postmortem_at is None else [done, build]}]
