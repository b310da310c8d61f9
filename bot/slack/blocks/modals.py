"""The update form and the declare form."""

from __future__ import annotations

import json
from typing import Any

from bot.incidents.model import TEXT_LIMIT, TITLE_LIMIT, Incident
from bot.slack.blocks.common import DECLARE_MODAL, UPDATE_MODAL, PresenterBase, _context, _plain
from bot.slack.text import escape, truncate


class Modals(PresenterBase):
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

    # ----- declare form ---
    def declare_modal(self, origin_channel: str | None, severity_id: str | None = None,
                      title: str = "", *, type_id: str | None = None) -> dict[str, Any]:
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
                *self._type_input(type_id, title),
                {"type": "input", "block_id": "description", "optional": True,
                 "label": _plain("Impact"),
                 "element": {"type": "plain_text_input", "action_id": "value",
                             "multiline": True, "max_length": TEXT_LIMIT,
                             "placeholder": _plain("Who is affected and how?")}},
                {"type": "input", "block_id": "detected", "optional": True,
                 "label": _plain("Detected at"),
                 "hint": _plain("When it was first noticed, if before now: MTTD counts from "
                                "here."),
                 "element": {"type": "datetimepicker", "action_id": "value"}},
                {"type": "input", "block_id": "private", "optional": True,
                 "label": _plain("Visibility"),
                 "element": {"type": "checkboxes", "action_id": "value", "options": [
                     {"text": _plain("Private incident (private channel, not announced)"),
                      "value": "private"},
                     *([{"text": _plain("Public, even for a type that is private"),
                         "value": "public"}] if any(t.private for t in self.playbook.types)
                       else [])]}},
            ],
        }

    def _type_input(self, type_id: str | None, title: str) -> list[dict[str, Any]]:
        """The type select (with each type's description), on the type asked for, else on
        the one the title suggests, else the default: a suggestion the person sees and can
        change, never a choice made behind their back."""
        if not self.playbook.types:
            return []
        options = [{"text": _plain(truncate(t.name + (" (private)" if t.private else ""), 75)),
                    "value": t.id,
                    "description": _plain(truncate(t.description or t.name, 75))}
                   for t in self.playbook.types]
        chosen = (self.playbook.incident_type(type_id)
                  or (self.playbook.suggest_type(title) if title else None)
                  or self.playbook.default_type)
        initial = next(o for o in options if chosen and o["value"] == chosen.id)
        return [{"type": "input", "block_id": "type", "label": _plain("Type"),
                 "hint": _plain("Its checklists, roles and runbook join the incident. "
                                "Some types are private by default."),
                 "element": {"type": "static_select", "action_id": "value",
                             "options": options[:100], "initial_option": initial}}]
