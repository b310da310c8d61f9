"""Turning user-typed Slack text into plain text, and plain text back into safe mrkdwn.

Slack delivers user text with `&`, `<`, `>` escaped and with live sequences such as
`<@U123|bob>`, `<!channel>`, `<!subteam^S1|@oncall>` and `<https://x|label>`. Foghorn stores
titles, updates and summaries as plain text in which none of those sequences is live, and
escapes them again whenever they go back into a message: echoing user text never pings anyone
and never hides a link behind a label.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_SEQUENCE = re.compile(r"<([^<>]*)>")
_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def _readable(inner: str) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!subteam^"):
        return label or "@" + target.removeprefix("!subteam^")
    if target.startswith("!"):
        word = target[1:].split("^", 1)[0]
        return label if word == "date" and label else "@" + word
    # A link: show where it really goes.
    return f"{label} ({target})" if label and label != target else target


def to_plain(slack_text: str) -> str:
    """Slack-formatted user text → plain text with no live sequences, entities decoded."""
    text = _SEQUENCE.sub(lambda m: _readable(m.group(1)), slack_text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape(plain: str) -> str:
    """Plain text → mrkdwn that shows the same characters and contains nothing live."""
    return plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A Slack link `<url|label>` to a URL from outside (an alert, a webhook, a playbook):
    only an http or https URL with a host becomes a link, its `&`, `<`, `>` escaped and `|`
    percent-encoded, so that it can never end the link early and smuggle in a mention or a
    hidden link; anything else shows the label alone. `label` is mrkdwn already escaped
    (`escape`)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return label
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(
            ch.isspace() or ord(ch) < 32 for ch in url):
        return label
    safe = escape(url).replace("|", "%7C")
    return f"<{safe}|{label}>"


def obj(value: object) -> dict[str, Any]:
    """A JSON object from a payload, or an empty one when the field is missing or of
    another shape (payloads from outside are never trusted to be well formed)."""
    return value if isinstance(value, dict) else {}


def parse_user_mention(token: str) -> str | None:
    """`<@U123|bob>` or `<@U123>` → `U123`; anything else → None."""
    m = _USER_MENTION.match(token.strip())
    return m.group(1) if m else None


def mention(user_id: str | None, nobody: str = "_unassigned_") -> str:
    return f"<@{user_id}>" if user_id else nobody


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape_within(plain: str, limit: int) -> str:
    """`escape(plain)`, cut so that the *escaped* text fits `limit` characters (escaping
    `&`, `<`, `>` lengthens it) without splitting an entity."""
    escaped = escape(plain)
    if len(escaped) <= limit:
        return escaped
    out = ""
    for ch in plain:
        piece = escape(ch)
        if len(out) + len(piece) > limit - 1:
            break
        out += piece
    return out.rstrip() + "…"
