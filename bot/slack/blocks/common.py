"""What every Block Kit builder shares: limits, action ids, block ids, small builders, and
the base of the Presenter (the playbook, the time zone, small pieces)."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.durations import format_duration
from bot.incidents.model import TEXT_LIMIT, TITLE_LIMIT, Incident, clip
from bot.playbooks import Checklist, Playbook, target_kind
from bot.slack.text import escape, mention, truncate

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
SEVERITY_CONFIRM = "severity_confirm"
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
class PresenterBase:
    """The playbook and time zone every builder reads, and the small pieces they share."""

    playbook: Playbook
    tz: ZoneInfo

    if TYPE_CHECKING:  # provided by the other parts of Presenter (blocks/__init__.py)
        def checklist_commands(self, cl: Checklist) -> Blocks: ...

    # ----- small pieces -------------------------------------------------------------------
    def when(self, at: datetime) -> str:
        """Date and time in the configured zone: `2026-11-23 14:05 UTC`."""
        local = at.astimezone(self.tz)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"

    def commander_of(self, inc: Incident) -> str | None:
        return self.playbook.commander_of(inc.roles)

    @property
    def commander_label(self) -> str:
        """The commanding role, short: `IC` for "Incident Commander"."""
        return self.playbook.commander.short_name

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
            "commander": mention(self.commander_of(inc), "_unassigned_"),
            "type": escape(self.playbook.type_name(inc.type)) or "_none_",
        }

    def _button(self, action_id: str, label: str, value: str, style: str | None = None
                ) -> dict[str, Any]:
        button = {"type": "button", "action_id": action_id, "text": _plain(label),
                  "value": value}
        if style:
            button["style"] = style
        return button

    @staticmethod
    def target(t: str) -> str:
        kind = target_kind(t)
        ref = t.lstrip("@#")
        if kind == "user":
            return f"<@{ref}>"
        if kind == "usergroup":
            return f"<!subteam^{ref}>"
        if kind in ("pagerduty", "opsgenie"):
            return f"{kind.title().replace('duty', 'Duty')} {t.partition(':')[2]}"
        if kind == "role":
            return f"the {t[5:]}"
        return f"<#{ref}>" if not t.startswith("#") else t

    def _headline(self, inc: Incident) -> str:
        """`*SEV1* #channel Title`: an incident in a list."""
        kind = self.playbook.incident_type(inc.type)
        shown = f" _{escape(kind.name)}_" if kind and not kind.default else ""
        return (f"*{inc.severity}*{shown} {self.channel_link(inc)} "
                f"{escape(truncate(inc.title, 120))}")

    def _role_name(self, role_id: str) -> str:
        role = self.playbook.role(role_id)
        return escape(role.name) if role else role_id
