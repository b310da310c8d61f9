"""Channel-name rules: `incident-YYYYMMDD-<slug>`, at most 80 characters, Slack's alphabet only."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

MAX_CHANNEL_NAME = 80
PREFIX = "incident"

_OTHER = re.compile(r"[^a-z0-9]+")
# Letters that Unicode decomposition does not reduce to ASCII.
_EXTRA_FOLDS = str.maketrans({"ß": "ss", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d",
                              "ð": "d", "þ": "th", "ı": "i", "ħ": "h"})
_VALID = re.compile(r"^[a-z0-9_-]{1,80}$")


def slugify(title: str) -> str:
    """Lowercase ASCII slug: accents folded, every run of other characters one `-`, trimmed."""
    lowered = title.lower().translate(_EXTRA_FOLDS)
    folded = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode("ascii")
    return _OTHER.sub("-", folded).strip("-")


def _cut(slug: str, limit: int) -> str:
    """Cut a slug to `limit` characters at a word (`-`) boundary where there is one."""
    if len(slug) <= limit:
        return slug
    head = slug[: limit + 1]
    cut = head.rfind("-")
    return (slug[:cut] if cut > 0 else slug[:limit]).strip("-")


def channel_name(title: str, day: date, fallback: str, attempt: int = 1) -> str:
    """The channel name for an incident declared on `day`.

    `fallback` is used when the title yields no usable characters (all emoji, say);
    `attempt` > 1 adds the `-2`, `-3`… suffix used after `name_taken`.
    """
    base = f"{PREFIX}-{day:%Y%m%d}-"
    suffix = f"-{attempt}" if attempt > 1 else ""
    slug = slugify(title) or slugify(fallback)
    slug = _cut(slug, MAX_CHANNEL_NAME - len(base) - len(suffix)) or slugify(fallback)
    return f"{base}{slug}{suffix}"


def is_valid_channel_name(name: str) -> bool:
    return bool(_VALID.match(name))
