"""Render Slack messages (mrkdwn and Block Kit) as readable terminal text."""

from __future__ import annotations

import re
from typing import Any

from bot.testing.fake_slack import FakeSlack

_LINK = re.compile(r"<([@#!])([^|>]+)(?:\|([^>]*))?>")


def readable(fake: FakeSlack, text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        kind, ref, label = m.group(1), m.group(2), m.group(3)
        if kind == "@":
            return "@" + (fake.users.get(ref, {}).get("name") or label or ref)
        if kind == "#":
            ch = fake.channels.get(ref)
            return "#" + (ch.name if ch else label or ref)
        return "@" + ref
    text = _LINK.sub(sub, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _element(el: dict[str, Any]) -> str:
    if el.get("type") == "button":
        return f"[{el['text']['text']}]"
    if el.get("type") == "users_select":
        return f"[{el.get('placeholder', {}).get('text', 'Pick someone')} ▾]"
    if "text" in el and isinstance(el["text"], str):
        return el["text"]
    return f"[{el.get('type')}]"


def render_blocks(fake: FakeSlack, blocks: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for b in blocks:
        t = b.get("type")
        if t == "header":
            lines.append(f"== {b['text']['text']} ==")
        elif t == "section":
            if b.get("text"):
                lines.append(b["text"]["text"])
            if b.get("fields"):
                lines.append("  |  ".join(f["text"].replace("\n", ": ") for f in b["fields"]))
            if b.get("accessory"):
                lines[-1] += "  " + _element(b["accessory"])
        elif t == "actions" and any(e.get("type") == "checkboxes" for e in b["elements"]):
            for e in b["elements"]:
                chosen = {o["value"] for o in e.get("initial_options", [])}
                lines += [f"   {'☑' if o['value'] in chosen else '☐'} {o['text']['text']}"
                          for o in e.get("options", [])]
        elif t in ("actions", "context"):
            lines.append("   " + " ".join(_element(e) for e in b["elements"]))
        elif t == "divider":
            lines.append("   " + "-" * 40)
    return [readable(fake, line) for line in lines]


def render_message(fake: FakeSlack, text: str, blocks: list[dict[str, Any]]) -> list[str]:
    if blocks:
        return render_blocks(fake, blocks)
    return readable(fake, text).splitlines() or [""]
