"""Slack's Block Kit rules, checked the way Slack checks them, for the fake Slack.

Two layers, because neither alone is as strict as Slack:

1. slack_sdk's own models (`Block.parse(...).to_dict()`, `View(**view).to_dict()`), which
   validate every block, element and composition object they know, recursively. Fields the
   models do not know are reported too: Slack refuses an unknown or misplaced property.
2. The documented rules the models leave out (uniqueness, option limits, per-surface block
   counts...), written once in `RULES` below with the page each comes from.

Problems read as Slack writes them: `... [json-pointer:/blocks/3/elements/1/text]`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

_REF = "https://docs.slack.dev/reference/block-kit"


@dataclass(frozen=True)
class Rule:
    what: str
    limit: int
    source: str


RULES: dict[str, Rule] = {
    "message_blocks": Rule("blocks in one message", 50, f"{_REF}/blocks"),
    "view_blocks": Rule("blocks in one modal or Home tab", 100, f"{_REF}/views"),
    "block_id": Rule("characters in a block_id", 255, f"{_REF}/blocks"),
    "action_id": Rule("characters in an action_id", 255, f"{_REF}/block-elements"),
    "button_text": Rule("characters of button text", 75,
                        f"{_REF}/block-elements/button-element"),
    "button_value": Rule("characters of button value", 2000,
                         f"{_REF}/block-elements/button-element"),
    "option_text": Rule("characters of option text", 75,
                        f"{_REF}/composition-objects/option-object"),
    "option_description": Rule("characters of option description", 75,
                               f"{_REF}/composition-objects/option-object"),
    "option_value": Rule("characters of option value", 150,
                         f"{_REF}/composition-objects/option-object"),
    "checkboxes_options": Rule("options in a checkboxes element", 10,
                               f"{_REF}/block-elements/checkboxes-element"),
    "radio_buttons_options": Rule("options in a radio buttons element", 10,
                                  f"{_REF}/block-elements/radio-button-group-element"),
    "static_select_options": Rule("options in a static select", 100,
                                  f"{_REF}/block-elements/select-menu-element"),
    "overflow_options": Rule("options in an overflow menu", 5,
                             f"{_REF}/block-elements/overflow-menu-element"),
    "placeholder": Rule("characters of a placeholder", 150, f"{_REF}/block-elements"),
    "section_text": Rule("characters of section text", 3000, f"{_REF}/blocks/section-block"),
    "section_field": Rule("characters of one section field", 2000,
                          f"{_REF}/blocks/section-block"),
    "section_fields": Rule("fields in a section", 10, f"{_REF}/blocks/section-block"),
    "header_text": Rule("characters of header text", 150, f"{_REF}/blocks/header-block"),
    "context_elements": Rule("elements in a context block", 10,
                             f"{_REF}/blocks/context-block"),
    "actions_elements": Rule("elements in an actions block", 25,
                             f"{_REF}/blocks/actions-block"),
    "input_label": Rule("characters of an input label", 2000, f"{_REF}/blocks/input-block"),
    "text_input_max_length": Rule("max_length of a plain-text input", 3000,
                                  f"{_REF}/block-elements/plain-text-input-element"),
    "modal_title": Rule("characters of a modal title", 24, f"{_REF}/views"),
    "modal_submit": Rule("characters of a modal submit label", 24, f"{_REF}/views"),
    "modal_close": Rule("characters of a modal close label", 24, f"{_REF}/views"),
    "private_metadata": Rule("characters of private_metadata", 3000, f"{_REF}/views"),
    "callback_id": Rule("characters of a callback_id", 255, f"{_REF}/views"),
    "message_text": Rule("characters of a message's text", 40_000,
                         "https://docs.slack.dev/reference/methods/chat.postMessage"),
    "topic": Rule("characters of a channel topic", 250,
                  "https://docs.slack.dev/reference/methods/conversations.setTopic"),
    "purpose": Rule("characters of a channel purpose", 250,
                    "https://docs.slack.dev/reference/methods/conversations.setPurpose"),
}

# Structural rules (no number), documented on the same pages:
STRUCTURE = (
    ("block_id values are unique within one message or view", f"{_REF}/blocks"),
    ("action_id values are unique within one block", f"{_REF}/block-elements"),
    ("header and button text is plain_text", f"{_REF}/blocks/header-block"),
    ("input blocks appear in modals and Home tabs, not messages",
     f"{_REF}/blocks/input-block"),
    ("initial_options are some of the element's options", f"{_REF}/composition-objects"),
    ("a modal has a title, and a submit button when it has input blocks", f"{_REF}/views"),
    ("no property the Block Kit reference does not define", f"{_REF}"),
)

# How many messages and views the fakes have checked (reported at the end of a test run).
VALIDATED: Counter[str] = Counter()

_OPTION_LIMITS = {"checkboxes": "checkboxes_options", "radio_buttons": "radio_buttons_options",
                  "static_select": "static_select_options",
                  "multi_static_select": "static_select_options",
                  "overflow": "overflow_options"}
_log = logging.getLogger("slack_sdk.models")


class _Problems(list[str]):
    def add(self, message: str, pointer: str) -> None:
        self.append(f"{message} [json-pointer:{pointer}]")

    def unique(self, value: object, seen: set[str], what: str, rule: str, pointer: str
               ) -> None:
        """`value` must not repeat within its scope, and must fit `rule`'s length."""
        if str(value) in seen:
            self.add(f"duplicate {what} `{value}`", pointer)
        seen.add(str(value))
        self.limit(rule, len(str(value)), pointer)

    def limit(self, rule: str, size: int, pointer: str) -> None:
        r = RULES[rule]
        if size > r.limit:
            self.add(f"must be no more than {r.limit} {r.what} (got {size})", pointer)


def message_problems(blocks: Any) -> list[str]:
    """Every rule `blocks` of a message (postMessage, update, ephemeral, response_url)
    breaks; [] when Slack would accept it."""
    VALIDATED["message"] += 1
    out = _Problems()
    if not isinstance(blocks, list):
        out.add("must provide an array", "/blocks")
        return out
    out.limit("message_blocks", len(blocks), "/blocks")
    _check_blocks(blocks, "/blocks", "message", out)
    return out


def view_problems(view: Any) -> list[str]:
    """Every rule a modal or Home `view` breaks; [] when Slack would accept it."""
    VALIDATED["view"] += 1
    out = _Problems()
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        out.add("must be a modal or home view", "/view")
        return out
    kind = view["type"]
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        out.add("must provide an array", "/view/blocks")
        return out
    out.limit("view_blocks", len(blocks), "/view/blocks")
    top = {k: v for k, v in view.items() if k != "blocks"}
    try:
        # The blocks are checked one by one below; the model sees one stand-in block.
        model = View(**top, blocks=[{"type": "divider"}]).to_dict()
    except (SlackObjectFormationError, TypeError) as exc:
        out.add(str(exc), "/view")
    else:
        _unknown(top, model, "/view", out)
    for key in ("title", "submit", "close"):
        text = (view.get(key) or {}).get("text", "") if isinstance(view.get(key), dict) else ""
        out.limit(f"modal_{key}", len(text), f"/view/{key}/text")
    if kind == "modal" and not isinstance(view.get("title"), dict):
        out.add("missing required field: title", "/view")
    if (kind == "modal" and not view.get("submit")
            and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)):
        out.add("a modal with input blocks must have a submit button", "/view/submit")
    out.limit("private_metadata", len(str(view.get("private_metadata") or "")),
              "/view/private_metadata")
    out.limit("callback_id", len(str(view.get("callback_id") or "")), "/view/callback_id")
    _check_blocks(blocks, "/view/blocks", kind, out)
    return out


def _check_blocks(blocks: list[Any], ptr: str, surface: str, out: _Problems) -> None:
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        p = f"{ptr}/{i}"
        if not isinstance(block, dict) or "type" not in block:
            out.add("missing required field: type", p)
            continue
        _model(block, p, out)
        if block.get("block_id") is not None:
            out.unique(block["block_id"], seen_ids, "block_id", "block_id", f"{p}/block_id")
        btype = block["type"]
        if btype == "input" and surface == "message":
            out.add("input blocks are not supported in messages", p)
        if btype == "section":
            out.limit("section_text", len(_text(block.get("text"))), f"{p}/text/text")
            fields = block.get("fields") or []
            out.limit("section_fields", len(fields), f"{p}/fields")
            for j, f in enumerate(fields):
                out.limit("section_field", len(_text(f)), f"{p}/fields/{j}/text")
            if not _text(block.get("text")) and not fields:
                out.add("must provide text or fields", p)
        if btype == "header":
            text = block.get("text")
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                out.add("must be a plain_text object", f"{p}/text")
            out.limit("header_text", len(_text(text)), f"{p}/text/text")
        if btype in ("actions", "context"):
            elements = block.get("elements") or []
            if not elements:
                out.add("must provide at least 1 element", f"{p}/elements")
            out.limit(f"{btype}_elements", len(elements), f"{p}/elements")
        if btype == "input":
            out.limit("input_label", len(_text(block.get("label"))), f"{p}/label/text")
        action_ids: set[str] = set()
        for el, ep in _elements(block, p):
            if el.get("action_id") is not None:
                out.unique(el["action_id"], action_ids, "action_id", "action_id",
                           f"{ep}/action_id")
            _check_element(el, ep, out)


def _elements(block: dict[str, Any], p: str) -> Iterator[tuple[dict[str, Any], str]]:
    for j, el in enumerate(block.get("elements") or []):
        if isinstance(el, dict) and block["type"] != "context":
            yield el, f"{p}/elements/{j}"
    for key in ("accessory", "element"):
        if isinstance(block.get(key), dict):
            yield block[key], f"{p}/{key}"


def _check_element(el: dict[str, Any], p: str, out: _Problems) -> None:
    etype = el.get("type")
    if etype == "button":
        text = el.get("text")
        if not isinstance(text, dict) or text.get("type") != "plain_text":
            out.add("must be a plain_text object", f"{p}/text")
        label = _text(text)
        if not label:
            out.add("must be at least 1 character", f"{p}/text/text")
        out.limit("button_text", len(label), f"{p}/text/text")
        out.limit("button_value", len(str(el.get("value", ""))), f"{p}/value")
    if "placeholder" in el:
        out.limit("placeholder", len(_text(el["placeholder"])), f"{p}/placeholder/text")
    if etype == "plain_text_input" and "max_length" in el:
        out.limit("text_input_max_length", int(el["max_length"]), f"{p}/max_length")
    options = el.get("options")
    if etype in _OPTION_LIMITS and isinstance(options, list):
        out.limit(_OPTION_LIMITS[etype], len(options), f"{p}/options")
        for k, option in enumerate(options):
            _check_option(option, f"{p}/options/{k}", out)
        keys = [(o.get("value"), _text(o.get("text"))) for o in options if isinstance(o, dict)]
        chosen = el.get("initial_options") or ([el["initial_option"]]
                                               if isinstance(el.get("initial_option"), dict)
                                               else [])
        for k, o in enumerate(chosen):
            if (o.get("value"), _text(o.get("text"))) not in keys:
                out.add("initial options must match one of the options",
                        f"{p}/initial_options/{k}")


def _check_option(option: Any, p: str, out: _Problems) -> None:
    if not isinstance(option, dict):
        out.add("must provide an object", p)
        return
    out.limit("option_text", len(_text(option.get("text"))), f"{p}/text/text")
    if "description" in option:
        out.limit("option_description", len(_text(option["description"])),
                  f"{p}/description/text")
    out.limit("option_value", len(str(option.get("value", ""))), f"{p}/value")
    extra = set(option) - {"text", "value", "description", "url"}
    for key in sorted(extra):
        out.add(f"unknown field `{key}`", f"{p}/{key}")


def _model(block: dict[str, Any], p: str, out: _Problems) -> None:
    """slack_sdk's own validation of the block, its elements and composition objects."""
    previous = _log.level
    _log.setLevel(logging.ERROR)  # its own "unknown key" warnings: reported below instead
    try:
        parsed = Block.parse(block)
        model = parsed.to_dict() if parsed is not None else None
    except (SlackObjectFormationError, TypeError, ValueError, KeyError) as exc:
        out.add(str(exc), p)
        return
    finally:
        _log.setLevel(previous)
    if model is None or type(parsed) is Block:
        out.add(f"unsupported block type `{block.get('type')}`", f"{p}/type")
        return
    _unknown(block, model, p, out)


def _unknown(raw: Any, model: Any, p: str, out: _Problems) -> None:
    """Report properties `raw` has that the model dropped as unknown. Options are checked
    by `_check_option` (slack_sdk renders them differently per surface)."""
    if isinstance(raw, dict) and isinstance(model, dict):
        for key, value in raw.items():
            if key in ("options", "initial_options", "initial_option"):
                continue
            if key not in model:
                if value not in (None, [], {}):
                    out.add(f"unknown field `{key}`", f"{p}/{key}")
                continue
            _unknown(value, model[key], f"{p}/{key}", out)
    elif isinstance(raw, list) and isinstance(model, list) and len(raw) == len(model):
        for k, (r, m) in enumerate(zip(raw, model, strict=True)):
            _unknown(r, m, f"{p}/{k}", out)


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return ""
